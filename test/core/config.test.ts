import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import type { ComponentFactory, ComponentKind } from '../../src/component/types.js';
import { FACTORIES } from '../../src/components.js';
import { resolveConfig } from '../../src/config/resolve.js';
import { parseYamlSource, readYamlSource } from '../../src/config/yaml-source.js';
import { formatProblem, splitPath } from '../../src/config/problems.js';
import { parseDuration, parseSize } from '../../src/config/units.js';
import { expandEnv } from '../../src/config/env.js';

const data = (name: string): string => fileURLToPath(new URL(`testdata/${name}`, import.meta.url));

// A stand-in receiver type so pipeline tests do not depend on which receivers are registered.
const fakeReceiver: ComponentFactory = {
  kind: 'receiver',
  type: 'fake',
  stability: 'development',
  signals: ['traces', 'metrics'],
  description: 'test',
  configSchema: { type: 'object', additionalProperties: false, properties: {} },
  createDefaultConfig: () => ({}),
  create: () => ({ start: async () => {}, shutdown: async () => {} }),
};
const find = (kind: ComponentKind, type: string) =>
  [...FACTORIES, fakeReceiver].find((f) => f.kind === kind && f.type === type);

describe('config validation', () => {
  it('reports an unknown type, an unknown key and a missing exporter together, each with line and column', () => {
    const { config, problems } = resolveConfig(readYamlSource(data('three-problems.yaml'), {}), find);
    expect(config).toBeUndefined();
    const errors = problems.filter((p) => p.severity === 'error').map(formatProblem);
    expect(errors).toContainEqual(expect.stringMatching(/three-problems\.yaml:2:3: error: receivers\.nosuchreceiver: unknown receiver type "nosuchreceiver"/));
    expect(errors).toContainEqual(expect.stringMatching(/three-problems\.yaml:7:5: error: processors\.batch\.send_batch_sise: unknown key "send_batch_sise"/));
    expect(errors).toContainEqual(expect.stringMatching(/three-problems\.yaml:16:26: error: service\.pipelines\.traces\.exporters\.1: .*exporter "otlp\/missing", which is not defined/));
    // An undefined-but-declared receiver (unknown type) is reported once, at its definition.
    expect(errors).toHaveLength(3);
  });

  it('resolves several pipelines per signal, env substitution with defaults and types, and warns about unused components', () => {
    const env = { SONDE_TEST_BATCH: '512' };
    const { config, problems } = resolveConfig(readYamlSource(data('valid-multi.yaml'), env), find);
    expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
    expect(config).toBeDefined();
    expect(config!.pipelines.map((p) => `${p.name}:${p.signal}`)).toEqual(['traces:traces', 'traces/detailed:traces', 'metrics:metrics']);
    expect(config!.processors.get('batch')!.config).toEqual({ timeout: '250ms', send_batch_size: 512, send_batch_max_size: 0 });
    expect(config!.exporters.get('file')!.config).toEqual({ path: 'out/data.jsonl' });
    expect(config!.exporters.get('debug')!.config).toEqual({ verbosity: 'basic' });
    expect(config!.exporters.has('file/unused')).toBe(false);
    expect(config!.telemetry).toEqual({ logLevel: 'warn', metricsAddress: '127.0.0.1:0' });
    const warnings = problems.filter((p) => p.severity === 'warning').map(formatProblem);
    expect(warnings).toContainEqual(expect.stringMatching(/valid-multi\.yaml:15:3: warning: exporters\.file\/unused: exporter "file\/unused" is defined but not used/));
    expect(Object.isFrozen(config!.processors.get('batch')!.config)).toBe(true);
  });

  it('warns when a referenced environment variable is unset', () => {
    const { problems } = resolveConfig(readYamlSource(data('valid-multi.yaml'), {}), find);
    expect(problems.map(formatProblem)).toContainEqual(expect.stringMatching(/valid-multi\.yaml:6:22: warning: environment variable SONDE_TEST_BATCH is not set/));
  });

  it('reports wrong types, enums, formats, required keys, bad signals and duplicates in one pass', () => {
    const { config, problems } = resolveConfig(readYamlSource(data('bad-types.yaml'), {}), find);
    expect(config).toBeUndefined();
    const text = problems.map(formatProblem).join('\n');
    expect(text).toMatch(/:5:14: error: processors\.batch\.timeout: must be a duration/);
    expect(text).toMatch(/:6:22: error: processors\.batch\.send_batch_size: must be an integer/);
    expect(text).toMatch(/:9:16: error: exporters\.debug\.verbosity: must be one of "basic", "normal", "detailed"/);
    expect(text).toMatch(/:10:9: error: exporters\.file\.path: must not be empty/);
    expect(text).toMatch(/:13:25: error: service\.telemetry\.metrics\.address: must be a valid hostport/);
    expect(text).toMatch(/:14:20: error: service\.telemetry\.logs\.level: must be one of/);
    expect(text).toMatch(/:15:3: error: service\.extras: unknown key "extras"/);
    expect(text).toMatch(/:17:5: error: service\.pipelines\.logs: .*unsupported signal "logs"/);
    expect(text).toMatch(/:22:25: error: service\.pipelines\.metrics\.exporters\.1: "file" is listed twice/);
  });

  it('reports YAML syntax errors with their position instead of throwing', () => {
    const { config, problems } = resolveConfig(parseYamlSource('broken.yaml', 'service:\n  pipelines: [\n', {}), find);
    expect(config).toBeUndefined();
    expect(problems[0]).toMatchObject({ severity: 'error', file: 'broken.yaml' });
    expect(problems[0]!.message).toMatch(/^YAML:/);
    expect(problems[0]!.line).toBeGreaterThan(1);
  });

  it('rejects a config that is not a mapping and one without service', () => {
    expect(resolveConfig(parseYamlSource('a.yaml', '- 1\n', {}), find).problems[0]!.message).toMatch(/must be a mapping/);
    const r = resolveConfig(parseYamlSource('b.yaml', 'exporters:\n  debug:\n', {}), find);
    expect(r.problems.map((p) => p.message)).toContainEqual(expect.stringMatching(/"service" section with pipelines is required/));
  });
});

