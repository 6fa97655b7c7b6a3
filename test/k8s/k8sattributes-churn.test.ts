// The k8sattributes processor against a fake API server speaking list + watch: every case pushes
// real batches through the processor and checks the attributes that come out.
import { afterEach, describe, expect, it } from 'vitest';
import { k8sAttributesProcessorFactory } from '../../src/processors/k8sattributes/factory.js';
import type { K8sAttributesConfig } from '../../src/processors/k8sattributes/config.js';
import { SelfTelemetry } from '../../src/telemetry/self-telemetry.js';
import { writeKubeconfig } from './fixtures.js';
import { CollectingConsumer, settings } from './harness.js';
import { waitUntil } from '../helpers/poll.js';
import { SpanKind } from '../../src/pdata/types.js';
import { FakeApiServer } from './fake-apiserver.js';
import { job, namespace, newContainerId, newUid, pod, replicaSet, service } from './fixtures.js';
import { pointAttrs, resourceAttrs, spanBatch, tcpBatch } from './harness.js';
import { startProcessor, type Running } from './setup.js';

const running: Running[] = [];
async function start(...args: Parameters<typeof startProcessor>): Promise<Running> {
  const r = await startProcessor(...args);
  running.push(r);
  return r;
}
afterEach(async () => {
  for (const r of running.splice(0)) await r.stop();
});

const rsOwner = (name: string) => ({ kind: 'ReplicaSet', name, uid: newUid() });
const peerPoint = (ip: string) => [{ 'network.tcp.direction': 'outbound', 'server.address': ip, 'server.port': 8080 }];

