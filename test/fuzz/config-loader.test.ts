// Fuzzes the config loader (YAML parse, ${env:...} substitution, schema validation, pipeline
// rules) with random text, mutated valid configs, and random values planted at random places of a
// valid config. It must never throw (except a SondeError with a code), and must either return a
// config or at least one error problem with a location.
import fc from 'fast-check';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/resolve.js';
import { parseYamlSource } from '../../src/config/yaml-source.js';
import { expectNoLeak, expectSondeError, fcParams, sampleParams, testTimeout } from './fuzz-settings.js';

const RUNS = 600;

const VALID = `receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:4317 }
      http: { endpoint: "\${env:OTLP_HTTP:-127.0.0.1:4318}", max_request_body_size: 4MiB }
processors:
  memory_limiter: { check_interval: 1s, limit_mib: 512, spike_limit_mib: 128 }
  batch: { send_batch_size: 512, timeout: 200ms }
exporters:
  debug: {}
  otlphttp/backend:
    endpoint: http://127.0.0.1:4319
    timeout: 5s
    retry_on_failure: { enabled: true, initial_interval: 1s, max_interval: 5s, max_elapsed_time: 60s }
    sending_queue: { enabled: true, queue_size: 100, num_consumers: 2, when_full: block }
service:
  telemetry: { logs: { level: info }, metrics: { address: 127.0.0.1:8888 } }
  pipelines:
    traces: { receivers: [otlp], processors: [memory_limiter, batch], exporters: [otlphttp/backend, debug] }
    metrics/x: { receivers: [otlp], processors: [batch], exporters: [debug] }
`;

/**
 * Two bugs this fuzzer found are fixed and pinned by the regression tests below: an unresolved
 * or excessive YAML alias used to throw a bare ReferenceError, and a key named like an
 * Object.prototype member (`constructor`) used to make the merge throw a DataCloneError.
 */

function load(text: string, env: NodeJS.ProcessEnv = {}): void {
  let result;
  try {
    result = resolveConfig(parseYamlSource('fuzz.yaml', text, env));
  } catch (err) {
    expectSondeError(err);
    return;
  }
  if (!result.config) {
    const errors = result.problems.filter((p) => p.severity === 'error');
    expect(errors.length).toBeGreaterThan(0);
    for (const p of errors) {
      expect(typeof p.message).toBe('string');
      expect(p.file).toBe('fuzz.yaml');
      expect(Number.isInteger(p.line) && p.line >= 1).toBe(true);
    }
  }
}

const yamlNoise = fc.constantFrom(':', '- ', '{', '}', '[', ']', '&a ', '*a', '!!binary ', '? ', '|', '>', '#', '"', "'", '\t', '\n', '  ', '${env:X}', '${env:', '$$', '<<: *a', '---\n', '...\n', '%YAML 1.2\n', '\u0000', '\ufeff');

const textMutation = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 40 }) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.oneof(yamlNoise, fc.string({ maxLength: 12 })) }),
    fc.record({ kind: fc.constant('dupline' as const), at: fc.nat() }),
  ),
  { minLength: 1, maxLength: 6 },
);

function mutateText(text: string, ms: { kind: 'delete' | 'insert' | 'dupline'; at: number; len?: number; text?: string }[]): string {
  let s = text;
  for (const m of ms) {
    const at = m.at % (s.length + 1);
    if (m.kind === 'delete') s = s.slice(0, at) + s.slice(at + m.len!);
    else if (m.kind === 'insert') s = s.slice(0, at) + m.text! + s.slice(at);
    else {
      const lines = s.split('\n');
      const i = m.at % lines.length;
      lines.splice(i, 0, lines[i]!);
      s = lines.join('\n');
    }
  }
  return s;
}

const VALID_JSON = JSON.stringify(parseYamlSource('v.yaml', VALID, {}).value);

