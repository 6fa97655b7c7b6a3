import type { Consumer } from '../component/types.js';
import { cloneBatch } from '../pdata/clone.js';
import type { TelemetryBatch } from '../pdata/types.js';

/**
 * Sends one batch to several consumers. Consumers that only read share the original; each
 * consumer that mutates gets its own copy, except that the last mutating one may take the
 * original when no reader shares it. Resolves once every consumer accepted; rejects with the
 * first error after all have been tried, so one failing exporter does not starve the others.
 */
export function createFanout(consumers: readonly Consumer[]): Consumer {
  if (consumers.length === 1) return consumers[0]!;
  const mutating = consumers.filter((c) => c.mutatesData);
  const readers = consumers.filter((c) => !c.mutatesData);
  return {
    mutatesData: mutating.length > 0,
    async consume(batch: TelemetryBatch): Promise<void> {
      const jobs: Promise<void>[] = [];
      mutating.forEach((c, i) => {
        const own = i === mutating.length - 1 && readers.length === 0 ? batch : cloneBatch(batch);
        jobs.push(c.consume(own));
      });
      for (const c of readers) jobs.push(c.consume(batch));
      const results = await Promise.allSettled(jobs);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
  };
}