describe('semantic validation (factory validateConfig)', () => {
  const calls: unknown[] = [];
  // Checks that depend on several keys, as real components have; one of them throws.
  const checked: ComponentFactory = {
    ...fakeReceiver,
    type: 'checked',
    configSchema: {
      type: 'object',
      additionalProperties: false,
      properties: { low: { type: 'integer', default: 1 }, high: { type: 'integer', default: 2 }, list: { type: 'array', items: { type: 'string' }, default: [] } },
    },
    createDefaultConfig: () => ({ low: 1, high: 2, list: [] }),
    validateConfig(config: { low: number; high: number; list: string[] }) {
      calls.push(config);
      if (config.low < 0) throw new Error('boom');
      const issues = [];
      if (config.low >= config.high) issues.push({ path: 'low', message: `must be below high (${config.high})` });
      config.list.forEach((x, i) => x.startsWith('/') || issues.push({ path: `list[${i}]`, message: 'must start with "/"' }));
      if (config.high > 100) issues.push({ path: '', message: 'high is too high' });
      return issues;
    },
  };
  const findChecked = (kind: ComponentKind, type: string) => (type === 'checked' && kind === 'receiver' ? checked : find(kind, type));
  const yaml = (body: string): string =>
    `receivers:\n${body}exporters:\n  debug: {}\nservice:\n  pipelines:\n    traces: { receivers: [checked, checked/b], exporters: [debug] }\n`;

  it('reports every problem of every component, with its key path and line:col, after the schema passed', () => {
    const text = yaml('  checked:\n    low: 300\n    high: 200\n    list: ["/a", "b", "c"]\n  checked/b:\n    low: 3\n');
    const { config, problems } = resolveConfig(parseYamlSource('s.yaml', text, {}), findChecked);
    expect(config).toBeUndefined();
    expect(problems.map(formatProblem)).toEqual([
      's.yaml:2:3: error: receivers.checked: high is too high',
      's.yaml:3:10: error: receivers.checked.low: must be below high (200)',
      's.yaml:5:18: error: receivers.checked.list.1: must start with "/"',
      's.yaml:5:23: error: receivers.checked.list.2: must start with "/"',
      's.yaml:7:10: error: receivers.checked/b.low: must be below high (2)',
    ]);
  });

  it('skips the semantic checks of a config the schema rejected, and turns a throwing check into a problem', () => {
    calls.length = 0;
    const { problems } = resolveConfig(parseYamlSource('s.yaml', yaml('  checked:\n    low: "x"\n  checked/b:\n    low: -1\n'), {}), findChecked);
    expect(calls).toEqual([{ low: -1, high: 2, list: [] }]);
    expect(problems.map(formatProblem)).toEqual([
      's.yaml:3:10: error: receivers.checked.low: must be an integer',
      's.yaml:4:3: error: receivers.checked/b: the config could not be checked: boom',
    ]);
  });

  it('accepts a config whose checks pass', () => {
    const { config, problems } = resolveConfig(parseYamlSource('s.yaml', yaml('  checked: { list: ["/a"] }\n  checked/b:\n'), {}), findChecked);
    expect(problems).toEqual([]);
    expect(config!.receivers.get('checked')!.config).toEqual({ low: 1, high: 2, list: ['/a'] });
  });

  it('splits key paths written with dots or brackets', () => {
    expect(splitPath('')).toEqual([]);
    expect(splitPath('http.routes[1]')).toEqual(['http', 'routes', 1]);
    expect(splitPath('extract.labels.0.key_regex')).toEqual(['extract', 'labels', 0, 'key_regex']);
    expect(splitPath('a[2][3].b')).toEqual(['a', 2, 3, 'b']);
  });
});

describe('units and env', () => {
  it('parses durations and sizes like the Collector', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration(0)).toBe(0);
    expect(() => parseDuration('10')).toThrow(/unit/);
    expect(parseSize('64KiB')).toBe(65536);
    expect(parseSize(1024)).toBe(1024);
    expect(parseSize('1MiB')).toBe(1048576);
    expect(() => parseSize('lots')).toThrow();
  });

  it('expands env references with defaults and escapes', () => {
    expect(expandEnv('${env:A}:${env:B:-9}', { A: 'x' })).toEqual({ value: 'x:9', missing: [], whole: false });
    expect(expandEnv('$${env:A}', { A: 'x' }).value).toBe('${env:A}');
    expect(expandEnv('${env:NOPE}', {})).toEqual({ value: '', missing: ['NOPE'], whole: true });
  });
});
