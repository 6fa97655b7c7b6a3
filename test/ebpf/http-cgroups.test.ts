import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SondeError } from '../../src/errors/index.js';
import { cgroup2Mount, resolveCgroupIds } from '../../src/receivers/ebpf/http/cgroups.js';

describe('http.cgroups resolution', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sonde-cg-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds the cgroup2 mount in a mounts table', () => {
    const mounts = join(dir, 'mounts');
    writeFileSync(mounts, 'tmpfs /sys/fs/cgroup tmpfs rw 0 0\ncgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\ncgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n');
    expect(cgroup2Mount(mounts)).toBe('/sys/fs/cgroup/unified');
    writeFileSync(mounts, 'proc /proc proc rw 0 0\n');
    expect(cgroup2Mount(mounts)).toBeUndefined();
    expect(cgroup2Mount(join(dir, 'missing'))).toBeUndefined();
  });

  const mount = join(dir, 'cg');
  const withCgroup2 = join(dir, 'mounts-v2');
  const withoutCgroup2 = join(dir, 'mounts-v1');
  writeFileSync(withCgroup2, `cgroup2 ${mount} cgroup2 rw 0 0\n`);
  writeFileSync(withoutCgroup2, 'cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n');

  it('maps /proc/PID/cgroup-style and absolute paths to directory inodes', () => {
    mkdirSync(join(mount, 'system.slice', 'nginx.service'), { recursive: true });
    const ino = statSync(join(mount, 'system.slice', 'nginx.service'), { bigint: true }).ino;
    expect(resolveCgroupIds(['/system.slice/nginx.service', join(mount, 'system.slice', 'nginx.service')], withCgroup2)).toEqual([ino, ino]);
    expect(resolveCgroupIds([], withoutCgroup2)).toEqual([]);
  });

  it('refuses a missing group or a missing cgroup2 mount with SONDE_EBPF_CGROUP_NOT_FOUND', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e instanceof SondeError ? e.code : 'other';
      }
      return 'none';
    };
    expect(code(() => resolveCgroupIds(['/nope'], withCgroup2))).toBe('SONDE_EBPF_CGROUP_NOT_FOUND');
    expect(code(() => resolveCgroupIds(['/system.slice/nginx.service'], withoutCgroup2))).toBe('SONDE_EBPF_CGROUP_NOT_FOUND');
  });
});
