// End to end on the real kernel: a process placed in a cgroup with the containerd pod layout makes
// real TCP connects; the ebpf receiver sees them, k8sattributes names the pod through
// /proc/<pid>/cgroup and the fake API server, and the file exporter writes OTLP/JSON that carries
// the pod, namespace and deployment of the matching pod object (and the peer pod of the server).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Exporter, Processor, Receiver } from '../../src/component/types.js';
import { fileExporterFactory } from '../../src/exporters/file/factory.js';
import { k8sAttributesProcessorFactory } from '../../src/processors/k8sattributes/factory.js';
import type { K8sAttributesConfig } from '../../src/processors/k8sattributes/config.js';
import { ebpfReceiverFactory } from '../../src/receivers/ebpf/factory.js';
import { SelfTelemetry } from '../../src/telemetry/self-telemetry.js';
import { promValue } from '../helpers/sonde-process.js';
import { requireBpf } from '../ebpf/bpf-available.js';
import { makeSettings } from '../ebpf/harness.js';
import { FakeApiServer } from './fake-apiserver.js';
import { newContainerId, newUid, pod, replicaSet, writeKubeconfig } from './fixtures.js';
import { flat, settings, type OtlpAttr } from './harness.js';
import { waitUntil } from '../helpers/poll.js';

const CONNECTS = 25;
const SERVER_IP = '127.0.0.2';

function cgroup2Mount(): string | undefined {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    if (right?.startsWith('cgroup2 ')) return left!.split(' ')[4];
  }
  return undefined;
}
const mount = cgroup2Mount();
const canCgroup = mount !== undefined && process.getuid?.() === 0;
if (!canCgroup && process.env.CI === 'true') throw new Error('end-to-end k8s test needs root and a cgroup2 mount');

// The child waits for "go" (sent once it is in the pod cgroup), connects, reports, then waits
// for stdin to close so its /proc entry stays while Sonde reports it.
const CHILD = `
const net = require('node:net');
const [host, port, n] = process.argv.slice(1);
let ok = 0;
function one(i) {
  if (i >= Number(n)) { process.stdout.write(JSON.stringify({ ok }) + '\\n'); return; }
  const s = net.connect(Number(port), host, () => { ok++; s.end(); });
  s.on('close', () => one(i + 1));
  s.on('error', () => {});
}
process.stdin.once('data', () => one(0));
process.stdin.on('end', () => process.exit(0));
`;

