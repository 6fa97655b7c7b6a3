// The pieces of association by connection: the receiver's address normalisation, the store's
// "exactly one live pod holds this IP" lookup, and the batch processor keeping a batch's client
// only when every merged batch came from it.
import { describe, expect, it } from 'vitest';
import { cloneBatch } from '../../src/pdata/clone.js';
import type { MetricsBatch, TelemetryBatch } from '../../src/pdata/types.js';
import { BatchProcessor } from '../../src/processors/batch/batch-processor.js';
import { MetadataStore } from '../../src/processors/k8sattributes/metadata-store.js';
import { podRecord } from '../../src/processors/k8sattributes/records.js';
import { grpcPeerAddress, normalizeClientAddress } from '../../src/receivers/otlp/client-address.js';
import { createSilentLogger } from '../../src/telemetry/logger.js';
import { newContainerId, pod } from './fixtures.js';
import { CollectingConsumer, tcpBatch } from './harness.js';

const none = (): boolean => false;
const rec = (name: string, ip: string, extra: { hostNetwork?: boolean; created?: Date } = {}) =>
  podRecord(pod({ name, namespace: 'ns', ip, ...extra, containers: [{ name: 'c', id: newContainerId() }] }), none, none);

describe('client address of a request', () => {
  it('normalises socket and grpc-js peer addresses', () => {
    expect(normalizeClientAddress('::ffff:127.0.0.7')).toBe('127.0.0.7');
    expect(normalizeClientAddress('127.0.0.7')).toBe('127.0.0.7');
    expect(normalizeClientAddress('FD00::1')).toBe('fd00::1');
    expect(normalizeClientAddress(undefined)).toBeUndefined();
    expect(normalizeClientAddress('not-an-ip')).toBeUndefined();
    expect(grpcPeerAddress('127.0.0.7:40312')).toBe('127.0.0.7');
    expect(grpcPeerAddress('::ffff:127.0.0.7:40312')).toBe('127.0.0.7');
    expect(grpcPeerAddress('::1:40312')).toBe('::1');
    expect(grpcPeerAddress('ipv6:[fd00::5]:40312')).toBe('fd00::5');
    expect(grpcPeerAddress('ipv4:10.1.2.3:80')).toBe('10.1.2.3');
    expect(grpcPeerAddress('unknown')).toBeUndefined();
  });

  it('is kept by cloneBatch', () => {
    const b: MetricsBatch = { ...tcpBatch({}), clientAddress: '10.1.2.3' };
    expect(cloneBatch(b).clientAddress).toBe('10.1.2.3');
  });
});

describe('metadata store: the sole live pod of an IP', () => {
  it('answers only while exactly one live pod holds the IP; never for host-network pods or tombstones', () => {
    const store = new MetadataStore(60_000);
    const a = rec('a', '10.0.0.1');
    const b = rec('b', '10.0.0.1', { created: new Date(Date.now() + 1000) });
    store.upsertPod(a);
    expect(store.soleLivePodByIp('10.0.0.1')?.metadata.name).toBe('a');
    store.upsertPod(b);
    expect(store.podByIp('10.0.0.1', Date.now())?.metadata.name).toBe('b');
    expect(store.soleLivePodByIp('10.0.0.1')).toBeUndefined();
    store.deletePod(a);
    expect(store.soleLivePodByIp('10.0.0.1')?.metadata.name).toBe('b');
    store.deletePod(b);
    expect(store.soleLivePodByIp('10.0.0.1')).toBeUndefined();
    // The fixture gives a host-network pod the node's IP (192.168.10.11) as its pod IP.
    store.upsertPod(rec('host', '', { hostNetwork: true }));
    expect(store.soleLivePodByIp('192.168.10.11')).toBeUndefined();
  });
});

describe('batch processor and the client address', () => {
  const withClient = (client: string | undefined): TelemetryBatch => (client ? { ...tcpBatch({}), clientAddress: client } : tcpBatch({}));
  async function merged(clients: Array<string | undefined>, maxSize = 0): Promise<TelemetryBatch[]> {
    const out = new CollectingConsumer();
    const p = new BatchProcessor({ send_batch_size: clients.length, send_batch_max_size: maxSize, timeout: '1h' }, out, createSilentLogger());
    for (const c of clients) await p.consume(withClient(c));
    await p.shutdown();
    return out.batches;
  }

  it('keeps the address when every merged batch came from one client, drops it otherwise', async () => {
    const same = await merged(['10.0.0.1', '10.0.0.1', '10.0.0.1']);
    expect(same.map((b) => b.clientAddress)).toEqual(['10.0.0.1']);
    const split = await merged(['10.0.0.1', '10.0.0.1', '10.0.0.1'], 2);
    expect(split.map((b) => b.clientAddress)).toEqual(['10.0.0.1', '10.0.0.1']);
    expect((await merged(['10.0.0.1', '10.0.0.2'])).map((b) => b.clientAddress)).toEqual([undefined]);
    expect((await merged(['10.0.0.1', undefined])).map((b) => b.clientAddress)).toEqual([undefined]);
    expect((await merged([undefined, '10.0.0.1'])).map((b) => b.clientAddress)).toEqual([undefined]);
  });
});
