// 50,000 pods served by the fake API server (paged list, real pod JSON shape): the cache must
// hold them in bounded memory. Prints the bytes-per-pod figure quoted in docs/benchmarks.md.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, expect, it } from 'vitest';
import { FakeApiServer } from './fake-apiserver.js';
import { pod } from './fixtures.js';
import { resourceAttrs, tcpBatch } from './harness.js';
import { waitUntil } from '../helpers/poll.js';
import { startProcessor, type Running } from './setup.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const PODS = 50_000;
/** Upper bounds the test enforces (the measured figures are well below; see docs/benchmarks.md). */
const MAX_BYTES_PER_POD = 1_500;
const MAX_PEAK_HEAP_GROWTH = 256 * 1024 * 1024;

const uidOf = (i: number): string => `0b7c5a1e-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
const ipOf = (i: number): string => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const make = (i: number) =>
  pod({
    name: `web-7d4b9c8f6d-${i.toString(36).padStart(5, '0')}`,
    namespace: `team-${i % 200}`,
    uid: uidOf(i),
    ip: ipOf(i),
    owner: { kind: 'ReplicaSet', name: `web-${i % 500}-7d4b9c8f6d`, uid: uidOf(i + 1_000_000) },
    labels: { app: 'web', 'pod-template-hash': '7d4b9c8f6d', 'app.kubernetes.io/name': `web-${i % 500}`, 'app.kubernetes.io/version': '1.4.2' },
    annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-11-20T10:00:00Z', 'prometheus.io/scrape': 'true' },
    containers: [
      { name: 'app', id: i.toString(16).padStart(64, 'a') },
      { name: 'sidecar', id: i.toString(16).padStart(64, 'b') },
    ],
  });

const api = new FakeApiServer();
let r: Running | undefined;
afterAll(async () => {
  await r?.stop();
  await api.stop();
});

function heap(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

it(`caches ${PODS} pods in bounded memory`, { timeout: 300_000 }, async () => {
  await api.start();
  api.generate('pods', PODS, make);
  const sample = JSON.stringify(make(1)).length;
  // The processor loads the Kubernetes client library lazily on start; load it first so its own
  // heap (tens of MiB) is in the baseline and not charged to the pods.
  await Promise.all([import('@kubernetes/client-node'), import('../../src/processors/k8sattributes/shared-clients.js')]);
  const before = heap();
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 20);
  const t0 = Date.now();
  r = await startProcessor({ list_page_size: 500 }, api, false);
  await waitUntil('50k pod list', async () => (await r!.metric('sonde_k8s_lists_total', { resource: 'pods' })) === 1, 240_000, 25);
  const listMs = Date.now() - t0;
  clearInterval(sampler);
  expect(await r.metric('sonde_k8s_cached_objects', { resource: 'pods' })).toBe(PODS);
  const after = heap();
  const perPod = (after - before) / PODS;

  // The cache works at this size: pods from the middle and the end are found by uid, container and IP.
  expect(resourceAttrs(await r.run(tcpBatch({ 'k8s.pod.uid': uidOf(31_337) })))['k8s.pod.name']).toBe(make(31_337).metadata.name);
  expect(resourceAttrs(await r.run(tcpBatch({ 'container.id': (49_999).toString(16).padStart(64, 'b') })))['k8s.container.name']).toBe('sidecar');
  expect(resourceAttrs(await r.run(tcpBatch({ 'k8s.pod.ip': ipOf(12_345) })))['service.name']).toBe(`web-${12_345 % 500}`);

  // For scale: what the same pods cost kept whole, as a plain informer cache keeps them.
  const whole: unknown[] = [];
  const wholeBefore = heap();
  for (let i = 0; i < 2_000; i++) whole.push(JSON.parse(JSON.stringify(make(i))));
  const wholePerPod = (heap() - wholeBefore) / whole.length;
  whole.length = 0;

  console.log(
    `k8s metadata cache: ${PODS} pods, pod JSON ${sample} B, list ${listMs} ms (pages of 500), ` +
      `retained ${Math.round(perPod)} B/pod (${((after - before) / 1048576).toFixed(1)} MiB), ` +
      `peak heap growth ${((peak - before) / 1048576).toFixed(1)} MiB, whole parsed pod ${Math.round(wholePerPod)} B`,
  );
  expect(perPod).toBeGreaterThan(0);
  expect(perPod).toBeLessThan(MAX_BYTES_PER_POD);
  expect(peak - before).toBeLessThan(MAX_PEAK_HEAP_GROWTH);
});
