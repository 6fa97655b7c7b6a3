// A real process placed in a cgroup with the containerd pod layout (created here, under the
// cgroup v2 hierarchy) is matched to its pod through /proc/<pid>/cgroup.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeApiServer } from './fake-apiserver.js';
import { newContainerId, newUid, pod, replicaSet } from './fixtures.js';
import { resourceAttrs, tcpBatch } from './harness.js';
import { startProcessor, type Running } from './setup.js';

function cgroup2Mount(): string | undefined {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    if (right?.startsWith('cgroup2 ')) return left!.split(' ')[4];
  }
  return undefined;
}

const mount = cgroup2Mount();
const canWrite = mount !== undefined && process.getuid?.() === 0;
if (!canWrite && process.env.CI === 'true') {
  throw new Error('cgroup association test needs root and a cgroup2 mount (scripts/setup-test-env.sh, run as root)');
}

/** Creates the nested cgroup dirs; returns them deepest-last for cleanup. */
function makeCgroup(root: string, parts: string[]): string[] {
  const made: string[] = [];
  let dir = root;
  for (const p of parts) {
    dir = join(dir, p);
    if (!existsSync(dir)) {
      mkdirSync(dir);
      made.push(dir);
    }
  }
  return made;
}

function sleeper(): Promise<ChildProcess> {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  return new Promise((resolve, reject) => {
    child.once('spawn', () => resolve(child));
    child.once('error', reject);
  });
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

describe.skipIf(!canWrite)('k8sattributes: process -> cgroup -> container -> pod', () => {
  const api = new FakeApiServer();
  const cleanup: string[] = [];
  const children: ChildProcess[] = [];
  let r: Running;
  const podUid = newUid();
  const cid = newContainerId();
  const v1PodUid = newUid();
  const v1Cid = newContainerId();

  beforeAll(async () => {
    await api.start();
    api.create('replicasets', replicaSet('payments', 'ledger', '6c9f8b7d5f'));
    api.create('pods', pod({ name: 'ledger-6c9f8b7d5f-q7x2z', namespace: 'payments', uid: podUid, ip: '10.1.9.1', owner: { kind: 'ReplicaSet', name: 'ledger-6c9f8b7d5f', uid: newUid() }, containers: [{ name: 'ledger', id: cid }] }));
    api.create('pods', pod({ name: 'legacy-0', namespace: 'payments', uid: v1PodUid, ip: '10.1.9.2', owner: { kind: 'StatefulSet', name: 'legacy', uid: newUid() }, containers: [{ name: 'db', id: v1Cid }] }));
    r = await startProcessor({}, api);
  });

  afterAll(async () => {
    for (const c of children) await kill(c);
    await r?.stop();
    await api.stop();
    for (const dir of cleanup.reverse()) {
      try {
        rmdirSync(dir);
      } catch {
        // already gone
      }
    }
  });

  it('cgroup v2, systemd driver, containerd scope', async () => {
    const slice = `kubepods-burstable-pod${podUid.replaceAll('-', '_')}.slice`;
    const dirs = makeCgroup(mount!, ['kubepods.slice', 'kubepods-burstable.slice', slice, `cri-containerd-${cid}.scope`]);
    cleanup.push(...dirs);
    const child = await sleeper();
    children.push(child);
    writeFileSync(join(dirs.at(-1)!, 'cgroup.procs'), String(child.pid));
    expect(readFileSync(`/proc/${child.pid}/cgroup`, 'utf8')).toContain(`cri-containerd-${cid}.scope`);

    const out = await r.run(tcpBatch({ 'process.pid': child.pid!, 'process.executable.name': 'sleep', 'service.name': 'sleep' }));
    expect(resourceAttrs(out)).toMatchObject({
      'k8s.pod.name': 'ledger-6c9f8b7d5f-q7x2z',
      'k8s.pod.uid': podUid,
      'k8s.namespace.name': 'payments',
      'k8s.deployment.name': 'ledger',
      'k8s.container.name': 'ledger',
      'container.id': cid,
      'service.name': 'ledger',
      'process.executable.name': 'sleep',
    });
    expect(await r.metric('sonde_k8s_associations_total', { method: 'container_id' })).toBe(1);

    // The same pid reported by an OTLP sender (another scope) is a pid in the sender's own
    // namespace, not a host pid: it must not be looked up in /proc.
    const otlp = await r.run(tcpBatch({ 'process.pid': child.pid!, 'service.name': 'app' }, undefined, 'io.opentelemetry.http'));
    expect(resourceAttrs(otlp)).toEqual({ 'process.pid': child.pid!, 'service.name': 'app' });
  });

  const v1Root = '/sys/fs/cgroup/pids';
  it.skipIf(!existsSync(join(v1Root, 'cgroup.procs')))('cgroup v1, cgroupfs driver layout', async () => {
    const dirs = makeCgroup(v1Root, ['kubepods', 'burstable', `pod${v1PodUid}`, v1Cid]);
    cleanup.push(...dirs);
    const child = await sleeper();
    children.push(child);
    writeFileSync(join(dirs.at(-1)!, 'cgroup.procs'), String(child.pid));
    const out = await r.run(tcpBatch({ 'process.pid': child.pid! }));
    expect(resourceAttrs(out)).toMatchObject({ 'k8s.pod.name': 'legacy-0', 'k8s.statefulset.name': 'legacy', 'k8s.container.name': 'db', 'container.id': v1Cid });
  });

  it('a host process outside any pod cgroup gets no pod', async () => {
    const child = await sleeper();
    children.push(child);
    const out = await r.run(tcpBatch({ 'process.pid': child.pid!, 'service.name': 'sleep' }));
    expect(resourceAttrs(out)).toEqual({ 'process.pid': child.pid!, 'service.name': 'sleep' });
  });
});
