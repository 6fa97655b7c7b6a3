// gRPC outcomes -> export results, as the OTLP specification classifies them.
import { Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { OtlpTypes, RETRY_INFO_TYPE_URL } from '../../pdata/otlp/otlp-proto.js';
import { permanent, retryable, type ExportResult } from '../exporterhelper/index.js';

const RETRYABLE = new Set<number>([
  GrpcStatus.CANCELLED,
  GrpcStatus.DEADLINE_EXCEEDED,
  GrpcStatus.ABORTED,
  GrpcStatus.OUT_OF_RANGE,
  GrpcStatus.UNAVAILABLE,
  GrpcStatus.DATA_LOSS,
]);

/** The delay in a google.rpc.RetryInfo detail of the grpc-status-details-bin trailer, if any. */
export function retryInfoDelayMs(metadata: Metadata | undefined): number | undefined {
  const raw = metadata?.get('grpc-status-details-bin')[0];
  if (!(raw instanceof Uint8Array)) return undefined;
  try {
    const status = OtlpTypes.RpcStatus.decode(raw) as unknown as { details?: { typeUrl?: string; value?: Uint8Array }[] };
    for (const d of status.details ?? []) {
      if (d.typeUrl !== RETRY_INFO_TYPE_URL || !d.value) continue;
      const info = OtlpTypes.RetryInfo.decode(d.value) as unknown as { retryDelay?: { seconds?: unknown; nanos?: number } };
      const seconds = Number(info.retryDelay?.seconds?.toString() ?? 0);
      const nanos = info.retryDelay?.nanos ?? 0;
      return Math.max(0, seconds * 1000 + Math.round(nanos / 1e6));
    }
  } catch {
    // An undecodable detail is ignored: the status code alone decides.
  }
  return undefined;
}

export function resultFromGrpcError(err: ServiceError): ExportResult {
  const name = GrpcStatus[err.code] ?? String(err.code);
  const message = `gRPC ${name}: ${err.details || err.message}`;
  const delay = retryInfoDelayMs(err.metadata);
  if (RETRYABLE.has(err.code)) return retryable(message, delay, err);
  // RESOURCE_EXHAUSTED is retryable only when the server says when to come back.
  if (err.code === GrpcStatus.RESOURCE_EXHAUSTED && delay !== undefined) return retryable(message, delay, err);
  return permanent(message, err);
}
