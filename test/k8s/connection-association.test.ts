// `sonde run` with the otlp receiver and k8sattributes: data an application sends from its pod's
// IP is associated with that pod by the connection's source address (association.from_connection),
// over OTLP/HTTP and OTLP/gRPC. Clients bind 127.0.0.x source addresses to play the pods.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect as http2Connect } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeOtlpRequest } from '../../src/pdata/otlp/encode.js';
import { AggregationTemporality, type Attributes, type MetricsBatch } from '../../src/pdata/types.js';
import { freePort } from '../helpers/free-port.js';
import { promValue, startSonde, waitForOk, type SondeProcess } from '../helpers/sonde-process.js';
import { FakeApiServer } from './fake-apiserver.js';
import { newUid, pod, replicaSet, writeKubeconfig } from './fixtures.js';
import { exportedResource } from './harness.js';

const POD_IP = '127.0.0.7';
const SHARED_IP = '127.0.0.9';
const NODE_IP = '127.0.0.1';
const GRPC_METRICS_PATH = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';

/** One gauge point named `marker` (to find the exported line) under a resource with `resource`. */
function batch(marker: string, resource: Attributes): MetricsBatch {
  const now = BigInt(Date.now()) * 1_000_000n;
  return {
    signal: 'metrics',
    resourceMetrics: [
      {
        resource: { attributes: { 'service.name': 'app', ...resource } },
        scopeMetrics: [
          {
            scope: { name: 'test' },
            metrics: [
              {
                name: marker,
                type: 'sum',
                aggregationTemporality: AggregationTemporality.CUMULATIVE,
                isMonotonic: true,
                dataPoints: [{ attributes: {}, startTimeUnixNano: now, timeUnixNano: now, value: 1, isInt: true }],
              },
            ],
          },
        ],
      },
    ],
  } as MetricsBatch;
}

