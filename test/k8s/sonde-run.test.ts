// `sonde run` with k8sattributes against the fake API server: OTLP data in, enriched OTLP/JSON
// out, and an API server outage visible on the admin endpoint's /metrics while data keeps flowing
// with the last known metadata.
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { promValue, startSonde, waitForOk, type SondeProcess } from '../helpers/sonde-process.js';
import { FakeApiServer } from './fake-apiserver.js';
import { newUid, pod, replicaSet, service, writeKubeconfig } from './fixtures.js';
import { flat, type OtlpAttr } from './harness.js';
import { writeK8sRunConfig } from './sonde-config.js';

function metricsRequest(podUid: string, marker: string, peer: string): string {
  const now = String(BigInt(Date.now()) * 1_000_000n);
  return JSON.stringify({
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'k8s.pod.uid', value: { stringValue: podUid } }, { key: 'service.name', value: { stringValue: 'curl' } }] },
        scopeMetrics: [
          {
            scope: { name: 'test' },
            metrics: [
              {
                name: marker,
                sum: {
                  aggregationTemporality: 2,
                  isMonotonic: true,
                  dataPoints: [{ asInt: '1', startTimeUnixNano: now, timeUnixNano: now, attributes: [{ key: 'server.address', value: { stringValue: peer } }] }],
                },
              },
            ],
          },
        ],
      },
    ],
  });
}

describe('sonde run with k8sattributes', () => {
  const api = new FakeApiServer();
  const dir = mkdtempSync(join(tmpdir(), 'sonde-k8s-run-'));
  let proc: SondeProcess | undefined;
  afterAll(async () => {
    if (proc && proc.child.exitCode === null) await proc.stop('SIGKILL');
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('enriches OTLP data, shows an API outage in /metrics, keeps running on the last metadata, and recovers', async () => {
    await api.start();
    const uid = newUid();
    api.create('replicasets', replicaSet('shop', 'frontend', '6f7d8c9b5a'));
    api.create('pods', pod({ name: 'frontend-6f7d8c9b5a-p9x7m', namespace: 'shop', uid, ip: '10.1.40.1', owner: { kind: 'ReplicaSet', name: 'frontend-6f7d8c9b5a', uid: newUid() } }));
    api.create('services', service('shop', 'payments', '10.96.40.2'));
    const out = join(dir, 'out.jsonl');
    const config = join(dir, 'sonde.yaml');
    const { admin: adminPort, otlpHttp: otlpPort } = await writeK8sRunConfig(config, { authType: 'kubeConfig', exporter: 'file', exporterSettings: `{ path: ${out} }` });
    proc = startSonde(['run', '--config', config], { KUBECONFIG: writeKubeconfig(api.port), K8S_NODE_NAME: 'node-a' });
    await waitForOk(`http://127.0.0.1:${adminPort}/readyz`, proc);
    const metrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
    await expect.poll(async () => promValue(await metrics(), 'sonde_k8s_api_up', { processor: 'k8sattributes' }), { timeout: 10_000 }).toBe(1);

    const post = async (marker: string): Promise<number> =>
      (await fetch(`http://127.0.0.1:${otlpPort}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: metricsRequest(uid, marker, '10.96.40.2') })).status;
    const exported = (marker: string): { resource: Record<string, unknown>; point: Record<string, unknown> } | undefined => {
      if (!existsSync(out)) return undefined;
      for (const line of readFileSync(out, 'utf8').split('\n')) {
        if (!line.includes(marker)) continue;
        const rm = (JSON.parse(line) as { resourceMetrics: Array<{ resource: { attributes: OtlpAttr[] }; scopeMetrics: Array<{ metrics: Array<{ sum: { dataPoints: Array<{ attributes: OtlpAttr[] }> } }> }> }> }).resourceMetrics[0]!;
        return { resource: flat(rm.resource.attributes), point: flat(rm.scopeMetrics[0]!.metrics[0]!.sum.dataPoints[0]!.attributes) };
      }
      return undefined;
    };

    expect(await post('before.outage')).toBe(200);
    await expect.poll(() => exported('before.outage'), { timeout: 10_000 }).toBeDefined();
    expect(exported('before.outage')!.resource).toMatchObject({ 'k8s.pod.name': 'frontend-6f7d8c9b5a-p9x7m', 'k8s.deployment.name': 'frontend', 'service.name': 'frontend' });
    expect(exported('before.outage')!.point).toMatchObject({ 'sonde.peer.k8s.service.name': 'payments', 'sonde.peer.k8s.namespace.name': 'shop' });

    // Outage: the gauge drops, errors are counted, the pipeline keeps enriching from the cache.
    const port = api.port;
    await api.stop();
    // api_up drops at the first failing resource; the pods watch may fail a moment later.
    await expect
      .poll(async () => {
        const body = await metrics();
        return { up: promValue(body, 'sonde_k8s_api_up', { processor: 'k8sattributes' }), podErrors: promValue(body, 'sonde_k8s_watch_errors_total', { processor: 'k8sattributes', resource: 'pods' }) > 0 };
      }, { timeout: 10_000 })
      .toEqual({ up: 0, podErrors: true });
    expect((await fetch(`http://127.0.0.1:${adminPort}/healthz`)).status).toBe(200);
    expect(await post('during.outage')).toBe(200);
    await expect.poll(() => exported('during.outage'), { timeout: 10_000 }).toBeDefined();
    expect(exported('during.outage')!.resource).toMatchObject({ 'k8s.pod.name': 'frontend-6f7d8c9b5a-p9x7m', 'k8s.namespace.name': 'shop' });

    // A pod born while Sonde could not watch, and history compacted: resuming gets 410 Gone -> re-list.
    const lateUid = newUid();
    api.create('pods', pod({ name: 'frontend-6f7d8c9b5a-z2k8q', namespace: 'shop', uid: lateUid, ip: '10.1.40.3', owner: { kind: 'ReplicaSet', name: 'frontend-6f7d8c9b5a', uid: newUid() } }));
    api.compact();
    await api.start(port);
    await expect.poll(async () => promValue(await metrics(), 'sonde_k8s_api_up', { processor: 'k8sattributes' }), { timeout: 40_000 }).toBe(1);
    await expect.poll(async () => promValue(await metrics(), 'sonde_k8s_lists_total', { processor: 'k8sattributes', resource: 'pods' }), { timeout: 10_000 }).toBe(2);
    const postLate = await fetch(`http://127.0.0.1:${otlpPort}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: metricsRequest(lateUid, 'after.outage', '10.1.40.1') });
    expect(postLate.status).toBe(200);
    await expect.poll(() => exported('after.outage'), { timeout: 10_000 }).toBeDefined();
    expect(exported('after.outage')!.resource).toMatchObject({ 'k8s.pod.name': 'frontend-6f7d8c9b5a-z2k8q', 'k8s.deployment.name': 'frontend' });
    expect(exported('after.outage')!.point).toMatchObject({ 'sonde.peer.k8s.pod.name': 'frontend-6f7d8c9b5a-p9x7m', 'sonde.peer.service.name': 'frontend' });
    expect(proc.stderr()).toContain('SONDE_K8S_API_UNAVAILABLE');
    const { code } = await proc.stop('SIGTERM');
    expect(code).toBe(0);
  });
});
