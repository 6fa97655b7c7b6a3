// The `sonde run` config of the k8sattributes end-to-end tests: OTLP/HTTP metrics in (gRPC off),
// the k8sattributes processor, one exporter, and the admin endpoint on its own port.
import { writeFileSync } from 'node:fs';
import { freePort } from '../helpers/free-port.js';

export interface K8sRunPorts {
  admin: number;
  otlpHttp: number;
}

export interface K8sRunConfig {
  /** k8sattributes auth_type; left out, the processor runs with its defaults (`{}`). */
  authType?: 'serviceAccount' | 'kubeConfig';
  /** The one exporter's key and its settings as a YAML flow mapping, e.g. `file`, `{ path: out.jsonl }`. */
  exporter: string;
  exporterSettings: string;
}

/** Writes the config to `file` with two fresh ports (admin first, then OTLP/HTTP) and returns them. */
export async function writeK8sRunConfig(file: string, c: K8sRunConfig): Promise<K8sRunPorts> {
  const [admin, otlpHttp] = [await freePort(), await freePort()];
  writeFileSync(
    file,
    [
      'receivers:',
      '  otlp:',
      '    protocols:',
      '      grpc: { enabled: false }',
      `      http: { endpoint: 127.0.0.1:${otlpHttp} }`,
      'processors:',
      ...(c.authType === undefined ? ['  k8sattributes: {}'] : ['  k8sattributes:', `    auth_type: ${c.authType}`]),
      'exporters:',
      `  ${c.exporter}: ${c.exporterSettings}`,
      'service:',
      `  telemetry: { metrics: { address: 127.0.0.1:${admin} } }`,
      '  pipelines:',
      `    metrics: { receivers: [otlp], processors: [k8sattributes], exporters: [${c.exporter}] }`,
      '',
    ].join('\n'),
  );
  return { admin, otlpHttp };
}
