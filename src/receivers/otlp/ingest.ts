// What both transports do with a decoded body: hand it to the pipeline and classify the outcome.
import type { Backpressure, Consumer } from '../../component/types.js';
import { SondeError, retryableError } from '../../errors/index.js';
import { decodeOtlpRequest, type OtlpFormat, type PartialSuccess } from '../../pdata/otlp/decode.js';
import type { Signal } from '../../pdata/types.js';
import type { SelfTelemetry } from '../../telemetry/self-telemetry.js';

export type IngestOutcome =
  | { kind: 'ok'; partial?: PartialSuccess }
  /** The request itself is bad: HTTP 400, gRPC INVALID_ARGUMENT. */
  | { kind: 'malformed'; error: SondeError }
  /** Downstream refused for good: HTTP 400, gRPC INVALID_ARGUMENT (as the Collector answers permanent errors). */
  | { kind: 'refused'; error: SondeError }
  /** Downstream busy or down: HTTP 503, gRPC UNAVAILABLE; the sender should retry. */
  | { kind: 'unavailable'; error: SondeError; retryAfterMs?: number };

export interface IngestContext {
  receiver: string;
  telemetry: SelfTelemetry;
  backpressure: Backpressure;
  next: Partial<Record<Signal, Consumer>>;
}

export function malformedCounter(telemetry: SelfTelemetry) {
  return telemetry.counter('sonde_receiver_malformed_requests_total', 'Requests a receiver refused as malformed or too large (OTLP 400 / 413 / INVALID_ARGUMENT).', ['receiver', 'transport']);
}

/** `clientAddress`: the sender's IP (normalised), recorded on the batch for k8sattributes. */
export async function ingest(ctx: IngestContext, signal: Signal, body: Uint8Array, format: OtlpFormat, clientAddress?: string): Promise<IngestOutcome> {
  const consumer = ctx.next[signal];
  const labels = { receiver: ctx.receiver };
  let decoded;
  try {
    decoded = decodeOtlpRequest(signal, body, format);
  } catch (err) {
    const error = err instanceof SondeError ? err : new SondeError('SONDE_OTLP_MALFORMED', String(err));
    return { kind: 'malformed', error };
  }
  if (clientAddress !== undefined) decoded.batch.clientAddress = clientAddress;
  if (decoded.rejected > 0) ctx.telemetry.receiverRefused.inc(labels, decoded.rejected);
  const partial = decoded.rejected > 0 ? { rejected: decoded.rejected, message: `SONDE_OTLP_UNSUPPORTED_METRIC: ${decoded.rejectedMessage}` } : undefined;
  if (decoded.items === 0 || !consumer) return partial ? { kind: 'ok', partial } : { kind: 'ok' };
  if (ctx.backpressure.shouldRefuse()) {
    ctx.telemetry.receiverRefused.inc(labels, decoded.items);
    return { kind: 'unavailable', error: retryableError('SONDE_MEMORY_LIMIT_EXCEEDED', 'Sonde is over its memory limit; retry later') };
  }
  // Accepted / refused items of the consume() call are counted by the service's receiver wrapper.
  try {
    await consumer.consume(decoded.batch);
  } catch (err) {
    if (err instanceof SondeError && !err.retryable) return { kind: 'refused', error: err };
    const error = err instanceof SondeError ? err : retryableError('SONDE_EXPORT_RETRYABLE', (err as Error)?.message ?? String(err));
    return error.retryAfterMs === undefined ? { kind: 'unavailable', error } : { kind: 'unavailable', error, retryAfterMs: error.retryAfterMs };
  }
  return partial ? { kind: 'ok', partial } : { kind: 'ok' };
}
