// Config for the conformance test where a component's defaults cannot run in a sandbox
// (required paths, fixed ports, external servers). Keyed by component type. Every registered
// component is tested whether or not it appears here.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'sonde-conformance-'));

export const CONFORMANCE_OVERRIDES: Record<string, Record<string, unknown>> = {
  file: { path: join(dir, 'out.jsonl') },
  prometheus: { endpoint: '127.0.0.1:0' },
  prometheusremotewrite: { endpoint: 'http://127.0.0.1:9/api/v1/write', retry_on_failure: { enabled: false } },
};
