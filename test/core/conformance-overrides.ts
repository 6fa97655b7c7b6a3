// Config for the conformance test where a component's defaults cannot run in a sandbox
// (required paths, fixed ports, external servers). Keyed by `kind/type` (otlp is both a receiver
// and an exporter). Every registered
// component is tested whether or not it appears here.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'sonde-conformance-'));

// k8sattributes needs credentials to start; point it at a closed local port, which it must
// tolerate (API down = keep running with what it knows).
const kubeconfig = join(dir, 'kubeconfig');
writeFileSync(
  kubeconfig,
  `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: "http://127.0.0.1:9", insecure-skip-tls-verify: true } }]
users: [{ name: u, user: { token: conformance } }]
contexts: [{ name: x, context: { cluster: c, user: u } }]
current-context: x
`,
);
process.env.KUBECONFIG = kubeconfig;

export const CONFORMANCE_OVERRIDES: Record<string, Record<string, unknown>> = {
  'exporter/file': { path: join(dir, 'out.jsonl') },
  'exporter/prometheus': { endpoint: '127.0.0.1:0' },
  'exporter/prometheusremotewrite': { endpoint: 'http://127.0.0.1:9/api/v1/write', retry_on_failure: { enabled: false } },
  'exporter/otlp': { endpoint: '127.0.0.1:9', tls: { insecure: true }, retry_on_failure: { enabled: false } },
  'exporter/otlphttp': { endpoint: 'http://127.0.0.1:9', retry_on_failure: { enabled: false } },
  'receiver/otlp': { protocols: { grpc: { endpoint: '127.0.0.1:0' }, http: { endpoint: '127.0.0.1:0' } } },
  'processor/k8sattributes': { auth_type: 'kubeConfig', filter: { node: 'conformance' } },
  // A limit far above what the test process uses, so consume() passes through.
  'processor/memory_limiter': { limit_mib: 1_000_000 },
};
