// In-process wiring for the OTLP tests: settings, capture consumers, a receiver on free ports.
import type { Consumer, CreateSettings } from '../../src/component/types.js';
import { parseComponentId } from '../../src/component/id.js';
import type { TelemetryBatch } from '../../src/pdata/types.js';
import { createSilentLogger } from '../../src/telemetry/logger.js';
import { SelfTelemetry } from '../../src/telemetry/self-telemetry.js';
import { otlpReceiverFactory } from '../../src/receivers/otlp/factory.js';
import { countReceiverItems } from '../../src/service/receiver-accounting.js';
import type { OtlpReceiver } from '../../src/receivers/otlp/otlp-receiver.js';

/** Exporter `sending_queue` that sends in the caller's consume(): a failure reaches the test at once. */
export const NO_QUEUE = { enabled: false, queue_size: 10, num_consumers: 1, when_full: 'block' as const };
/** Exporter `retry_on_failure` that does not retry: one attempt, its outcome is final. */
export const NO_RETRY = { enabled: false, initial_interval: '10ms', max_interval: '10ms', max_elapsed_time: '1s' };

export function settingsFor(key: string, telemetry = new SelfTelemetry({ processMetrics: false })): CreateSettings {
  return {
    id: parseComponentId(key)!,
    logger: createSilentLogger(),
    telemetry,
    configDir: process.cwd(),
    backpressure: { shouldRefuse: () => false },
  };
}

export class CaptureConsumer implements Consumer {
  readonly mutatesData = false;
  readonly batches: TelemetryBatch[] = [];
  /** Set to make consume() reject. */
  failWith: Error | undefined;
  async consume(batch: TelemetryBatch): Promise<void> {
    if (this.failWith) throw this.failWith;
    this.batches.push(batch);
  }
}

export async function startReceiver(
  next: Partial<Record<'traces' | 'metrics', Consumer>>,
  telemetry: SelfTelemetry,
  maxBody: string | number = '20MiB',
  backpressure: CreateSettings['backpressure'] = { shouldRefuse: () => false },
) {
  const config = otlpReceiverFactory.createDefaultConfig();
  config.protocols.grpc = { enabled: true, endpoint: '127.0.0.1:0', max_recv_msg_size: maxBody };
  config.protocols.http = { enabled: true, endpoint: '127.0.0.1:0', max_request_body_size: maxBody };
  // Counted as the service counts every receiver (accepted / refused around consume()).
  const counted: Partial<Record<'traces' | 'metrics', Consumer>> = {};
  for (const [signal, consumer] of Object.entries(next) as ['traces' | 'metrics', Consumer][]) counted[signal] = countReceiverItems('otlp', consumer, telemetry);
  const receiver = otlpReceiverFactory.create({ ...settingsFor('otlp', telemetry), backpressure }, config, counted) as OtlpReceiver;
  await receiver.start();
  const { grpc, http } = receiver.ports;
  return { receiver, grpcPort: grpc!, httpPort: http! };
}

export async function counterValue(telemetry: SelfTelemetry, name: string, labels: Record<string, string>): Promise<number> {
  const m = telemetry.registry.getSingleMetric(name);
  if (!m) return 0;
  const v = (await m.get()).values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}