/** Plants a random value at a random place of the valid config's tree, then dumps it as YAML. */
function plant(pick: number, key: string, value: unknown, replace: boolean): string {
  const doc = JSON.parse(VALID_JSON) as Record<string, unknown>;
  const nodes: Record<string, unknown>[] = [];
  const walk = (v: unknown): void => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      nodes.push(v as Record<string, unknown>);
      for (const x of Object.values(v)) walk(x);
    } else if (Array.isArray(v)) v.forEach(walk);
  };
  walk(doc);
  const node = nodes[pick % nodes.length]!;
  const keys = Object.keys(node);
  if (replace && keys.length > 0) node[keys[pick % keys.length]!] = value;
  else node[key] = value;
  return stringify(doc);
}

describe('fuzz: config loader', () => {
  it('loads the seed config (sanity)', () => {
    const r = resolveConfig(parseYamlSource('fuzz.yaml', VALID, {}));
    expect(r.problems.filter((p) => p.severity === 'error')).toEqual([]);
    expect(r.config?.pipelines.length).toBe(2);
  });

  it(
    'random text: a config or located problems, never a crash',
    () => {
      fc.assert(
        fc.property(fc.oneof(fc.string({ maxLength: 2000 }), fc.array(fc.oneof(yamlNoise, fc.string({ maxLength: 10 })), { maxLength: 200 }).map((xs) => xs.join(''))), (text) => load(text)),
        fcParams(RUNS),
      );
    },
    testTimeout(RUNS, 5),
  );

  it(
    'mutated valid configs and random values planted in them: a config or located problems',
    () => {
      fc.assert(fc.property(textMutation, (ms) => load(mutateText(VALID, ms))), fcParams(RUNS));
      const value = fc.oneof(
        fc.jsonValue({ maxDepth: 4 }),
        fc.constantFrom('0', '-1s', '1e309', '5x', 'KiB', '${env:NOPE}', '${env:SET}', '${env:SET:-}', '127.0.0.1:99999', 'http://', 0, -1, 2 ** 53, Number.MAX_SAFE_INTEGER, null),
      );
      fc.assert(
        fc.property(fc.nat(), fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('storage_dir', 'when_full', 'limit_mib', 'pipelines', 'receivers', '__proto__', 'constructor')), value, fc.boolean(), (pick, key, v, replace) => {
          load(plant(pick, key, v, replace), { SET: '1s' });
        }),
        fcParams(RUNS),
      );
    },
    testTimeout(RUNS * 2, 8),
  );

  it('an unresolved or excessive YAML alias is a located problem, not a ReferenceError', () => {
    for (const text of ['receivers: *nope\n', `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: [${Array(120).fill('*a').join(', ')}]\n`]) {
      const r = resolveConfig(parseYamlSource('fuzz.yaml', text, {}));
      expect(r.config).toBeUndefined();
      expect(r.problems.some((p) => p.severity === 'error' && /alias/i.test(p.message))).toBe(true);
    }
  });

  it('a config key named like an Object.prototype member is validated, not a DataCloneError', () => {
    const text = 'receivers:\n  otlp:\n    constructor: null\nexporters:\n  debug: {}\nservice:\n  pipelines:\n    traces: { receivers: [otlp], exporters: [debug] }\n';
    const r = resolveConfig(parseYamlSource('fuzz.yaml', text, {}));
    expect(r.problems.some((p) => p.severity === 'error' && p.message.includes('constructor'))).toBe(true);
  });


  it(
    'loading configs over and over does not leak',
    async () => {
      const texts = fc.sample(textMutation, sampleParams(200)).map((ms) => mutateText(VALID, ms));
      await expectNoLeak(
        () => {
          for (const t of texts) {
            try {
              resolveConfig(parseYamlSource('fuzz.yaml', t, {}));
            } catch {
              // checked above
            }
          }
        },
        5,
        6 << 20,
      );
    },
    120_000,
  );
});
