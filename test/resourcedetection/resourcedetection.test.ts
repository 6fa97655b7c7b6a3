import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resourceDetectionProcessorFactory } from '../../src/processors/resourcedetection/factory.js';
import type { ResourceDetectionConfig } from '../../src/processors/resourcedetection/config.js';
import { detectEnv } from '../../src/processors/resourcedetection/detectors.js';
import { CollectingConsumer, resourceAttrs, settings, tcpBatch } from '../k8s/harness.js';

let child: ChildProcess;
beforeAll(async () => {
  // A real process with arguments, started through its full path (sleep 60 7 sleeps 67 s).
  child = spawn('/bin/sleep', ['60', '7'], { stdio: 'ignore' });
  await new Promise((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
});
afterAll(async () => {
  if (child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
});

async function run(config: Partial<ResourceDetectionConfig>, resource: Record<string, string | number>) {
  const next = new CollectingConsumer();
  const proc = resourceDetectionProcessorFactory.create(settings('resourcedetection'), { ...resourceDetectionProcessorFactory.createDefaultConfig(), ...config }, next);
  await proc.start();
  await proc.consume(tcpBatch(resource));
  await proc.shutdown();
  return resourceAttrs(next.last());
}

const machineId = ['/etc/machine-id', '/var/lib/dbus/machine-id'].filter((f) => existsSync(f)).map((f) => readFileSync(f, 'utf8').trim()).find(Boolean);

describe('resourcedetection', () => {
  it('adds host and process attributes read from the system and /proc', async () => {
    const a = await run({}, { 'process.pid': child.pid! });
    expect(a['host.name']).toBe(hostname());
    expect(a['os.type']).toBe('linux');
    if (machineId) expect(a['host.id']).toBe(machineId);
    else expect(a['host.id']).toBeUndefined();
    expect(a['process.pid']).toBe(child.pid);
    // coreutils sleep may be a symlink or the real binary; the name is read from the exe link.
    expect(a['process.executable.name']).toMatch(/^(sleep|coreutils)$/);
    expect(a['process.command']).toBe('/bin/sleep');
    expect(a['process.command_args']).toBeUndefined();
    expect(Object.values(a)).not.toContain('7');
  });

  it('includes the arguments only when asked', async () => {
    const a = await run({ process: { include_command_args: true, cache_ttl: '30s' } }, { 'process.pid': child.pid! });
    expect(a['process.command_args']).toEqual(['/bin/sleep', '60', '7']);
  });

  it('override false keeps what the resource already has', async () => {
    const a = await run({ override: false }, { 'host.name': 'set-by-receiver', 'process.pid': child.pid!, 'process.executable.name': 'mine' });
    expect(a['host.name']).toBe('set-by-receiver');
    expect(a['process.executable.name']).toBe('mine');
    const b = await run({ override: true }, { 'host.name': 'set-by-receiver' });
    expect(b['host.name']).toBe(hostname());
  });

  it('runs only the configured detectors; resources without process.pid get no process attributes', async () => {
    const a = await run({ detectors: ['process'] }, { 'process.pid': child.pid! });
    expect(a['host.name']).toBeUndefined();
    expect(a['process.command']).toBe('/bin/sleep');
    const b = await run({ detectors: ['system', 'process'] }, { 'service.name': 'x' });
    expect(Object.keys(b).filter((k) => k.startsWith('process.'))).toEqual([]);
  });

  it('a pid that no longer exists leaves the resource as it was', async () => {
    const a = await run({ detectors: ['process'] }, { 'process.pid': 2 ** 22 + 17 });
    expect(a).toEqual({ 'process.pid': 2 ** 22 + 17 });
  });

  it('env detector reads OTEL_RESOURCE_ATTRIBUTES, earlier detectors win', async () => {
    expect(detectEnv({ OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod,team=a%2Cb,broken,=x' })).toEqual({ 'deployment.environment': 'prod', team: 'a,b' });
    process.env.OTEL_RESOURCE_ATTRIBUTES = 'host.name=from-env';
    try {
      expect((await run({ detectors: ['env', 'system'] }, {}))['host.name']).toBe('from-env');
      expect((await run({ detectors: ['system', 'env'] }, {}))['host.name']).toBe(hostname());
    } finally {
      delete process.env.OTEL_RESOURCE_ATTRIBUTES;
    }
  });
});
