// The registry: every component type Sonde ships. `sonde components`, the config validator,
// docs/configuration.md and the lifecycle conformance tests all read this one list.
import type { ComponentFactory, ComponentKind } from './component/types.js';
import { batchProcessorFactory } from './processors/batch/factory.js';
import { debugExporterFactory } from './exporters/debug/factory.js';
import { fileExporterFactory } from './exporters/file/factory.js';

export const FACTORIES: readonly ComponentFactory[] = [
  batchProcessorFactory,
  debugExporterFactory,
  fileExporterFactory,
];

export function findFactory(kind: ComponentKind, type: string): ComponentFactory | undefined {
  return FACTORIES.find((f) => f.kind === kind && f.type === type);
}
