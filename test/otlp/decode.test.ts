import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SondeError } from '../../src/errors/index.js';
import { decodeOtlpRequest, decodeExportResponse, encodeExportResponse } from '../../src/pdata/otlp/decode.js';
import { encodeOtlpRequest } from '../../src/pdata/otlp/encode.js';
import { OtlpTypes } from '../../src/pdata/otlp/otlp-proto.js';
import { sampleMetrics, sampleTraces } from './fixtures.js';

function expectMalformed(fn: () => unknown): SondeError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SondeError);
    expect((err as SondeError).code).toBe('SONDE_OTLP_MALFORMED');
    return err as SondeError;
  }
  throw new Error('expected SONDE_OTLP_MALFORMED');
}

describe('decodeOtlpRequest: round trip with encodeOtlpRequest', () => {
  for (const format of ['protobuf', 'json'] as const) {
    it(`traces, ${format}`, () => {
      const batch = sampleTraces();
      const decoded = decodeOtlpRequest('traces', encodeOtlpRequest(batch, format), format);
      expect(decoded.items).toBe(2);
      expect(decoded.rejected).toBe(0);
      // The SDK serializer always writes span flags (sampled + has-is-remote); the rest is unchanged.
      if (decoded.batch.signal === 'traces') for (const s of decoded.batch.resourceSpans[0]!.scopeSpans[0]!.spans) delete s.flags;
      expect(decoded.batch).toEqual(batch);
    });

    it(`metrics, ${format}`, () => {
      const batch = sampleMetrics();
      const decoded = decodeOtlpRequest('metrics', encodeOtlpRequest(batch, format), format);
      expect(decoded.items).toBe(3);
      expect(decoded.batch).toEqual(batch);
    });
  }
});

