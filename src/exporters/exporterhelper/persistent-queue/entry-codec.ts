// How a queued batch is laid out on disk: a 8-byte header, then the batch as V8's structured-clone
// serialization. V8's format keeps every part of Sonde's in-memory model exactly (bigint
// timestamps, Uint8Array attribute values, the isInt flag of number points) with no schema
// mapping, and newer Node versions read what older ones wrote (V8 keeps its deserializer
// backward compatible). The header lets a future format coexist and gives the item count without
// deserializing.
//   0 u8  format (1)   1..3 reserved (0)   4 u32 items (little endian)   8.. v8.serialize(batch)
import { deserialize, serialize } from 'node:v8';
import type { TelemetryBatch } from '../../../pdata/types.js';

export const ENTRY_FORMAT = 1;
export const ENTRY_HEADER_SIZE = 8;

export function encodeEntry(batch: TelemetryBatch, items: number): Buffer {
  const body = serialize(batch);
  const out = Buffer.allocUnsafe(ENTRY_HEADER_SIZE + body.length);
  out.writeUInt32LE(ENTRY_FORMAT, 0);
  out.writeUInt32LE(items >>> 0, 4);
  body.copy(out, ENTRY_HEADER_SIZE);
  return out;
}

export type DecodedEntry = { ok: true; batch: TelemetryBatch; items: number } | { ok: false; reason: string };

/** Never throws: a record that cannot be read yields a reason (the caller counts and deletes it). */
export function decodeEntry(bytes: Uint8Array): DecodedEntry {
  if (bytes.length < ENTRY_HEADER_SIZE) return { ok: false, reason: `record of ${bytes.length} bytes is shorter than its header` };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const format = view.getUint32(0, true);
  if (format !== ENTRY_FORMAT) return { ok: false, reason: `unknown record format ${format}` };
  const items = view.getUint32(4, true);
  let batch: unknown;
  try {
    batch = deserialize(bytes.subarray(ENTRY_HEADER_SIZE));
  } catch (err) {
    return { ok: false, reason: `cannot deserialize the batch: ${(err as Error).message}` };
  }
  if (!isBatch(batch)) return { ok: false, reason: 'record does not hold a traces or metrics batch' };
  return { ok: true, batch, items };
}

function isBatch(v: unknown): v is TelemetryBatch {
  if (typeof v !== 'object' || v === null) return false;
  const b = v as { signal?: unknown; resourceSpans?: unknown; resourceMetrics?: unknown };
  return (b.signal === 'traces' && Array.isArray(b.resourceSpans)) || (b.signal === 'metrics' && Array.isArray(b.resourceMetrics));
}