describe('k8sattributes: pod lifecycle through list and watch', () => {
  it('names a pod from the initial list, with its Deployment resolved through the ReplicaSet', async () => {
    const api = new FakeApiServer();
    await api.start();
    api.create('replicasets', replicaSet('shop', 'checkout', '5d8f7c9b4'));
    const cid = newContainerId();
    const p = api.create('pods', pod({ name: 'checkout-5d8f7c9b4-x2v9q', namespace: 'shop', ip: '10.1.0.5', owner: rsOwner('checkout-5d8f7c9b4'), labels: { 'pod-template-hash': '5d8f7c9b4' }, containers: [{ name: 'server', id: cid }] }));
    const r = await start({}, api);
    const out = await r.run(tcpBatch({ 'container.id': cid, 'service.name': 'checkout-bin', 'process.executable.name': 'checkout-bin' }));
    expect(resourceAttrs(out)).toEqual({
      'container.id': cid,
      'service.name': 'checkout',
      'process.executable.name': 'checkout-bin',
      'k8s.pod.name': 'checkout-5d8f7c9b4-x2v9q',
      'k8s.pod.uid': p.metadata.uid,
      'k8s.namespace.name': 'shop',
      'k8s.node.name': 'node-a',
      'k8s.container.name': 'server',
      'k8s.deployment.name': 'checkout',
      'k8s.replicaset.name': 'checkout-5d8f7c9b4',
    });
    expect(await r.metric('sonde_k8s_associations_total', { method: 'container_id' })).toBe(1);
    // Only this node's pods were asked for.
    expect(api.requests.filter((q) => q.resource === 'pods').every((q) => q.fieldSelector === 'spec.nodeName=node-a')).toBe(true);
    await api.stop();
  });

  it('knows a pod created after start from its watch event, without a re-list', async () => {
    const r = await start();
    const uid = newUid();
    const before = await r.run(tcpBatch({ 'k8s.pod.uid': uid }));
    expect(resourceAttrs(before)['k8s.pod.name']).toBeUndefined();
    r.api.create('pods', pod({ name: 'late-pod', namespace: 'jobs', uid, ip: '10.1.0.9' }));
    await waitUntil('watch ADDED', async () => resourceAttrs(await r.run(tcpBatch({ 'k8s.pod.uid': uid })))['k8s.pod.name'] === 'late-pod', 5000, 25);
    expect(resourceAttrs(r.next.last())['k8s.namespace.name']).toBe('jobs');
    expect(await r.metric('sonde_k8s_lists_total', { resource: 'pods' })).toBe(1);
  });

  it('applies a modified pod: new label, new container status', async () => {
    const r = await start();
    const uid = newUid();
    const first = newContainerId();
    const created = r.api.create('pods', pod({ name: 'web-0', namespace: 'shop', uid, ip: '10.1.0.20', owner: { kind: 'StatefulSet', name: 'web', uid: newUid() }, containers: [{ name: 'nginx', id: first }] }));
    await waitUntil('the container to resolve to web-0', async () => resourceAttrs(await r.run(tcpBatch({ 'container.id': first })))['k8s.pod.name'] === 'web-0', 10_000, 25);
    expect(resourceAttrs(r.next.last())['service.name']).toBe('web');
    expect(resourceAttrs(r.next.last())['k8s.statefulset.name']).toBe('web');

    const restarted = newContainerId();
    const modified = structuredClone(created);
    modified.metadata.labels['app.kubernetes.io/name'] = 'storefront';
    modified.status.containerStatuses[0].containerID = `containerd://${restarted}`;
    modified.status.containerStatuses[0].restartCount = 1;
    r.api.update('pods', modified);
    await waitUntil('watch MODIFIED', async () => resourceAttrs(await r.run(tcpBatch({ 'container.id': restarted })))['k8s.pod.name'] === 'web-0', 5000, 25);
    expect(resourceAttrs(r.next.last())['service.name']).toBe('storefront');
    expect(resourceAttrs(r.next.last())['k8s.container.name']).toBe('nginx');
  });

  it('keeps a deleted pod as a tombstone: late data by container still named, its IP no longer answers', async () => {
    const r = await start();
    const cid = newContainerId();
    r.api.create('pods', pod({ name: 'gone-1', namespace: 'shop', ip: '10.1.0.30', containers: [{ name: 'app', id: cid }] }));
    await waitUntil('the peer 10.1.0.30 to resolve to gone-1', async () => pointAttrs(await r.run(tcpBatch({}, peerPoint('10.1.0.30'))))['sonde.peer.k8s.pod.name'] === 'gone-1', 10_000, 25);
    r.api.delete('pods', 'shop', 'gone-1');
    // Data stamped after the deletion must not be given the deleted pod's name.
    await waitUntil('watch DELETED', async () => pointAttrs(await r.run(tcpBatch({}, peerPoint('10.1.0.30'))))['sonde.peer.k8s.pod.name'] === undefined, 5000, 25);
    const late = await r.run(tcpBatch({ 'container.id': cid }));
    expect(resourceAttrs(late)['k8s.pod.name']).toBe('gone-1');
  });

  it('never gives a reused IP the old pod\'s name', async () => {
    const r = await start();
    r.api.create('pods', pod({ name: 'old-pod', namespace: 'shop', ip: '10.1.0.40' }));
    await waitUntil('the peer 10.1.0.40 to resolve to old-pod', async () => pointAttrs(await r.run(tcpBatch({}, peerPoint('10.1.0.40'))))['sonde.peer.k8s.pod.name'] === 'old-pod', 10_000, 25);

    // The old pod finishes (its IP is released) and a new pod gets the IP before the old one is deleted.
    const old = r.api.get('pods', 'shop', 'old-pod')!;
    old.status.phase = 'Succeeded';
    r.api.update('pods', old);
    r.api.create('pods', pod({ name: 'new-pod', namespace: 'shop', ip: '10.1.0.40', created: new Date(Date.now() + 1000) }));
    await waitUntil('new pod on the IP', async () => pointAttrs(await r.run(tcpBatch({}, peerPoint('10.1.0.40'))))['sonde.peer.k8s.pod.name'] === 'new-pod', 5000, 25);
    r.api.delete('pods', 'shop', 'old-pod');
    await waitUntil('the pod cache gauge', async () => (await r.metric('sonde_k8s_cached_objects', { resource: 'pods' })) !== undefined, 10_000, 25);
    // Many lookups after the delete: none may name the old pod.
    for (let i = 0; i < 20; i++) {
      const out = await r.run(tcpBatch({ 'k8s.pod.ip': '10.1.0.40' }, peerPoint('10.1.0.40')));
      expect(pointAttrs(out)['sonde.peer.k8s.pod.name']).toBe('new-pod');
      expect(resourceAttrs(out)['k8s.pod.name']).toBe('new-pod');
    }
  });

  it('a host-network pod does not claim the node IP', async () => {
    const r = await start();
    r.api.create('pods', pod({ name: 'kube-proxy-abcde', namespace: 'kube-system', hostNetwork: true, owner: { kind: 'DaemonSet', name: 'kube-proxy', uid: newUid() } }));
    r.api.create('pods', pod({ name: 'marker', namespace: 'x', ip: '10.1.0.99' }));
    await waitUntil('the marker pod', async () => pointAttrs(await r.run(tcpBatch({}, peerPoint('10.1.0.99'))))['sonde.peer.k8s.pod.name'] === 'marker', 10_000, 25);
    const out = await r.run(tcpBatch({}, peerPoint('192.168.10.11')));
    expect(pointAttrs(out)['sonde.peer.k8s.pod.name']).toBeUndefined();
  });

  it('ignores pods of other nodes (fieldSelector spec.nodeName)', async () => {
    const r = await start();
    const uid = newUid();
    r.api.create('pods', pod({ name: 'elsewhere', namespace: 'shop', uid, node: 'node-b', ip: '10.2.0.5' }));
    r.api.create('pods', pod({ name: 'here', namespace: 'shop', ip: '10.1.0.55' }));
    await waitUntil('the peer 10.1.0.55 to resolve to here', async () => pointAttrs(await r.run(tcpBatch({}, peerPoint('10.1.0.55'))))['sonde.peer.k8s.pod.name'] === 'here', 10_000, 25);
    expect(resourceAttrs(await r.run(tcpBatch({ 'k8s.pod.uid': uid })))['k8s.pod.name']).toBeUndefined();
  });
});