describe('decodeOtlpRequest: OTLP/JSON details', () => {
  it('accepts snake_case keys, enum names and numeric int64', () => {
    const body = JSON.stringify({
      resource_spans: [
        {
          scope_spans: [
            {
              spans: [
                { trace_id: '0AF7651916CD43DD8448EB211C80319C', span_id: 'B7AD6B7169203331', name: 'x', kind: 'SPAN_KIND_CLIENT', start_time_unix_nano: 5, end_time_unix_nano: '6', status: { code: 'STATUS_CODE_OK' } },
              ],
            },
          ],
        },
      ],
    });
    const { batch } = decodeOtlpRequest('traces', Buffer.from(body), 'json');
    const span = batch.signal === 'traces' ? batch.resourceSpans[0]!.scopeSpans[0]!.spans[0]! : undefined;
    expect(span).toMatchObject({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', kind: 3, startTimeUnixNano: 5n, endTimeUnixNano: 6n, status: { code: 1 } });
  });

  it('refuses summaries and exponential histograms, counting their points', () => {
    const body = JSON.stringify({
      resourceMetrics: [
        {
          scopeMetrics: [
            {
              metrics: [
                { name: 'lat', summary: { dataPoints: [{ count: '1' }, { count: '2' }] } },
                { name: 'exp', exponentialHistogram: { dataPoints: [{ scale: 1 }] } },
                { name: 'g', gauge: { dataPoints: [{ asDouble: 1 }] } },
              ],
            },
          ],
        },
      ],
    });
    const decoded = decodeOtlpRequest('metrics', Buffer.from(body), 'json');
    expect(decoded.items).toBe(1);
    expect(decoded.rejected).toBe(3);
    expect(decoded.rejectedMessage).toContain('summary');
    expect(decoded.batch.signal === 'metrics' && decoded.batch.resourceMetrics[0]!.scopeMetrics[0]!.metrics.map((m) => m.name)).toEqual(['g']);
  });

  it('refuses summaries in protobuf too', () => {
    // Metric{name=1:"s", summary=11:{data_points=1:{}}} inside ScopeMetrics/ResourceMetrics.
    const summary = Buffer.from([0x5a, 0x02, 0x0a, 0x00]);
    const metric = Buffer.concat([Buffer.from([0x0a, 0x01, 0x73]), summary]);
    const scope = Buffer.concat([Buffer.from([0x12, metric.length]), metric]);
    const rm = Buffer.concat([Buffer.from([0x12, scope.length]), scope]);
    const req = Buffer.concat([Buffer.from([0x0a, rm.length]), rm]);
    const decoded = decodeOtlpRequest('metrics', req, 'protobuf');
    expect(decoded.rejected).toBe(1);
    expect(decoded.items).toBe(0);
  });
});

describe('decodeOtlpRequest: malformed input', () => {
  it('garbage protobuf', () => {
    expectMalformed(() => decodeOtlpRequest('traces', Buffer.from('this is not protobuf at all, no no no'), 'protobuf'));
  });

  it('truncated protobuf', () => {
    const full = encodeOtlpRequest(sampleTraces(), 'protobuf');
    const err = expectMalformed(() => decodeOtlpRequest('traces', full.subarray(0, full.length - 7), 'protobuf'));
    expect(err.retryable).toBe(false);
  });

  it('wrong id length in protobuf', () => {
    const msg = OtlpTypes.ExportTraceServiceRequest.fromObject({
      resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: Buffer.alloc(15, 1), spanId: Buffer.alloc(8, 1), name: 'x' }] }] }],
    });
    const bytes = OtlpTypes.ExportTraceServiceRequest.encode(msg).finish();
    expect(expectMalformed(() => decodeOtlpRequest('traces', bytes, 'protobuf')).message).toContain('traceId');
  });

  it('invalid JSON, wrong JSON types, missing ids, bad histogram shape', () => {
    expectMalformed(() => decodeOtlpRequest('traces', Buffer.from('{"resourceSpans": ['), 'json'));
    expectMalformed(() => decodeOtlpRequest('traces', Buffer.from('[]'), 'json'));
    expectMalformed(() => decodeOtlpRequest('traces', Buffer.from('{"resourceSpans": 5}'), 'json'));
    expectMalformed(() => decodeOtlpRequest('traces', Buffer.from('{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"no ids"}]}]}]}'), 'json'));
    expectMalformed(() => decodeOtlpRequest('traces', Buffer.from('{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz","spanId":"b7ad6b7169203331"}]}]}]}'), 'json'));
    expectMalformed(() =>
      decodeOtlpRequest('metrics', Buffer.from('{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"h","histogram":{"dataPoints":[{"explicitBounds":[1,2],"bucketCounts":["1"]}]}}]}]}]}'), 'json'),
    );
  });

  it('deeply nested attribute values are refused, not a stack overflow', () => {
    let v: unknown = { stringValue: 'leaf' };
    for (let i = 0; i < 200; i++) v = { arrayValue: { values: [v] } };
    const body = JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'deep', value: v }] } }] });
    expectMalformed(() => decodeOtlpRequest('traces', Buffer.from(body), 'json'));
  });

  it('random bytes never throw anything but SONDE_OTLP_MALFORMED', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.constantFrom('traces' as const, 'metrics' as const), fc.constantFrom('protobuf' as const, 'json' as const), (bytes, signal, format) => {
        try {
          decodeOtlpRequest(signal, bytes, format);
        } catch (err) {
          expect(err).toBeInstanceOf(SondeError);
          expect((err as SondeError).code).toBe('SONDE_OTLP_MALFORMED');
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('mutated valid requests never throw anything but SONDE_OTLP_MALFORMED', () => {
    const valid = encodeOtlpRequest(sampleTraces(), 'protobuf');
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (edits) => {
        const bytes = Uint8Array.from(valid);
        for (const [at, value] of edits) bytes[at] = value;
        try {
          decodeOtlpRequest('traces', bytes, 'protobuf');
        } catch (err) {
          expect((err as SondeError).code).toBe('SONDE_OTLP_MALFORMED');
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('export responses', () => {
  for (const format of ['protobuf', 'json'] as const) {
    it(`partial success survives encode/decode (${format})`, () => {
      expect(decodeExportResponse('metrics', encodeExportResponse('metrics', format, { rejected: 3, message: 'no summaries' }), format)).toEqual({ rejected: 3, message: 'no summaries' });
      expect(decodeExportResponse('traces', encodeExportResponse('traces', format), format)).toBeUndefined();
    });
  }
});