describe('k8sattributes end to end: ebpf -> k8sattributes -> file exporter', () => {
  const bpf = requireBpf();
  const api = new FakeApiServer();
  const dir = mkdtempSync(join(tmpdir(), 'sonde-k8s-e2e-'));
  const out = join(dir, 'metrics.jsonl');
  const cgroups: string[] = [];
  let child: ChildProcess | undefined;
  let server: Server | undefined;
  let exporter: Exporter | undefined;
  let processor: Processor | undefined;
  let receiver: Receiver | undefined;
  const podUid = newUid();
  const cid = newContainerId();

  beforeAll(async () => {
    if (!bpf.ok || !canCgroup) return;
    await api.start();
    api.create('replicasets', replicaSet('orders', 'order-api', '74d6b9c5f8'));
    api.create('replicasets', replicaSet('orders', 'inventory', '5b7c9d8e6f'));
    api.create('pods', pod({ name: 'order-api-74d6b9c5f8-k4m2p', namespace: 'orders', uid: podUid, ip: '10.1.20.7', owner: { kind: 'ReplicaSet', name: 'order-api-74d6b9c5f8', uid: newUid() }, containers: [{ name: 'api', id: cid }] }));
    // The peer: a pod whose IP the child connects to (a loopback address stands in for a pod IP).
    api.create('pods', pod({ name: 'inventory-5b7c9d8e6f-z8q1w', namespace: 'orders', ip: SERVER_IP, owner: { kind: 'ReplicaSet', name: 'inventory-5b7c9d8e6f', uid: newUid() } }));
    process.env.KUBECONFIG = writeKubeconfig(api.port);

    server = createServer((s) => s.on('error', () => {}).end());
    await new Promise<void>((r) => server!.listen(0, SERVER_IP, r));

    const telemetry = new SelfTelemetry({ processMetrics: false });
    exporter = fileExporterFactory.create({ ...settings('file', telemetry), id: { type: 'file', name: '', key: 'file' } }, { path: out });
    const config = { ...k8sAttributesProcessorFactory.createDefaultConfig(), auth_type: 'kubeConfig', filter: { node: 'node-a', node_from_env_var: 'K8S_NODE_NAME' } } as K8sAttributesConfig;
    processor = k8sAttributesProcessorFactory.create(settings('k8sattributes/e2e', telemetry), config, exporter);
    // Scoped in the kernel to the server's port: only the child's connects (and the server's side)
    // are captured, whatever the parallel test file does on the host.
    const defaults = ebpfReceiverFactory.createDefaultConfig();
    const port = (server.address() as { port: number }).port;
    receiver = ebpfReceiverFactory.create(makeSettings(telemetry, 'e2e'), { ...defaults, collection_interval: '1s', include: { ...defaults.include, ports: [port] } }, { metrics: processor });
    await exporter.start();
    await processor.start();
    // Without wait_for_metadata the processor passes batches on as they are until its first lists
    // are in: wait (bounded) for them, or a slow first list would leave the first export bare.
    for (const resource of ['pods', 'replicasets', 'jobs', 'services']) {
      await waitUntil(`first ${resource} list`, async () => promValue(await telemetry.render(), 'sonde_k8s_lists_total', { processor: 'k8sattributes/e2e', resource }) >= 1, 30_000, 25);
    }
    await receiver.start();
  });

  afterAll(async () => {
    child?.stdin?.end();
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
    await receiver?.shutdown();
    await processor?.shutdown();
    await exporter?.shutdown();
    if (server) await new Promise((r) => server!.close(r));
    await api.stop();
    for (const d of cgroups.reverse()) {
      try {
        rmdirSync(d);
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it.runIf(bpf.ok && canCgroup)('exported TCP metrics of a process in a containerd pod cgroup carry its pod, namespace and deployment', async () => {
    const parts = ['kubepods.slice', 'kubepods-burstable.slice', `kubepods-burstable-pod${podUid.replaceAll('-', '_')}.slice`, `cri-containerd-${cid}.scope`];
    let path = mount!;
    for (const p of parts) {
      path = join(path, p);
      if (!existsSync(path)) {
        mkdirSync(path);
        cgroups.push(path);
      }
    }
    const port = (server!.address() as { port: number }).port;
    child = spawn(process.execPath, ['-e', CHILD, SERVER_IP, String(port), String(CONNECTS)], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise((resolve, reject) => {
      child!.once('spawn', resolve);
      child!.once('error', reject);
    });
    writeFileSync(join(path, 'cgroup.procs'), String(child.pid));
    const report = new Promise<string>((resolve) => child!.stdout!.once('data', (d) => resolve(String(d))));
    child.stdin!.write('go\n');
    expect(JSON.parse(await report)).toEqual({ ok: CONNECTS });

    let found: { resource: Record<string, unknown>; points: Array<{ attrs: Record<string, unknown>; value: number }> } | undefined;
    await waitUntil(
      'exported metrics of the child',
      () => {
        if (!existsSync(out)) return false;
        for (const line of readFileSync(out, 'utf8').trim().split('\n').reverse()) {
          if (!line) continue;
          const req = JSON.parse(line) as { resourceMetrics?: Array<{ resource: { attributes: OtlpAttr[] }; scopeMetrics: Array<{ metrics: Array<{ name: string; sum?: { dataPoints: Array<{ attributes: OtlpAttr[]; asInt?: string | number }> } }> }> }> };
          for (const rm of req.resourceMetrics ?? []) {
            const resource = flat(rm.resource.attributes);
            if (Number(resource['process.pid']) !== child!.pid) continue;
            const points = rm.scopeMetrics
              .flatMap((s) => s.metrics)
              .filter((m) => m.name === 'sonde.tcp.connections')
              .flatMap((m) => m.sum?.dataPoints ?? [])
              .map((d) => ({ attrs: flat(d.attributes), value: Number(d.asInt ?? 0) }))
              .filter((p) => p.attrs['network.tcp.direction'] === 'outbound' && Number(p.attrs['server.port']) === port);
            if (points.reduce((a, p) => a + p.value, 0) >= CONNECTS) {
              found = { resource, points };
              return true;
            }
          }
        }
        return false;
      },
      30_000,
      25,
    );
    expect(found!.resource).toMatchObject({
      'k8s.pod.name': 'order-api-74d6b9c5f8-k4m2p',
      'k8s.pod.uid': podUid,
      'k8s.namespace.name': 'orders',
      'k8s.deployment.name': 'order-api',
      'k8s.container.name': 'api',
      'container.id': cid,
      'service.name': 'order-api',
    });
    const success = found!.points.filter((p) => p.attrs['sonde.tcp.outcome'] === 'success');
    expect(success.reduce((a, p) => a + p.value, 0)).toBe(CONNECTS);
    for (const p of success) {
      expect(p.attrs).toMatchObject({
        'server.address': SERVER_IP,
        'sonde.peer.k8s.pod.name': 'inventory-5b7c9d8e6f-z8q1w',
        'sonde.peer.k8s.namespace.name': 'orders',
        'sonde.peer.k8s.deployment.name': 'inventory',
      });
    }
  });
});