describe('k8sattributes: API server outages and 410 Gone', () => {
  it('survives an API server restart mid-watch: last metadata stays in use, outage is visible, re-list catches up', async () => {
    const api = new FakeApiServer();
    await api.start();
    const keepUid = newUid();
    const dropUid = newUid();
    api.create('pods', pod({ name: 'keep', namespace: 'shop', uid: keepUid, ip: '10.1.1.1' }));
    api.create('pods', pod({ name: 'drop', namespace: 'shop', uid: dropUid, ip: '10.1.1.2' }));
    const r = await start({}, api);
    expect(resourceAttrs(await r.run(tcpBatch({ 'k8s.pod.uid': keepUid })))['k8s.pod.name']).toBe('keep');
    await waitUntil('pod watch open', () => api.watcherCount('pods') === 1, 5000, 25);
    expect(await r.metric('sonde_k8s_api_up')).toBe(1);

    await api.stop();
    // api_up drops at the first failing resource; the pods watch may fail a moment later.
    await waitUntil(
      'api_up 0 and a pods watch error',
      async () => (await r.metric('sonde_k8s_api_up')) === 0 && ((await r.metric('sonde_k8s_watch_errors_total', { resource: 'pods' })) ?? 0) > 0,
      10_000,
      25,
    );
    // Down: data still flows and still carries the last known metadata.
    const during = await r.run(tcpBatch({ 'k8s.pod.uid': keepUid }));
    expect(resourceAttrs(during)['k8s.pod.name']).toBe('keep');

    // Changes made while Sonde could not watch: one pod deleted, one created.
    const newUidValue = newUid();
    api.delete('pods', 'shop', 'drop');
    api.create('pods', pod({ name: 'born-offline', namespace: 'shop', uid: newUidValue, ip: '10.1.1.3' }));
    // The restarted server lost its watch history: resuming gets 410 Gone and forces a re-list.
    api.compact();
    await api.start();
    await waitUntil('pods re-listed', async () => (await r.metric('sonde_k8s_lists_total', { resource: 'pods' })) === 2, 10_000, 25);
    await waitUntil('api_up 1', async () => (await r.metric('sonde_k8s_api_up')) === 1, 10_000, 25);
    expect(resourceAttrs(await r.run(tcpBatch({ 'k8s.pod.uid': newUidValue })))['k8s.pod.name']).toBe('born-offline');
    expect(pointAttrs(await r.run(tcpBatch({}, peerPoint('10.1.1.2'))))['sonde.peer.k8s.pod.name']).toBeUndefined();
    expect(resourceAttrs(await r.run(tcpBatch({ 'k8s.pod.uid': keepUid })))['k8s.pod.name']).toBe('keep');
    // The re-list went through the server's 410 answer, not a blind re-list.
    expect(api.requests.some((q) => q.resource === 'pods' && q.watch && Number(q.resourceVersion) < api.resourceVersion)).toBe(true);
    await api.stop();
  });

  it('re-lists when a resumed watch is answered 410 Gone (history compacted)', async () => {
    const r = await start();
    await waitUntil('pod watch open', () => r.api.watcherCount('pods') === 1, 5000, 25);
    const uid = newUid();
    // In one tick (the client cannot reconnect in between): end the watch, change something the
    // client therefore misses, and compact history so resuming from its version is 410 Gone.
    r.api.closeWatches();
    r.api.create('pods', pod({ name: 'after-compaction', namespace: 'shop', uid, ip: '10.1.2.1' }));
    r.api.compact();
    await waitUntil('re-list after 410', async () => (await r.metric('sonde_k8s_lists_total', { resource: 'pods' })) === 2, 10_000, 25);
    expect(resourceAttrs(await r.run(tcpBatch({ 'k8s.pod.uid': uid })))['k8s.pod.name']).toBe('after-compaction');
    expect(r.api.requests.filter((q) => q.resource === 'pods' && !q.watch).length).toBe(2);
  });

  it('keeps the pipeline running when the API server is unreachable from the start', async () => {
    const api = new FakeApiServer();
    await api.start();
    const port = api.port;
    await api.stop();
    const r = await startProcessor({}, api, false);
    running.push(r);
    await waitUntil('errors counted', async () => ((await r.metric('sonde_k8s_watch_errors_total', { resource: 'pods' })) ?? 0) >= 1, 5000, 25);
    expect(await r.metric('sonde_k8s_api_up')).toBe(0);
    const out = await r.run(tcpBatch({ 'service.name': 'curl' }));
    expect(resourceAttrs(out)['service.name']).toBe('curl');
    // When it comes up, the informers recover on their own.
    const uid = newUid();
    api.create('pods', pod({ name: 'finally', namespace: 'shop', uid, ip: '10.1.3.1' }));
    await api.start(port);
    await waitUntil('recovered', async () => resourceAttrs(await r.run(tcpBatch({ 'k8s.pod.uid': uid })))['k8s.pod.name'] === 'finally', 15_000, 25);
    // Every informer retries on its own backoff; all are up again soon after.
    await waitUntil('api_up 1', async () => (await r.metric('sonde_k8s_api_up')) === 1, 15_000, 25);
    await api.stop();
  });
});

