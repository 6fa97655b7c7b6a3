// Remote write 1.0 wire format: a protobuf prometheus.WriteRequest, snappy block-compressed.
// Only the fields Sonde sends are declared (numbers from prometheus/prompb remote.proto, types.proto).
import protobuf from 'protobufjs';
import snappy from 'snappyjs';
import type { Label } from '../prometheus-naming/index.js';

const root = protobuf.Root.fromJSON({
  nested: {
    prometheus: {
      nested: {
        WriteRequest: {
          fields: {
            timeseries: { rule: 'repeated', type: 'TimeSeries', id: 1 },
          },
        },
        TimeSeries: {
          fields: {
            labels: { rule: 'repeated', type: 'Label', id: 1 },
            samples: { rule: 'repeated', type: 'Sample', id: 2 },
          },
        },
        Label: {
          fields: {
            name: { type: 'string', id: 1 },
            value: { type: 'string', id: 2 },
          },
        },
        Sample: {
          fields: {
            value: { type: 'double', id: 1 },
            timestamp: { type: 'int64', id: 2 },
          },
        },
      },
    },
  },
});

export const WriteRequestType = root.lookupType('prometheus.WriteRequest');

export interface Sample {
  value: number;
  /** Milliseconds since the epoch. */
  timestamp: number;
}

export interface TimeSeries {
  /** Sorted by name, `__name__` included. */
  labels: Label[];
  /** In increasing timestamp order. */
  samples: Sample[];
}

export interface WriteRequest {
  timeseries: TimeSeries[];
}

/** Protobuf bytes of a WriteRequest. */
export function encodeWriteRequest(req: WriteRequest): Uint8Array {
  return WriteRequestType.encode(req).finish();
}

/** The HTTP body: snappy block format (not the framed stream format), as the spec requires. */
export function compressBody(bytes: Uint8Array): Uint8Array {
  return snappy.compress(bytes);
}

/** Decodes a request body back (tests, and the receiver-side checks in test servers). */
export function decodeWriteRequestBody(body: Uint8Array): WriteRequest {
  const raw = snappy.uncompress(body);
  const msg = WriteRequestType.decode(raw);
  const obj = WriteRequestType.toObject(msg, { longs: Number, defaults: true }) as WriteRequest;
  return obj;
}
