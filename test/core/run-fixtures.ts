// Shared by the `sonde run` end-to-end tests: send spans to the OTLP/HTTP receiver, and read back
// what the file exporter wrote.
import { existsSync, readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { encodeOtlpRequest } from '../../src/pdata/otlp/encode.js';
import { sampleTraces } from '../helpers/sample-data.js';

/** POSTs `spans` sample spans as OTLP/JSON to 127.0.0.1:`port`; resolves with the HTTP status. */
export async function postSpans(port: number, spans: number): Promise<number> {
  const body = encodeOtlpRequest(sampleTraces(spans), 'json');
  const r = await fetch(`http://127.0.0.1:${port}/v1/traces`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  return r.status;
}

/** Lines and spans in a file exporter's output (none if absent); every span must carry well-formed ids. */
export function spansInFile(path: string): { lines: number; spans: number } {
  if (!existsSync(path)) return { lines: 0, spans: 0 };
  const lines = readFileSync(path, 'utf8').split('\n').filter(Boolean);
  let spans = 0;
  for (const line of lines) {
    const req = JSON.parse(line) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: Array<{ traceId: string; spanId: string }> }> }> };
    for (const rs of req.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) {
      expect(s.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(s.spanId).toMatch(/^[0-9a-f]{16}$/);
      spans++;
    }
  }
  return { lines: lines.length, spans };
}