describe('k8sattributes: workloads, labels, service.name', () => {
  it('resolves CronJob through Job, DaemonSet directly, and falls back to pod-template-hash', async () => {
    const api = new FakeApiServer();
    await api.start();
    api.create('jobs', job('batch', 'report-28461120', 'report'));
    const jobPod = api.create('pods', pod({ name: 'report-28461120-7xk2m', namespace: 'batch', ip: '10.1.4.1', owner: { kind: 'Job', name: 'report-28461120', uid: newUid() } }));
    const dsPod = api.create('pods', pod({ name: 'agent-q8d2k', namespace: 'ops', ip: '10.1.4.2', owner: { kind: 'DaemonSet', name: 'agent', uid: newUid() } }));
    // No ReplicaSet object for this one: the Deployment is read from the pod-template-hash suffix.
    const hashPod = api.create('pods', pod({ name: 'api-7f9c6d-abcde', namespace: 'shop', ip: '10.1.4.3', owner: rsOwner('api-7f9c6d'), labels: { 'pod-template-hash': '7f9c6d' } }));
    const barePod = api.create('pods', pod({ name: 'debug-shell', namespace: 'ops', ip: '10.1.4.4' }));
    const r = await start({}, api);
    const a = resourceAttrs(await r.run(tcpBatch({ 'k8s.pod.uid': jobPod.metadata.uid })));
    expect([a['k8s.job.name'], a['k8s.cronjob.name'], a['service.name']]).toEqual(['report-28461120', 'report', 'report']);
    const d = resourceAttrs(await r.run(tcpBatch({ 'k8s.pod.uid': dsPod.metadata.uid })));
    expect([d['k8s.daemonset.name'], d['service.name']]).toEqual(['agent', 'agent']);
    const h = resourceAttrs(await r.run(tcpBatch({ 'k8s.pod.uid': hashPod.metadata.uid })));
    expect([h['k8s.deployment.name'], h['service.name']]).toEqual(['api', 'api']);
    const b = resourceAttrs(await r.run(tcpBatch({ 'k8s.pod.name': 'debug-shell', 'k8s.namespace.name': 'ops' })));
    expect([b['k8s.pod.uid'], b['service.name']]).toEqual([barePod.metadata.uid, 'debug-shell']);
    await api.stop();
  });

  it('copies labels and annotations by key and key_regex, from the pod and its namespace', async () => {
    const api = new FakeApiServer();
    await api.start();
    api.create('namespaces', namespace('shop', { team: 'payments' }));
    const p = api.create(
      'pods',
      pod({
        name: 'pay-1',
        namespace: 'shop',
        ip: '10.1.5.1',
        labels: { 'app.kubernetes.io/version': '2.3.1', 'tier.example.com/level': 'gold', unrelated: 'x' },
        annotations: { 'sonde.io/owner': 'alice', 'kubectl.kubernetes.io/last-applied-configuration': '{"big":"json"}' },
      }),
    );
    const r = await start(
      {
        extract: {
          labels: [
            { key: 'app.kubernetes.io/version', tag_name: 'service.version', from: 'pod' },
            { key_regex: 'tier\\.example\\.com/(.*)', tag_name: 'tier.$1', from: 'pod' },
            { key: 'team', from: 'namespace' },
          ],
          annotations: [{ key_regex: 'sonde\\.io/.*', from: 'pod' }],
        },
      },
      api,
    );
    const a = resourceAttrs(await r.run(tcpBatch({ 'k8s.pod.uid': p.metadata.uid })));
    expect(a['service.version']).toBe('2.3.1');
    expect(a['tier.level']).toBe('gold');
    expect(a['k8s.namespace.label.team']).toBe('payments');
    expect(a['k8s.pod.annotation.sonde.io/owner']).toBe('alice');
    expect(Object.keys(a).some((k) => k.includes('unrelated') || k.includes('last-applied'))).toBe(false);
    await api.stop();
  });

  it('service_name.override false keeps a service.name the resource already has', async () => {
    const r = await start({ service_name: { enabled: true, override: false } });
    const uid = newUid();
    r.api.create('pods', pod({ name: 'p1', namespace: 'n', uid, ip: '10.1.6.1', labels: { 'app.kubernetes.io/name': 'from-label' } }));
    await waitUntil('the pod p1', async () => resourceAttrs(await r.run(tcpBatch({ 'k8s.pod.uid': uid, 'service.name': 'mine' })))['k8s.pod.name'] === 'p1', 10_000, 25);
    expect(resourceAttrs(r.next.last())['service.name']).toBe('mine');
    expect(resourceAttrs(await r.run(tcpBatch({ 'k8s.pod.uid': uid })))['service.name']).toBe('from-label');
  });

  it('rejects a label rule with both key and key_regex, with a stable code', async () => {
    await expect(start({ extract: { labels: [{ key: 'a', key_regex: 'b', from: 'pod' }] } })).rejects.toMatchObject({ code: 'SONDE_CONFIG_INVALID' });
  });
});

