// Resolves the http.cgroups paths to cgroup v2 ids, the values bpf_get_current_cgroup_id()
// returns: on cgroup2 the id of a group is its directory's inode number.

import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SondeError } from '../../../errors/index.js';

/** Where cgroup2 is mounted (/sys/fs/cgroup on pure v2 hosts, /sys/fs/cgroup/unified on hybrid ones). */
export function cgroup2Mount(mounts = '/proc/self/mounts'): string | undefined {
  let text: string;
  try {
    text = readFileSync(mounts, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [, dir, type] = line.split(' ');
    if (type === 'cgroup2' && dir) return dir.replace(/\\040/g, ' ');
  }
  return undefined;
}

/**
 * Cgroup ids for the configured paths; throws SONDE_EBPF_CGROUP_NOT_FOUND for a missing one.
 * `mounts` is the mount table to find cgroup2 in (tests pass their own).
 */
export function resolveCgroupIds(paths: readonly string[], mounts = '/proc/self/mounts'): bigint[] {
  if (paths.length === 0) return [];
  const mount = cgroup2Mount(mounts);
  if (!mount) {
    throw new SondeError('SONDE_EBPF_CGROUP_NOT_FOUND', 'http.cgroups is set but no cgroup v2 filesystem is mounted', {
      hint: 'Mount cgroup2 (e.g. `mount -t cgroup2 none /sys/fs/cgroup`) or remove http.cgroups.',
    });
  }
  return paths.map((p) => {
    const dir = p === mount || p.startsWith(mount + '/') ? p : join(mount, p);
    try {
      const st = statSync(dir, { bigint: true });
      if (!st.isDirectory()) throw new Error('not a directory');
      return st.ino;
    } catch (err) {
      throw new SondeError('SONDE_EBPF_CGROUP_NOT_FOUND', `http.cgroups: cgroup "${p}" not found (${dir})`, {
        hint: 'Use the path from the "0::" line of /proc/PID/cgroup, or an absolute path under ' + mount + '.',
        cause: err,
      });
    }
  });
}
