// `sonde run` with k8sattributes `auth_type: serviceAccount`, as in a pod: the service account
// volume (token, ca.crt, namespace) mounted at /var/run/secrets/kubernetes.io/serviceaccount in a
// private mount namespace, KUBERNETES_SERVICE_HOST/PORT pointing at the fake API server over HTTPS.
// Asserts the bearer token on every request, TLS verification against the mounted CA (and a
// server certificate from another CA refused without a crash), a kubelet-style token rotation
// used on the next re-list and watch, and pod metadata on the exported data.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollValue } from '../helpers/poll.js';
import { promValue, waitForOk } from '../helpers/sonde-process.js';
import { makePki, type TestPki } from '../otlp/certs.js';
import { FakeApiServer } from './fake-apiserver.js';
import { newUid, pod, replicaSet } from './fixtures.js';
import { exportedResource } from './harness.js';
import { startSondeInPod, type InClusterSonde } from './in-cluster-sonde.js';
import { writeK8sRunConfig } from './sonde-config.js';

const onPath = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const canRun = process.getuid?.() === 0 && ['unshare', 'nsenter', 'mount', 'openssl'].every(onPath);
if (!canRun && process.env.CI === 'true') throw new Error('the in-cluster k8sattributes test needs root, util-linux (unshare, nsenter, mount) and openssl');

function metricsRequest(podUid: string, marker: string): string {
  const now = String(BigInt(Date.now()) * 1_000_000n);
  return JSON.stringify({
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'k8s.pod.uid', value: { stringValue: podUid } }] },
        scopeMetrics: [{ scope: { name: 'test' }, metrics: [{ name: marker, gauge: { dataPoints: [{ asInt: '1', timeUnixNano: now }] } }] }],
      },
    ],
  });
}

interface Run {
  proc: InClusterSonde;
  metrics(): Promise<string>;
  /** Posts one metric named `marker` for the pod and returns the exported resource attributes. */
  send(podUid: string, marker: string): Promise<Record<string, unknown> | undefined>;
}