describe('k8sattributes: peers', () => {
  it('names the pod and Service behind peer addresses of TCP points and HTTP spans', async () => {
    const api = new FakeApiServer();
    await api.start();
    api.create('replicasets', replicaSet('shop', 'cart', '66bd7f8d9c'));
    api.create('pods', pod({ name: 'cart-66bd7f8d9c-h2k4l', namespace: 'shop', ip: '10.1.7.1', owner: rsOwner('cart-66bd7f8d9c') }));
    api.create('services', service('shop', 'cart', '10.96.12.40'));
    const r = await start({}, api);
    const tcp = await r.run(
      tcpBatch({}, [
        { 'network.tcp.direction': 'outbound', 'server.address': '10.96.12.40', 'server.port': 80 },
        { 'network.tcp.direction': 'outbound', 'server.address': '::ffff:10.1.7.1', 'server.port': 8080 },
        { 'network.tcp.direction': 'outbound', 'server.address': '1.1.1.1', 'server.port': 443 },
      ]),
    );
    const points = tcp.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0]!.dataPoints.map((d) => d.attributes);
    expect(points[0]).toMatchObject({ 'sonde.peer.k8s.service.name': 'cart', 'sonde.peer.k8s.namespace.name': 'shop', 'sonde.peer.service.name': 'cart' });
    expect(points[1]).toMatchObject({ 'sonde.peer.k8s.pod.name': 'cart-66bd7f8d9c-h2k4l', 'sonde.peer.k8s.deployment.name': 'cart', 'sonde.peer.k8s.namespace.name': 'shop' });
    expect(Object.keys(points[2]!).filter((k) => k.startsWith('sonde.peer.'))).toEqual([]);

    const server = await r.run(spanBatch({}, SpanKind.SERVER, { 'client.address': '10.1.7.1', 'server.address': 'shop.example', 'http.request.method': 'GET' }));
    expect(pointAttrs(server)['sonde.peer.k8s.pod.name']).toBe('cart-66bd7f8d9c-h2k4l');
    const client = await r.run(spanBatch({}, SpanKind.CLIENT, { 'server.address': '10.96.12.40', 'network.peer.address': '10.1.7.1' }));
    expect(pointAttrs(client)['sonde.peer.k8s.pod.name']).toBe('cart-66bd7f8d9c-h2k4l');
    expect(pointAttrs(client)['sonde.peer.k8s.service.name']).toBeUndefined();
    await api.stop();
  });
});

