// The 16-byte header every Sonde ring buffer record starts with (bpf/common.h).
//   0 u16 magic (0x53DE)   2 u8 schema version   3 u8 event type
//   4 u16 record size      6 u16 cpu             8 u64 timestamp ns (CLOCK_MONOTONIC)

export const EVENT_MAGIC = 0x53de;
export const SCHEMA_VERSION = 1;
export const EVENT_HEADER_SIZE = 16;

export const HEADER_OFFSETS = { magic: 0, version: 2, type: 3, size: 4, cpu: 6, timestamp: 8 } as const;

/** Why a record was refused; counted per reason by the decoders. */
export type RejectReason = 'short' | 'magic' | 'version' | 'type' | 'size';

/** Expected record size per event type, indexed by type (0 = unknown type). */
export type SizeTable = Readonly<Uint16Array>;

/** Builds the size table a decoder passes to checkHeader. */
export function sizeTable(entries: ReadonlyArray<readonly [type: number, size: number]>): SizeTable {
  const t = new Uint16Array(256);
  for (const [type, size] of entries) t[type] = size;
  return t;
}

/**
 * Checks the header of the record at `offset` (length bytes). Returns the event type, or a
 * reject reason. `expectedSizes[type]` is each known type's exact record size; a typed-array
 * lookup, because this runs once per event and a Map lookup was a quarter of decode time.
 */
export function checkHeader(view: DataView, offset: number, length: number, expectedSizes: SizeTable): number | RejectReason {
  if (length < EVENT_HEADER_SIZE) return 'short';
  if (view.getUint16(offset + HEADER_OFFSETS.magic, true) !== EVENT_MAGIC) return 'magic';
  if (view.getUint8(offset + HEADER_OFFSETS.version) !== SCHEMA_VERSION) return 'version';
  const type = view.getUint8(offset + HEADER_OFFSETS.type);
  const want = expectedSizes[type]!;
  if (want === 0) return 'type';
  const size = view.getUint16(offset + HEADER_OFFSETS.size, true);
  if (size !== want || length < want) return 'size';
  return type;
}

/** Monotonic ns (bpf_ktime_get_ns) to Unix epoch ns. Node's hrtime is CLOCK_MONOTONIC on Linux. */
export class MonotonicClock {
  private offsetNs: bigint;
  constructor() {
    this.offsetNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
  }
  /** Re-reads the wall clock (call now and then: NTP may step it). */
  resync(): void {
    this.offsetNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
  }
  toUnixNano(monotonicNs: bigint): bigint {
    return monotonicNs + this.offsetNs;
  }
}
