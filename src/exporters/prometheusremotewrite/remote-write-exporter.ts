// The `prometheusremotewrite` exporter. consume() translates a batch at once (in arrival order,
// so delta-to-cumulative totals follow the data) and hands it to the exporter helper's queue;
// push() sends the batch's requests one after another and, when retried, resumes at the first
// request not yet accepted. With one queue consumer nothing newer is sent while a batch is
// being retried, so each series reaches the receiver in timestamp order.
import type { CreateSettings, Exporter } from '../../component/types.js';
import { SondeError } from '../../errors/index.js';
import { parseDuration } from '../../config/units.js';
import { countItems } from '../../pdata/count.js';
import type { MetricsBatch, TelemetryBatch } from '../../pdata/types.js';
import { sondeVersion } from '../../cli/version.js';
import { SUCCESS, createExporterHelper, resultFromError, type ExportResult } from '../exporterhelper/index.js';
import { DeltaToCumulative, translateMetrics } from '../prometheus-naming/index.js';
import { toResourceCopy } from '../prometheus-naming/config-schema.js';
import { type PendingRequest, buildSeries, splitRequests } from './build-requests.js';
import type { RemoteWriteConfig } from './config.js';
import { type PushTarget, sendWriteRequest } from './push.js';

/** A batch ready to send, and how far sending it got. */
interface Prepared {
  requests: PendingRequest[];
  /** Index of the first request not yet accepted or refused for good. */
  next: number;
  /** Data points in the batch (what the helper counts). */
  items: number;
  /** Data points refused for good so far: untranslatable ones and those in 4xx-refused requests. */
  rejected: number;
  problems: string[];
  firstError: SondeError | undefined;
  /** The attempt in progress, so a timed-out attempt finishes before the retry resumes. */
  running: Promise<unknown>;
}

export function createRemoteWriteExporter(settings: CreateSettings, config: RemoteWriteConfig): Exporter {
  const cumulative = new DeltaToCumulative({ maxStaleMs: parseDuration(config.delta_to_cumulative.max_stale) });
  const resourceCopy = toResourceCopy(config.resource_to_telemetry_conversion);
  const target: PushTarget = { endpoint: config.endpoint, headers: config.headers, userAgent: `Sonde/${sondeVersion()}` };
  const prepared = new WeakMap<TelemetryBatch, Prepared>();
  const targetInfoTimes = new Map<string, number>();
  const maxStaleMs = parseDuration(config.delta_to_cumulative.max_stale) || 3_600_000;

  // Resources come and go with processes: forget target_info times not refreshed for max_stale.
  let lastPruneMs = Date.now();
  const pruneTargetInfoTimes = (): void => {
    const now = Date.now();
    if (targetInfoTimes.size < 1024 || now - lastPruneMs < 60_000) return;
    lastPruneMs = now;
    const cutoff = now - maxStaleMs;
    for (const [k, t] of targetInfoTimes) if (t < cutoff) targetInfoTimes.delete(k);
  };

  const prepare = (batch: MetricsBatch, items: number): Prepared => {
    const t = translateMetrics(batch, {
      namespace: config.namespace,
      resourceCopy,
      cumulative,
      targetInfo: config.target_info.enabled,
      targetInfoTimes,
    });
    pruneTargetInfoTimes();
    return {
      requests: splitRequests(buildSeries(t.families), config.max_samples_per_request),
      next: 0,
      items,
      rejected: t.dropped,
      problems: t.problems.map((p) => `SONDE_PROMETHEUS_POINT_DROPPED: ${p}`),
      firstError: undefined,
      running: Promise.resolve(),
    };
  };

  const sendAll = async (p: Prepared, signal: AbortSignal): Promise<ExportResult> => {
    while (p.next < p.requests.length) {
      const req = p.requests[p.next]!;
      try {
        await sendWriteRequest(target, req, signal);
      } catch (err) {
        const result = resultFromError(err);
        if (result.kind === 'retryable') return result;
        if (result.kind === 'permanent') {
          // Refused for good: count its points, keep going with the rest of the batch.
          p.rejected += req.items;
          p.firstError ??= result.error;
          if (p.problems.length < 5) p.problems.push(result.error.message);
        }
      }
      p.next++;
    }
    if (p.rejected === 0) return SUCCESS;
    const message = p.problems.join('; ');
    if (p.rejected >= p.items) {
      const error = p.firstError ?? new SondeError('SONDE_PROMETHEUS_POINT_DROPPED', message);
      return { kind: 'permanent', error };
    }
    return { kind: 'partial', rejected: p.rejected, message };
  };

  const helper = createExporterHelper({
    settings,
    config,
    push: async (batch, signal) => {
      if (batch.signal !== 'metrics') return SUCCESS;
      let p = prepared.get(batch);
      if (p === undefined) {
        p = prepare(batch, countItems(batch));
        prepared.set(batch, p);
      }
      const state = p;
      const attempt = state.running.then(() => sendAll(state, signal));
      state.running = attempt.catch(() => undefined);
      return attempt;
    },
  });

  // Serialises intake: batches are translated and queued in the order they arrive, even when
  // several pipelines feed this exporter or a full queue makes producers wait.
  let intake: Promise<unknown> = Promise.resolve();

  return {
    mutatesData: false,
    start: () => helper.start(),
    shutdown: () => helper.shutdown(),
    consume(batch: TelemetryBatch): Promise<void> {
      if (batch.signal !== 'metrics') return Promise.resolve();
      const run = intake.then(() => {
        const items = countItems(batch);
        if (items > 0 && !prepared.has(batch)) prepared.set(batch, prepare(batch, items));
        return helper.consume(batch);
      });
      intake = run.catch(() => undefined);
      return run;
    },
  };
}