describe('k8sattributes: wait_for_metadata', () => {
  it('holds a batch until its pod arrives, and no longer than the timeout', async () => {
    const r = await start({ wait_for_metadata: true, wait_for_metadata_timeout: '20s' });
    const uid = newUid();
    const held = r.proc.consume(tcpBatch({ 'k8s.pod.uid': uid }));
    let done = false;
    void held.then(() => (done = true));
    await new Promise((res) => setTimeout(res, 200));
    expect(done).toBe(false);
    r.api.create('pods', pod({ name: 'just-scheduled', namespace: 'shop', uid, ip: '10.1.8.1' }));
    await held;
    expect(resourceAttrs(r.next.last())['k8s.pod.name']).toBe('just-scheduled');
    expect(await r.metric('sonde_k8s_metadata_wait_timeouts_total')).toBe(0);
  });

  it('passes the batch on unchanged when the timeout passes, and does not hold that key again', async () => {
    const r = await start({ wait_for_metadata: true, wait_for_metadata_timeout: '300ms' });
    const uid = newUid();
    await r.proc.consume(tcpBatch({ 'k8s.pod.uid': uid, 'service.name': 'x' }));
    expect(resourceAttrs(r.next.last())).toEqual({ 'k8s.pod.uid': uid, 'service.name': 'x' });
    expect(await r.metric('sonde_k8s_metadata_wait_timeouts_total')).toBe(1);
    await r.proc.consume(tcpBatch({ 'k8s.pod.uid': uid }));
    expect(await r.metric('sonde_k8s_metadata_wait_timeouts_total')).toBe(1);
    expect(r.next.batches.length).toBe(2);
  });
});

