// The HTTP capture's cgroup filter (in the kernel, the process's cgroup or an ancestor) and IPv6
// connections, on the real kernel.
import { mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Consumer } from '../../src/component/types.js';
import { parseComponentId } from '../../src/component/id.js';
import { SondeError } from '../../src/errors/index.js';
import type { Span, TelemetryBatch, TracesBatch } from '../../src/pdata/types.js';
import { SpanKind } from '../../src/pdata/types.js';
import { ebpfReceiverFactory } from '../../src/receivers/ebpf/factory.js';
import { cgroup2Mount } from '../../src/receivers/ebpf/http/cgroups.js';
import type { EbpfReceiver } from '../../src/receivers/ebpf/receiver.js';
import { createSilentLogger } from '../../src/telemetry/logger.js';
import { SelfTelemetry } from '../../src/telemetry/self-telemetry.js';
import { requireBpf } from './bpf-available.js';
import { curl, startNodeServer, type RunningServer } from './http-servers.js';

function makeReceiver(http: Record<string, unknown>, traces: TracesBatch[]): EbpfReceiver {
  const defaults = ebpfReceiverFactory.createDefaultConfig();
  const consumer: Consumer = { mutatesData: false, consume: async (b: TelemetryBatch) => void (b.signal === 'traces' && traces.push(b)) };
  return ebpfReceiverFactory.create(
    { id: parseComponentId('ebpf/cg')!, logger: createSilentLogger(), telemetry: new SelfTelemetry({ processMetrics: false }), configDir: '/tmp', backpressure: { shouldRefuse: () => false } },
    { ...defaults, collection_interval: '1h', tcp: { enabled: false }, http: { ...defaults.http, ...http } },
    { traces: consumer },
  ) as EbpfReceiver;
}

const spansOf = (batches: TracesBatch[]) =>
  batches.flatMap((b) => b.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => ({ pid: rs.resource.attributes['process.pid'], s })))));

describe('HTTP capture: cgroup filter and IPv6 (real kernel)', () => {
  const bpf = requireBpf();
  const mount = cgroup2Mount();
  const group = `sonde-http-test-${process.pid}`;
  const traces: TracesBatch[] = [];
  const servers: RunningServer[] = [];
  let inside: RunningServer | undefined;
  let outside: RunningServer | undefined;
  let v6: RunningServer | undefined;
  let cgroupDir = '';

  beforeAll(async () => {
    if (!bpf.ok) return;
    if (!mount) throw new Error('no cgroup2 mount: the cgroup filter test needs one');
    // parent/child groups: the filter names the parent, the server runs in the child
    cgroupDir = join(mount, group);
    mkdirSync(join(cgroupDir, 'child'), { recursive: true });
    inside = await startNodeServer();
    outside = await startNodeServer();
    v6 = await startNodeServer('::1');
    servers.push(inside, outside, v6);
    writeFileSync(join(cgroupDir, 'child', 'cgroup.procs'), String(inside.pid));
    writeFileSync(join(cgroupDir, 'child', 'cgroup.procs'), String(v6.pid));

    const receiver = makeReceiver({ cgroups: [`/${group}`] }, traces);
    await receiver.start();
    await curl([], [1, 2, 3].map((i) => `http://127.0.0.1:${inside!.port}/in/${i}`));
    await curl([], [1, 2].map((i) => `http://127.0.0.1:${outside!.port}/out/${i}`));
    await curl(['-g'], [1, 2].map((i) => `http://[::1]:${v6!.port}/v6/${i}`));
    await receiver.shutdown();
  }, 60_000);

  afterAll(async () => {
    for (const s of servers) await s.stop();
    if (cgroupDir) {
      try {
        rmdirSync(join(cgroupDir, 'child'));
        rmdirSync(cgroupDir);
      } catch {
        /* a process may still be exiting; the group is empty soon and harmless */
      }
    }
  });

  it.runIf(bpf.ok)('captures only processes in (or below) the listed cgroup', () => {
    const spans = spansOf(traces);
    expect(spans.filter((x) => x.pid === outside!.pid)).toHaveLength(0);
    expect(spans.filter((x) => x.s.kind === SpanKind.CLIENT)).toHaveLength(0); // curl is not in the group
    expect(spans.filter((x) => x.pid === inside!.pid).map((x) => x.s.attributes['url.path']).sort()).toEqual(['/in/1', '/in/2', '/in/3']);
  });

  it.runIf(bpf.ok)('reports IPv6 peers and ports', () => {
    const v6spans: Span[] = spansOf(traces).filter((x) => x.pid === v6!.pid).map((x) => x.s);
    expect(v6spans).toHaveLength(2);
    for (const s of v6spans) {
      expect(s.attributes['network.peer.address']).toBe('::1');
      expect(s.attributes['client.address']).toBe('::1');
      expect(s.attributes['server.address']).toBe('::1');
      expect(s.attributes['server.port']).toBe(v6!.port);
      expect(s.attributes['http.route']).toBe('/v6/{id}');
    }
  });

  it.runIf(bpf.ok)('refuses to start on a cgroup that does not exist', async () => {
    const r = makeReceiver({ cgroups: ['/no-such-group-sonde'] }, []);
    await expect(r.start()).rejects.toSatisfy((e: unknown) => e instanceof SondeError && e.code === 'SONDE_EBPF_CGROUP_NOT_FOUND');
    await r.shutdown();
  });
});
