import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { resultFromGrpcError, retryInfoDelayMs } from '../../src/exporters/otlp/grpc-status.js';
import { parseRetryAfter, resultFromHttpStatus } from '../../src/exporters/otlphttp/http-status.js';
import { OtlpTypes, RETRY_INFO_TYPE_URL } from '../../src/pdata/otlp/otlp-proto.js';

function grpcError(code: number, retryDelay?: { seconds: number; nanos: number }): ServiceError {
  const metadata = new Metadata();
  if (retryDelay) {
    const info = OtlpTypes.RetryInfo.encode(OtlpTypes.RetryInfo.fromObject({ retryDelay })).finish();
    const details = OtlpTypes.RpcStatus.encode(OtlpTypes.RpcStatus.fromObject({ code, message: 'slow down', details: [{ typeUrl: RETRY_INFO_TYPE_URL, value: info }] })).finish();
    metadata.set('grpc-status-details-bin', Buffer.from(details));
  }
  return Object.assign(new Error('x'), { code, details: 'x', metadata }) as ServiceError;
}

describe('gRPC status -> export result (OTLP spec)', () => {
  it('classifies codes', () => {
    for (const code of [status.CANCELLED, status.DEADLINE_EXCEEDED, status.ABORTED, status.OUT_OF_RANGE, status.UNAVAILABLE, status.DATA_LOSS]) {
      expect(resultFromGrpcError(grpcError(code)).kind).toBe('retryable');
    }
    for (const code of [status.INVALID_ARGUMENT, status.UNAUTHENTICATED, status.PERMISSION_DENIED, status.UNIMPLEMENTED, status.INTERNAL, status.RESOURCE_EXHAUSTED]) {
      expect(resultFromGrpcError(grpcError(code)).kind).toBe('permanent');
    }
  });

  it('reads RetryInfo; RESOURCE_EXHAUSTED with it is retryable after that delay', () => {
    expect(retryInfoDelayMs(grpcError(status.UNAVAILABLE, { seconds: 1, nanos: 500_000_000 }).metadata)).toBe(1500);
    expect(resultFromGrpcError(grpcError(status.RESOURCE_EXHAUSTED, { seconds: 3, nanos: 0 }))).toMatchObject({ kind: 'retryable', retryAfterMs: 3000 });
  });
});

describe('HTTP status -> export result (OTLP spec)', () => {
  it('retries 429/502/503/504 only', () => {
    for (const s of [429, 502, 503, 504]) expect(resultFromHttpStatus(s, undefined, '').kind).toBe('retryable');
    for (const s of [400, 401, 403, 404, 413, 500, 501]) expect(resultFromHttpStatus(s, undefined, '').kind).toBe('permanent');
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('7')).toBe(7000);
    expect(parseRetryAfter(new Date(60_000).toUTCString(), 0)).toBe(60_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(resultFromHttpStatus(503, '2', 'busy')).toMatchObject({ kind: 'retryable', retryAfterMs: 2000 });
  });
});