describe('k8sattributes: lifecycle', () => {
  it('waits for the first list only once while the API server is unreachable', async () => {
    const api = new FakeApiServer();
    await api.start();
    await api.stop();
    const r = await startProcessor({ wait_for_metadata: true, wait_for_metadata_timeout: '300ms' }, api, false);
    running.push(r);
    await r.proc.consume(tcpBatch({ 'service.name': 'a' }));
    expect(await r.metric('sonde_k8s_metadata_wait_timeouts_total')).toBe(1);
    for (let i = 0; i < 5; i++) await r.proc.consume(tcpBatch({ 'service.name': 'a' }));
    expect(await r.metric('sonde_k8s_metadata_wait_timeouts_total')).toBe(1);
    expect(r.next.batches.length).toBe(6);
  });

  it('pipelines sharing one processor id share one set of watches; shutdown is idempotent and safe before start', async () => {
    const api = new FakeApiServer();
    await api.start();
    const uid = newUid();
    api.create('pods', pod({ name: 'shared', namespace: 'n', uid, ip: '10.1.30.1' }));
    process.env.KUBECONFIG = writeKubeconfig(api.port);
    const telemetry = new SelfTelemetry({ processMetrics: false });
    const config = { ...k8sAttributesProcessorFactory.createDefaultConfig(), auth_type: 'kubeConfig', filter: { node: 'node-a', node_from_env_var: 'K8S_NODE_NAME' } } as K8sAttributesConfig;
    const outs = [new CollectingConsumer(), new CollectingConsumer()];
    const [a, b] = outs.map((next, i) => k8sAttributesProcessorFactory.create({ ...settings('k8sattributes/shared', telemetry), pipeline: `p${i}` }, config, next));
    const never = k8sAttributesProcessorFactory.create(settings('k8sattributes/never', telemetry), config, new CollectingConsumer());
    await never.shutdown();
    await never.shutdown();
    await a!.start();
    await b!.start();
    await waitUntil('pod watch', () => api.watcherCount('pods') === 1, 5000, 25);
    await waitUntil(
      'the shared informer to name the pod',
      async () => {
        await a!.consume(tcpBatch({ 'k8s.pod.uid': uid }));
        return resourceAttrs(outs[0]!.last())['k8s.pod.name'] === 'shared';
      },
      10_000,
      25,
    );
    expect(api.requests.filter((q) => q.resource === 'pods' && !q.watch).length).toBe(1);
    await a!.shutdown();
    await a!.shutdown();
    await b!.consume(tcpBatch({ 'k8s.pod.uid': uid }));
    expect(resourceAttrs(outs[1]!.last())['k8s.pod.name']).toBe('shared');
    // pods, replicasets, jobs, services: still watched once for the remaining pipeline.
    await waitUntil('four watches', () => api.watcherCount() === 4, 5000, 25);
    expect(api.requests.filter((q) => q.resource === 'pods' && q.watch).length).toBe(1);
    await b!.shutdown();
    await waitUntil('watches closed', () => api.watcherCount() === 0, 5000, 25);
    await api.stop();
  });
});
