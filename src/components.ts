// The registry: every component type Sonde ships. `sonde components`, the config validator,
// docs/configuration.md and the lifecycle conformance tests all read this one list.
import type { ComponentFactory, ComponentKind } from './component/types.js';
import { batchProcessorFactory } from './processors/batch/factory.js';
import { memoryLimiterProcessorFactory } from './processors/memorylimiter/factory.js';
import { k8sAttributesProcessorFactory } from './processors/k8sattributes/factory.js';
import { resourceDetectionProcessorFactory } from './processors/resourcedetection/factory.js';
import { debugExporterFactory } from './exporters/debug/factory.js';
import { fileExporterFactory } from './exporters/file/factory.js';
import { prometheusExporterFactory } from './exporters/prometheus/factory.js';
import { prometheusRemoteWriteExporterFactory } from './exporters/prometheusremotewrite/factory.js';
import { otlpExporterFactory } from './exporters/otlp/factory.js';
import { otlpHttpExporterFactory } from './exporters/otlphttp/factory.js';
import { otlpReceiverFactory } from './receivers/otlp/factory.js';
import { ebpfReceiverFactory } from './receivers/ebpf/factory.js';

export const FACTORIES: readonly ComponentFactory[] = [
  batchProcessorFactory,
  memoryLimiterProcessorFactory,
  k8sAttributesProcessorFactory,
  resourceDetectionProcessorFactory,
  debugExporterFactory,
  fileExporterFactory,
  prometheusExporterFactory,
  prometheusRemoteWriteExporterFactory,
  otlpExporterFactory,
  otlpHttpExporterFactory,
  otlpReceiverFactory,
  ebpfReceiverFactory,
];

export function findFactory(kind: ComponentKind, type: string): ComponentFactory | undefined {
  return FACTORIES.find((f) => f.kind === kind && f.type === type);
}
