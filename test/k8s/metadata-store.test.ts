// The cache's IP rules with a controlled clock: a reused IP never answers with the old pod.
import { describe, expect, it } from 'vitest';
import { MetadataStore } from '../../src/processors/k8sattributes/metadata-store.js';
import { podRecord } from '../../src/processors/k8sattributes/records.js';
import { newContainerId, pod } from './fixtures.js';

const none = (): boolean => false;
const T0 = Date.parse('2026-11-21T12:00:00Z');

function rec(name: string, ip: string, createdMs: number, extra: { phase?: 'Running' | 'Succeeded' } = {}) {
  return podRecord(pod({ name, namespace: 'ns', ip, created: new Date(createdMs), phase: extra.phase, containers: [{ name: 'c', id: newContainerId() }] }), none, none);
}

describe('metadata store: IPs, tombstones, reuse', () => {
  it('two live pods on one IP (delete not seen yet): the newer one answers', () => {
    let now = T0;
    const store = new MetadataStore(60_000, () => now);
    const old = rec('old', '10.0.0.1', T0 - 3_600_000);
    const fresh = rec('fresh', '10.0.0.1', T0 - 1_000);
    store.upsertPod(old);
    store.upsertPod(fresh);
    expect(store.podByIp('10.0.0.1', now)?.metadata.name).toBe('fresh');
    // Order of arrival does not matter.
    const other = new MetadataStore(60_000, () => now);
    other.upsertPod(fresh);
    other.upsertPod(old);
    expect(other.podByIp('10.0.0.1', now)?.metadata.name).toBe('fresh');
    now += 10;
    store.deletePod(old);
    expect(store.podByIp('10.0.0.1', now)?.metadata.name).toBe('fresh');
    expect(store.podByIp('10.0.0.1', T0 - 2_000)?.metadata.name).toBe('fresh');
  });

  it('a tombstone answers only for data stamped before the deletion, and only while no pod holds the IP', () => {
    let now = T0;
    const store = new MetadataStore(60_000, () => now);
    const old = rec('old', '10.0.0.2', T0 - 600_000);
    store.upsertPod(old);
    now = T0 + 5_000;
    store.deletePod(old);
    expect(store.podByIp('10.0.0.2', T0 + 1_000)?.metadata.name).toBe('old');
    expect(store.podByIp('10.0.0.2', T0 + 5_001)).toBeUndefined();
    const next = rec('next', '10.0.0.2', T0 + 6_000);
    now = T0 + 6_000;
    store.upsertPod(next);
    // Even for an early timestamp, the live holder wins once known.
    expect(store.podByIp('10.0.0.2', T0 + 1_000)?.metadata.name).toBe('next');
    expect(store.podByIp('10.0.0.2', now)?.metadata.name).toBe('next');
  });

  it('a finished pod releases its IP at once; the sweep forgets tombstones after the TTL', () => {
    let now = T0;
    const store = new MetadataStore(60_000, () => now);
    const job = rec('job', '10.0.0.3', T0 - 60_000);
    store.upsertPod(job);
    now = T0 + 1_000;
    store.upsertPod({ ...job, terminated: true, metadata: { ...job.metadata, resourceVersion: '2' } });
    expect(store.podByIp('10.0.0.3', T0 + 2_000)).toBeUndefined();
    expect(store.podByIp('10.0.0.3', T0 + 500)?.metadata.name).toBe('job');
    expect(store.podByContainerId(job.containers[0]!)?.metadata.name).toBe('job');
    store.deletePod(job);
    now = T0 + 30_000;
    store.sweep();
    expect(store.podByContainerId(job.containers[0]!)?.metadata.name).toBe('job');
    now = T0 + 62_000;
    store.sweep();
    expect(store.podByContainerId(job.containers[0]!)).toBeUndefined();
    expect(store.podByUid(job.metadata.uid)).toBeUndefined();
    expect(store.podByIp('10.0.0.3', T0 + 500)).toBeUndefined();
    expect(store.counts().pods).toBe(0);
  });
});

describe('metadata store: owners', () => {
  it('forgets deleted ReplicaSets and Jobs after the TTL (CronJobs create Jobs forever)', () => {
    let now = T0;
    const store = new MetadataStore(60_000, () => now);
    const meta = (name: string) => ({ name, namespace: 'ns', uid: name, resourceVersion: '1' });
    store.upsertReplicaSet({ metadata: meta('web-1'), parent: 'web' });
    store.upsertJob({ metadata: meta('report-1'), parent: 'report' });
    store.upsertJob({ metadata: meta('report-2'), parent: 'report' });
    store.deleteReplicaSet({ metadata: meta('web-1'), parent: 'web' });
    store.deleteJob({ metadata: meta('report-1'), parent: 'report' });
    expect(store.counts()).toMatchObject({ replicasets: 0, jobs: 1 });
    now += 30_000;
    store.sweep();
    expect(store.replicaSetParent('ns', 'web-1')).toBe('web');
    expect(store.jobParent('ns', 'report-1')).toBe('report');
    now += 31_000;
    store.sweep();
    expect(store.replicaSetParent('ns', 'web-1')).toBeUndefined();
    expect(store.jobParent('ns', 'report-1')).toBeUndefined();
    expect(store.jobParent('ns', 'report-2')).toBe('report');
  });
});
