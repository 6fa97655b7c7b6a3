import type { ReceiverFactory } from '../../component/types.js';
import { defaultOtlpReceiverConfig, otlpReceiverSchema, type OtlpReceiverConfig } from './config.js';
import { OtlpReceiver } from './otlp-receiver.js';

export const otlpReceiverFactory: ReceiverFactory<OtlpReceiverConfig> = {
  kind: 'receiver',
  type: 'otlp',
  stability: 'beta',
  signals: ['traces', 'metrics'],
  description: 'Receives traces and metrics over OTLP/gRPC (127.0.0.1:4317) and OTLP/HTTP (127.0.0.1:4318), protobuf or JSON.',
  configSchema: otlpReceiverSchema,
  createDefaultConfig: defaultOtlpReceiverConfig,
  create: (settings, config, next) => new OtlpReceiver(settings, config, next),
};
