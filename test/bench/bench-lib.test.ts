// The benchmark helpers that turn raw output into the published figures: wrk report parsing,
// run statistics, and the docs/benchmarks.md section writer (which must never touch the sections
// other areas own). No timing is asserted; benchmarks themselves are not part of the suite.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseWrk } from '../../bench/overhead/wrk.js';
import { median, num, summarize } from '../../bench/lib/stats.js';
import { writeSection } from '../../bench/lib/docs.js';
import { markdownTable } from '../../bench/lib/table.js';

const WRK = `Running 8s test @ http://127.0.0.1:40123/
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   803.15us    2.02ms  32.32ms   92.06%
    Req/Sec    77.22k    22.00k  140.84k    70.00%
  Latency Distribution
     50%   91.00us
     75%  702.00us
     90%    2.46ms
     99%    1.20s
  230872 requests in 3.01s, 33.03MB read
  Socket errors: connect 0, read 2, write 0, timeout 5
  Non-2xx or 3xx responses: 3
Requests/sec:  76707.32
Transfer/sec:     10.97MB
`;

describe('parseWrk', () => {
  it('reads requests, rate, percentiles in any unit and errors', () => {
    const r = parseWrk(WRK);
    expect(r.requests).toBe(230872);
    expect(r.seconds).toBeCloseTo(3.01, 5);
    expect(r.rps).toBeCloseTo(76707.32, 2);
    expect(r.p50Ms).toBeCloseTo(0.091, 6);
    expect(r.p99Ms).toBeCloseTo(1200, 6);
    expect(r.errors).toBe(10);
  });

  it('refuses output that is not a wrk report', () => {
    expect(() => parseWrk('unable to connect to 127.0.0.1:1 Connection refused')).toThrow(/cannot parse wrk output/);
  });
});

describe('stats', () => {
  it('median of odd and even counts', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('summarizes min, max and half-range spread relative to the median, ignoring NaN', () => {
    const s = summarize([90, 110, 100, Number.NaN]);
    expect(s).toEqual({ median: 100, min: 90, max: 110, spread: 0.1, runs: 3 });
  });

  it('rounds JSON figures to 4 significant digits and maps non-numbers to null', () => {
    expect(num(30_617_345)).toBe(30_620_000);
    expect(num(Number.NaN)).toBeNull();
    expect(num(null)).toBeNull();
  });
});

describe('writeSection', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('creates the file with a preamble when absent', () => {
    dir = mkdtempSync(join(tmpdir(), 'sonde-bench-docs-'));
    const file = join(dir, 'benchmarks.md');
    writeSection('Memory', 'idle 100 MiB', file);
    const text = readFileSync(file, 'utf8');
    expect(text.startsWith('# Benchmarks\n')).toBe(true);
    expect(text.endsWith('## Memory\n\nidle 100 MiB\n')).toBe(true);
  });

  it('replaces only its own section and keeps the other areas\' sections byte for byte', () => {
    dir = mkdtempSync(join(tmpdir(), 'sonde-bench-docs-'));
    const file = join(dir, 'benchmarks.md');
    const k8s = '## Kubernetes metadata cache\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nprose with ## inside a line\n';
    const soak = '## Soak\n\n24 h, no leak.\n';
    writeFileSync(file, `# Benchmarks\n\nintro\n\n## Memory\n\nold figures\n\n${k8s}\n${soak}`);
    writeSection('Memory', 'new figures', file);
    writeSection('Export throughput', 'spans', file);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('## Memory\n\nnew figures\n');
    expect(text).not.toContain('old figures');
    expect(text).toContain(k8s);
    expect(text).toContain(soak);
    expect(text.indexOf('## Memory')).toBeLessThan(text.indexOf('## Kubernetes metadata cache'));
    expect(text.endsWith('## Export throughput\n\nspans\n')).toBe(true);
    expect(text.match(/^## /gm)).toHaveLength(4);
  });

  it('escapes pipes in Markdown table cells', () => {
    expect(markdownTable(['a'], [['x|y']])).toBe('| a |\n|---|\n| x\\|y |');
  });
});