/** OTLP/HTTP JSON POST from `from` (a bound source address); resolves to the status code. */
function postHttp(port: number, from: string, body: MetricsBatch): Promise<number> {
  const payload = Buffer.from(encodeOtlpRequest(body, 'json'));
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path: '/v1/metrics', method: 'POST', localAddress: from, agent: false, headers: { 'content-type': 'application/json', 'content-length': payload.length } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * One unary OTLP/gRPC Export over a raw HTTP/2 connection whose socket is bound to `from`
 * (grpc-js has no channel option for the source address). Resolves to the grpc-status trailer.
 */
function exportGrpc(port: number, from: string, body: MetricsBatch): Promise<string> {
  const message = Buffer.from(encodeOtlpRequest(body, 'protobuf'));
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return new Promise((resolve, reject) => {
    const session = http2Connect(`http://127.0.0.1:${port}`, { createConnection: () => netConnect({ host: '127.0.0.1', port, localAddress: from }) });
    session.on('error', reject);
    const stream = session.request({ ':method': 'POST', ':path': GRPC_METRICS_PATH, 'content-type': 'application/grpc', te: 'trailers' });
    let status: string | undefined;
    stream.on('response', (headers) => {
      if (headers['grpc-status'] !== undefined) status = String(headers['grpc-status']);
    });
    stream.on('trailers', (trailers) => {
      status = String(trailers['grpc-status']);
    });
    stream.on('error', reject);
    stream.resume();
    stream.on('close', () => {
      session.close();
      resolve(status ?? 'none');
    });
    stream.end(frame);
  });
}

async function writeConfig(file: string, out: string, fromConnection: boolean): Promise<{ admin: number; http: number; grpc: number }> {
  const [admin, http, grpc] = [await freePort(), await freePort(), await freePort()];
  writeFileSync(
    file,
    [
      'receivers:',
      '  otlp:',
      '    protocols:',
      `      grpc: { endpoint: 127.0.0.1:${grpc} }`,
      `      http: { endpoint: 127.0.0.1:${http} }`,
      'processors:',
      '  k8sattributes:',
      '    auth_type: kubeConfig',
      `    association: { from_connection: ${fromConnection} }`,
      'exporters:',
      `  file: { path: ${out} }`,
      'service:',
      `  telemetry: { metrics: { address: 127.0.0.1:${admin} } }`,
      '  pipelines:',
      '    metrics: { receivers: [otlp], processors: [k8sattributes], exporters: [file] }',
      '',
    ].join('\n'),
  );
  return { admin, http, grpc };
}

describe('k8sattributes association by connection (sonde run)', () => {
  const api = new FakeApiServer();
  const dir = mkdtempSync(join(tmpdir(), 'sonde-k8s-conn-'));
  const procs: SondeProcess[] = [];
  const checkoutUid = newUid();
  const cartUid = newUid();
  afterAll(async () => {
    for (const p of procs) if (p.child.exitCode === null) await p.stop('SIGKILL');
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function run(name: string, fromConnection: boolean) {
    const out = join(dir, `${name}.jsonl`);
    const config = join(dir, `${name}.yaml`);
    const ports = await writeConfig(config, out, fromConnection);
    const proc = startSonde(['run', '--config', config], { KUBECONFIG: writeKubeconfig(api.port), K8S_NODE_NAME: 'node-a' });
    procs.push(proc);
    await waitForOk(`http://127.0.0.1:${ports.admin}/readyz`, proc);
    const metrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${ports.admin}/metrics`)).text();
    await expect.poll(async () => promValue(await metrics(), 'sonde_k8s_cached_objects', { processor: 'k8sattributes', resource: 'pods' }), { timeout: 10_000 }).toBe(5);
    const sent = async (marker: string): Promise<Record<string, unknown>> => {
      await expect.poll(() => exportedResource(out, marker), { timeout: 10_000 }).toBeDefined();
      return exportedResource(out, marker)!;
    };
    // A method never used has no series yet: that is 0 associations.
    const associations = async (method: string): Promise<number> => promValue(await metrics(), 'sonde_k8s_associations_total', { processor: 'k8sattributes', method }) || 0;
    return { proc, ports, sent, associations };
  }

  it('names the sending pod over HTTP and gRPC, never by a shared or host-network IP, and never over a resource that names its pod', async () => {
    await api.start();
    api.create('replicasets', replicaSet('shop', 'checkout', '7c9d5f6b8d'));
    api.create('pods', pod({ name: 'checkout-7c9d5f6b8d-x2v9q', namespace: 'shop', uid: checkoutUid, ip: POD_IP, owner: { kind: 'ReplicaSet', name: 'checkout-7c9d5f6b8d', uid: newUid() } }));
    api.create('pods', pod({ name: 'cart-0', namespace: 'shop', uid: cartUid, ip: '10.1.50.4', owner: { kind: 'StatefulSet', name: 'cart', uid: newUid() } }));
    // A host-network pod reports the node's IP as its pod IP; the node (127.0.0.1 here) is where
    // node-local processes send from.
    const hostPod = pod({ name: 'node-exporter-abcde', namespace: 'monitoring', hostNetwork: true, owner: { kind: 'DaemonSet', name: 'node-exporter', uid: newUid() } });
    hostPod.status.hostIP = NODE_IP;
    hostPod.status.hostIPs = [{ ip: NODE_IP }];
    hostPod.status.podIP = NODE_IP;
    hostPod.status.podIPs = [{ ip: NODE_IP }];
    api.create('pods', hostPod);
    // Two live pods holding one IP (a delete still on its way): ambiguous, so no association.
    api.create('pods', pod({ name: 'old-worker', namespace: 'jobs', ip: SHARED_IP, owner: { kind: 'Job', name: 'w1', uid: newUid() } }));
    // ...the second one is created after the first (the store's podByIp would pick it).
    api.create('pods', pod({ name: 'new-worker', namespace: 'jobs', ip: SHARED_IP, created: new Date(Date.now() + 1000), owner: { kind: 'Job', name: 'w2', uid: newUid() } }));

    const { proc, ports, sent, associations } = await run('on', true);

    expect(await postHttp(ports.http, POD_IP, batch('http.from.pod', {}))).toBe(200);
    expect(await exportGrpc(ports.grpc, POD_IP, batch('grpc.from.pod', {}))).toBe('0');
    for (const marker of ['http.from.pod', 'grpc.from.pod']) {
      const r = await sent(marker);
      expect(r).toMatchObject({ 'k8s.pod.name': 'checkout-7c9d5f6b8d-x2v9q', 'k8s.pod.uid': checkoutUid, 'k8s.namespace.name': 'shop', 'k8s.deployment.name': 'checkout', 'k8s.replicaset.name': 'checkout-7c9d5f6b8d', 'service.name': 'checkout' });
    }

    expect(await postHttp(ports.http, NODE_IP, batch('http.from.node', {}))).toBe(200);
    expect(await exportGrpc(ports.grpc, NODE_IP, batch('grpc.from.node', {}))).toBe('0');
    expect(await postHttp(ports.http, SHARED_IP, batch('http.from.shared', {}))).toBe(200);
    for (const marker of ['http.from.node', 'grpc.from.node', 'http.from.shared']) {
      const r = await sent(marker);
      expect(r['k8s.pod.name']).toBeUndefined();
      expect(r['k8s.namespace.name']).toBeUndefined();
      expect(r['service.name']).toBe('app');
    }

    // The resource names its own pod: that pod wins (k8s.pod.uid), and a pod uid Sonde does not
    // know is not replaced by the sender's pod either.
    expect(await postHttp(ports.http, POD_IP, batch('http.names.cart', { 'k8s.pod.uid': cartUid }))).toBe(200);
    const unknownUid = newUid();
    expect(await postHttp(ports.http, POD_IP, batch('http.names.unknown', { 'k8s.pod.uid': unknownUid }))).toBe(200);
    expect(await sent('http.names.cart')).toMatchObject({ 'k8s.pod.name': 'cart-0', 'k8s.pod.uid': cartUid, 'k8s.statefulset.name': 'cart' });
    const unknown = await sent('http.names.unknown');
    expect(unknown['k8s.pod.uid']).toBe(unknownUid);
    expect(unknown['k8s.pod.name']).toBeUndefined();

    expect(await associations('connection')).toBe(2);
    expect(await associations('pod_uid')).toBe(1);
    expect(await associations('none')).toBe(4);
    const { code } = await proc.stop('SIGTERM');
    expect(code).toBe(0);
  });

  it('with association.from_connection: false associates nothing by the sender\'s address', async () => {
    const { proc, ports, sent, associations } = await run('off', false);
    expect(await postHttp(ports.http, POD_IP, batch('off.http.from.pod', {}))).toBe(200);
    expect(await exportGrpc(ports.grpc, POD_IP, batch('off.grpc.from.pod', {}))).toBe('0');
    for (const marker of ['off.http.from.pod', 'off.grpc.from.pod']) {
      const r = await sent(marker);
      expect(r['k8s.pod.name']).toBeUndefined();
      expect(r['service.name']).toBe('app');
    }
    expect(await associations('connection')).toBe(0);
    expect(await associations('none')).toBe(2);
    const { code } = await proc.stop('SIGTERM');
    expect(code).toBe(0);
  });
});