describe.runIf(canRun)('k8sattributes with auth_type serviceAccount (in-cluster)', () => {
  let pki: TestPki;
  let otherPki: TestPki;
  const dir = mkdtempSync(join(tmpdir(), 'sonde-k8s-incluster-'));
  const procs: InClusterSonde[] = [];
  const apis: FakeApiServer[] = [];

  beforeAll(() => {
    pki = makePki();
    otherPki = makePki();
  });
  afterAll(async () => {
    for (const p of procs) {
      if (p.child.exitCode === null && p.child.signalCode === null) await p.stop('SIGKILL');
      p.dispose();
    }
    for (const a of apis) await a.stop();
    pki?.dispose();
    otherPki?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  async function startApi(tls: { cert: Buffer; key: Buffer }): Promise<FakeApiServer> {
    const api = new FakeApiServer({ tls });
    apis.push(api);
    await api.start();
    return api;
  }

  async function runInPod(name: string, api: FakeApiServer, token: string, caCrt: Buffer): Promise<Run> {
    const out = join(dir, `${name}.jsonl`);
    const config = join(dir, `${name}.yaml`);
    const { admin: adminPort, otlpHttp: otlpPort } = await writeK8sRunConfig(config, { authType: 'serviceAccount', exporter: 'file', exporterSettings: `{ path: ${out} }` });
    const proc = startSondeInPod(['run', '--config', config], { token, caCrt }, { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port), K8S_NODE_NAME: 'node-a' });
    procs.push(proc);
    await waitForOk(`http://127.0.0.1:${adminPort}/readyz`, proc);
    return {
      proc,
      metrics: async () => (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text(),
      async send(podUid, marker) {
        const r = await fetch(`http://127.0.0.1:${otlpPort}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: metricsRequest(podUid, marker) });
        expect(r.status).toBe(200);
        return pollValue(() => exportedResource(out, marker), (v) => v !== undefined, 10_000);
      },
    };
  }

  it('logs in with the mounted token over TLS verified by the mounted CA, enriches data, and uses a rotated token on the next re-list and watch', async () => {
    const api = await startApi(pki.server);
    api.acceptTokens(['sa-token-1']);
    const uid = newUid();
    api.create('replicasets', replicaSet('shop', 'frontend', '6f7d8c9b5a'));
    api.create('pods', pod({ name: 'frontend-6f7d8c9b5a-p9x7m', namespace: 'shop', uid, ip: '10.1.50.1', owner: { kind: 'ReplicaSet', name: 'frontend-6f7d8c9b5a', uid: newUid() } }));

    const run = await runInPod('login', api, 'sa-token-1', pki.ca.cert);
    const up = async (): Promise<number> => promValue(await run.metrics(), 'sonde_k8s_api_up', { processor: 'k8sattributes' });
    expect(await pollValue(up, (v) => v === 1, 15_000)).toBe(1);
    expect(run.proc.readToken()).toBe('sa-token-1');

    expect(await run.send(uid, 'first.login')).toMatchObject({ 'k8s.pod.name': 'frontend-6f7d8c9b5a-p9x7m', 'k8s.namespace.name': 'shop', 'k8s.deployment.name': 'frontend' });
    // Lists and watches of every resource the processor needs, each with the token, none refused.
    const before = [...api.requests];
    expect(new Set(before.map((q) => `${q.resource}:${q.watch ? 'watch' : 'list'}`))).toEqual(
      new Set(['pods:list', 'pods:watch', 'replicasets:list', 'replicasets:watch', 'jobs:list', 'jobs:watch', 'services:list', 'services:watch']),
    );
    expect(before.filter((q) => q.authorization !== 'Bearer sa-token-1' || q.status !== 200)).toEqual([]);
    expect(before.filter((q) => q.resource === 'pods').every((q) => q.fieldSelector === 'spec.nodeName=node-a')).toBe(true);
    expect(api.tlsClientErrors).toBe(0);

    // The kubelet rotates the token; the API server stops accepting the old one. A write this
    // node's watches do not see (a pod elsewhere), then compaction and the end of every watch:
    // each informer resumes from a version that is gone, gets 410 Gone, and lists again.
    run.proc.rotateToken('sa-token-2');
    expect(run.proc.readToken()).toBe('sa-token-2');
    api.acceptTokens(['sa-token-2']);
    const mark = api.requests.length;
    api.create('pods', pod({ name: 'elsewhere', namespace: 'shop', node: 'node-b', ip: '10.1.50.3' }));
    api.compact();
    api.closeWatches();
    const lists = async (): Promise<number> => promValue(await run.metrics(), 'sonde_k8s_lists_total', { processor: 'k8sattributes', resource: 'pods' });
    // Within the client library's own one-minute token cache: the old token would still be sent.
    expect(await pollValue(lists, (v) => v === 2, 20_000)).toBe(2);
    const resumed = (): boolean => ['pods', 'replicasets', 'jobs', 'services'].every((r) => api.requests.slice(mark).some((q) => q.resource === r && q.watch && q.status === 200));
    expect(await pollValue(resumed, Boolean, 20_000)).toBe(true);
    const after = api.requests.slice(mark);
    expect(after.some((q) => q.resource === 'pods' && !q.watch)).toBe(true);
    expect(after.filter((q) => q.authorization !== 'Bearer sa-token-2' || q.status !== 200)).toEqual([]);
    expect(await up()).toBe(1);

    // A pod created after the rotation arrives on the new watch (data sent until it is known).
    const lateUid = newUid();
    api.create('pods', pod({ name: 'frontend-6f7d8c9b5a-z2k8q', namespace: 'shop', uid: lateUid, ip: '10.1.50.2', owner: { kind: 'ReplicaSet', name: 'frontend-6f7d8c9b5a', uid: newUid() } }));
    let attempt = 0;
    const late = await pollValue(() => run.send(lateUid, `after.rotation.${++attempt}`), (a) => a?.['k8s.pod.name'] !== undefined, 10_000, 200);
    expect(late).toMatchObject({ 'k8s.pod.name': 'frontend-6f7d8c9b5a-z2k8q', 'k8s.deployment.name': 'frontend' });
    expect(promValue(await run.metrics(), 'sonde_k8s_watch_errors_total', { processor: 'k8sattributes' }) || 0).toBe(0);
    expect((await run.proc.stop('SIGTERM')).code).toBe(0);
  });

  it('refuses an API server whose certificate is from another CA: api_up 0, watch errors counted, data still flows, no crash', async () => {
    // Valid for 127.0.0.1, but signed by a CA that is not the mounted ca.crt.
    const api = await startApi(otherPki.server);
    const uid = newUid();
    api.create('pods', pod({ name: 'impostor-pod', namespace: 'shop', uid, ip: '10.1.50.9' }));

    const run = await runInPod('wrong-ca', api, 'sa-token-1', pki.ca.cert);
    const errors = async (): Promise<number> => promValue(await run.metrics(), 'sonde_k8s_watch_errors_total', { processor: 'k8sattributes', resource: 'pods' });
    // The first attempt and at least one retry (backoff starts at 500 ms).
    expect(await pollValue(errors, (v) => v >= 2, 15_000)).toBeGreaterThanOrEqual(2);
    const body = await run.metrics();
    expect(promValue(body, 'sonde_k8s_api_up', { processor: 'k8sattributes' })).toBe(0);
    expect(promValue(body, 'sonde_k8s_lists_total', { processor: 'k8sattributes', resource: 'pods' })).toBeNaN();
    // No request got past the handshake, so no token was sent to the impostor.
    expect(api.requests).toEqual([]);
    expect(api.tlsClientErrors).toBeGreaterThanOrEqual(2);
    expect(run.proc.stderr()).toContain('SONDE_K8S_API_UNAVAILABLE');
    expect(run.proc.stderr()).toMatch(/unable to verify the first certificate|self[- ]signed certificate|unable to get local issuer certificate/);

    // The pipeline keeps running: data passes through without pod metadata.
    const attrs = await run.send(uid, 'wrong.ca');
    expect(attrs).toBeDefined();
    expect(attrs!['k8s.pod.name']).toBeUndefined();
    expect(run.proc.child.exitCode).toBeNull();
    expect((await run.proc.stop('SIGTERM')).code).toBe(0);
  });
});
