import type { TelemetryBatch } from './types.js';

/**
 * Deep copy for fan-out to a consumer that mutates. structuredClone keeps bigint and
 * Uint8Array, which JSON round-trips would not, and the batch's request context (clientAddress).
 */
export function cloneBatch<T extends TelemetryBatch>(batch: T): T {
  return structuredClone(batch);
}
