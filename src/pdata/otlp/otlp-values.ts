// Field readers for the two OTLP encodings. Protobuf gives typed values (Long for 64-bit
// integers, Uint8Array for bytes); OTLP/JSON gives strings and numbers that must be checked.
// The walk in decode.ts is shared and asks one of these readers for every scalar.
import { permanentError, type SondeError } from '../../errors/index.js';

export function malformed(message: string, cause?: unknown): SondeError {
  return permanentError('SONDE_OTLP_MALFORMED', message, {
    hint: 'The request is not a valid OTLP export request; check the sender\'s OTLP exporter and its encoding (protobuf or JSON).',
    cause,
  });
}

export interface ValueReader {
  /** Lowercase hex of an id of `bytes` length; undefined when absent or empty (allowed only where optional). */
  id(v: unknown, bytes: number, path: string): string | undefined;
  /** Unsigned or signed 64-bit integer as bigint; 0n when absent. */
  int64(v: unknown, path: string): bigint;
  /** 32-bit or smaller integer; 0 when absent. */
  int(v: unknown, path: string): number;
  double(v: unknown, path: string): number;
  bytes(v: unknown, path: string): Uint8Array;
  string(v: unknown, path: string): string;
  bool(v: unknown, path: string): boolean;
  /** An enum: integer, or (JSON only) one of its names. */
  enumValue(v: unknown, names: readonly string[], path: string): number;
}

const HEX = '0123456789abcdef';

function toHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += HEX[b[i]! >> 4]! + HEX[b[i]! & 15]!;
  return s;
}

interface LongLike {
  low: number;
  high: number;
  unsigned: boolean;
}

function isLong(v: unknown): v is LongLike {
  return typeof v === 'object' && v !== null && typeof (v as LongLike).low === 'number' && typeof (v as LongLike).high === 'number';
}

function longToBigInt(v: LongLike): bigint {
  const raw = (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
  return v.unsigned ? raw : BigInt.asIntN(64, raw);
}

/** Values produced by protobufjs decode: already typed by the wire format. */
export const protoReader: ValueReader = {
  id(v, bytes, path) {
    if (v == null) return undefined;
    const b = v as Uint8Array;
    if (b.length === 0) return undefined;
    if (b.length !== bytes) throw malformed(`${path}: expected ${bytes} bytes, got ${b.length}`);
    return toHex(b);
  },
  int64(v) {
    if (v == null) return 0n;
    if (typeof v === 'number') return BigInt(v);
    return isLong(v) ? longToBigInt(v) : 0n;
  },
  int(v) {
    return typeof v === 'number' ? v : 0;
  },
  double(v) {
    return typeof v === 'number' ? v : 0;
  },
  bytes(v) {
    return v instanceof Uint8Array ? v : new Uint8Array(0);
  },
  string(v) {
    return typeof v === 'string' ? v : '';
  },
  bool(v) {
    return v === true;
  },
  enumValue(v) {
    return typeof v === 'number' ? v : 0;
  },
};

const HEX_ID = /^[0-9a-fA-F]*$/;
const INTEGER = /^-?\d+$/;

/** Values from OTLP/JSON: ids in hex, 64-bit integers as decimal strings or numbers, bytes in base64. */
export const jsonReader: ValueReader = {
  id(v, bytes, path) {
    if (v == null || v === '') return undefined;
    if (typeof v !== 'string' || !HEX_ID.test(v) || v.length !== bytes * 2) {
      throw malformed(`${path}: expected ${bytes * 2} hex characters`);
    }
    return v.toLowerCase();
  },
  int64(v, path) {
    if (v == null) return 0n;
    if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
    if (typeof v === 'string' && INTEGER.test(v)) {
      const n = BigInt(v);
      if (n >= -(2n ** 63n) && n < 2n ** 64n) return n;
    }
    throw malformed(`${path}: expected a 64-bit integer (number or decimal string)`);
  },
  int(v, path) {
    if (v == null) return 0;
    if (typeof v === 'number' && Number.isInteger(v)) return v;
    if (typeof v === 'string' && INTEGER.test(v)) return Number(v);
    throw malformed(`${path}: expected an integer`);
  },
  double(v, path) {
    if (v == null) return 0;
    if (typeof v === 'number') return v;
    if (v === 'NaN') return NaN;
    if (v === 'Infinity') return Infinity;
    if (v === '-Infinity') return -Infinity;
    if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
    throw malformed(`${path}: expected a number`);
  },
  bytes(v, path) {
    if (v == null) return new Uint8Array(0);
    if (typeof v !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(v)) throw malformed(`${path}: expected base64`);
    return new Uint8Array(Buffer.from(v, 'base64'));
  },
  string(v, path) {
    if (v == null) return '';
    if (typeof v !== 'string') throw malformed(`${path}: expected a string`);
    return v;
  },
  bool(v, path) {
    if (v == null) return false;
    if (typeof v !== 'boolean') throw malformed(`${path}: expected true or false`);
    return v;
  },
  enumValue(v, names, path) {
    if (v == null) return 0;
    if (typeof v === 'number' && Number.isInteger(v)) return v;
    if (typeof v === 'string') {
      const i = names.indexOf(v);
      if (i >= 0) return i;
    }
    throw malformed(`${path}: expected an integer or one of ${names.join(', ')}`);
  },
};
