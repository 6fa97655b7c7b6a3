import { describe, expect, it } from 'vitest';
import { compileSchema } from '../../src/config/ajv.js';
import { mergeOverDefaults } from '../../src/config/merge.js';
import { prometheusExporterFactory } from '../../src/exporters/prometheus/factory.js';
import { prometheusRemoteWriteExporterFactory } from '../../src/exporters/prometheusremotewrite/factory.js';

const rw = compileSchema(prometheusRemoteWriteExporterFactory.configSchema);
const scrape = compileSchema(prometheusExporterFactory.configSchema);

const rwCases: Record<string, [unknown, boolean]> = {
  minimal: [{ endpoint: 'http://127.0.0.1:9090/api/v1/write' }, true],
  full: [
    {
      endpoint: 'https://prom.example/api/v1/write',
      headers: { 'X-Scope-OrgID': 'a' },
      namespace: 'edge',
      max_samples_per_request: 500,
      resource_to_telemetry_conversion: { enabled: true, attributes: ['k8s.pod.name'] },
      target_info: { enabled: false },
      delta_to_cumulative: { max_stale: '30m' },
      timeout: '3s',
      retry_on_failure: { enabled: true, initial_interval: '1s', max_interval: '10s', max_elapsed_time: 0 },
      sending_queue: { enabled: true, queue_size: 50, num_consumers: 1, when_full: 'drop_newest' },
    },
    true,
  ],
  'no endpoint': [{}, false],
  'not a URL': [{ endpoint: '127.0.0.1:9090' }, false],
  'two consumers': [{ endpoint: 'http://x/api/v1/write', sending_queue: { num_consumers: 2 } }, false],
  'zero samples': [{ endpoint: 'http://x/api/v1/write', max_samples_per_request: 0 }, false],
  'unknown key': [{ endpoint: 'http://x/api/v1/write', remote_write_queue: {} }, false],
  'bad namespace': [{ endpoint: 'http://x/api/v1/write', namespace: 'a.b' }, false],
  'header not a string': [{ endpoint: 'http://x/api/v1/write', headers: { a: 1 } }, false],
};

const scrapeCases: Record<string, [unknown, boolean]> = {
  defaults: [{}, true],
  ipv6: [{ endpoint: '[::1]:9464', metric_expiration: '10m', send_timestamps: true }, true],
  'no port': [{ endpoint: '127.0.0.1' }, false],
  'bad duration': [{ metric_expiration: '5 minutes' }, false],
  'relative path': [{ path: 'metrics' }, false],
  'unknown key': [{ enable_open_metrics: true }, false],
};

describe('prometheusremotewrite config', () => {
  it.each(Object.entries(rwCases))('%s', (_name, [config, valid]) => {
    const merged = mergeOverDefaults(prometheusRemoteWriteExporterFactory.createDefaultConfig(), config);
    expect(rw(merged)).toBe(valid);
  });
});

describe('prometheus config', () => {
  it.each(Object.entries(scrapeCases))('%s', (_name, [config, valid]) => {
    const merged = mergeOverDefaults(prometheusExporterFactory.createDefaultConfig(), config);
    expect(scrape(merged)).toBe(valid);
  });
});

describe('schemas document every key', () => {
  function walk(schema: Record<string, unknown>, path: string, out: string[]): void {
    const props = schema['properties'] as Record<string, Record<string, unknown>> | undefined;
    if (schema['type'] === 'object' && props) {
      expect(schema['additionalProperties'], path).not.toBe(undefined);
      for (const [k, v] of Object.entries(props)) {
        if (typeof v['description'] !== 'string') out.push(`${path}.${k}`);
        walk(v, `${path}.${k}`, out);
      }
    }
  }
  it.each([prometheusExporterFactory, prometheusRemoteWriteExporterFactory])('$type', (f) => {
    const missing: string[] = [];
    walk(f.configSchema as Record<string, unknown>, f.type, missing);
    expect(missing).toEqual([]);
  });
});
