import type { Consumer } from '../component/types.js';
import { countItems } from '../pdata/count.js';
import type { TelemetryBatch } from '../pdata/types.js';
import type { SelfTelemetry } from '../telemetry/self-telemetry.js';

/**
 * Wraps what a receiver pushes into so every receiver is counted the same way:
 * accepted items, and refused items (downstream said no).
 */
export function countReceiverItems(receiverKey: string, next: Consumer, telemetry: SelfTelemetry): Consumer {
  const accepted = telemetry.receiverAccepted.labels(receiverKey);
  const refused = telemetry.receiverRefused.labels(receiverKey);
  return {
    mutatesData: next.mutatesData,
    async consume(batch: TelemetryBatch): Promise<void> {
      const n = countItems(batch);
      try {
        await next.consume(batch);
        accepted.inc(n);
      } catch (err) {
        refused.inc(n);
        throw err;
      }
    },
  };
}
