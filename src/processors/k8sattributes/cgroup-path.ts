// Container id and pod uid from the text of /proc/<pid>/cgroup. Covers cgroup v1 and v2 and the
// path styles the common runtimes write: containerd (`cri-containerd-<id>.scope`, cgroupfs
// `/kubepods/<qos>/pod<uid>/<id>`), CRI-O (`crio-<id>.scope`), Docker (`docker-<id>.scope`,
// `/docker/<id>`), podman (`libpod-<id>.scope`) and systemd slices
// (`kubepods-burstable-pod<uid_with_underscores>.slice`).

export interface CgroupIdentity {
  /** 64 lowercase hex characters, as in containerStatuses[].containerID after the `runtime://`. */
  containerId?: string;
  /** The pod uid with dashes, when the path names the pod. */
  podUid?: string;
}

const SCOPE_ID = /^(?:cri-containerd|crio|docker|libpod)-([0-9a-f]{64})\.scope$/;
const BARE_ID = /^([0-9a-f]{64})$/;
// cgroupfs driver: `pod<uid>`; systemd driver: `kubepods[-<qos>]-pod<uid with _>.slice`.
const CGROUPFS_POD = /^pod([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;
const SLICE_POD = /^kubepods(?:-[a-z]+)?-pod([0-9a-f]{8}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{12})\.slice$/;

/** Identity named by one cgroup path (the part after the second `:`). */
export function parseCgroupPath(path: string): CgroupIdentity {
  const out: CgroupIdentity = {};
  for (const segment of path.split('/')) {
    if (segment.length === 0) continue;
    let m = SCOPE_ID.exec(segment) ?? BARE_ID.exec(segment);
    if (m) {
      out.containerId = m[1]!;
      continue;
    }
    m = CGROUPFS_POD.exec(segment);
    if (m) {
      out.podUid = m[1]!;
      continue;
    }
    m = SLICE_POD.exec(segment);
    if (m) out.podUid = m[1]!.replaceAll('_', '-');
  }
  return out;
}

/**
 * Identity from the whole /proc/<pid>/cgroup text. The v2 line (`0::`) is trusted first, then the
 * v1 hierarchies in file order; the first line naming a container wins, else the first naming a pod.
 */
export function parseProcCgroup(text: string): CgroupIdentity {
  const lines = text.split('\n');
  const ordered: string[] = [];
  for (const line of lines) {
    const first = line.indexOf(':');
    const second = first < 0 ? -1 : line.indexOf(':', first + 1);
    if (second < 0) continue;
    const path = line.slice(second + 1);
    if (line.startsWith('0::')) ordered.unshift(path);
    else ordered.push(path);
  }
  let podOnly: CgroupIdentity | undefined;
  for (const path of ordered) {
    const id = parseCgroupPath(path);
    if (id.containerId) return id;
    if (id.podUid && !podOnly) podOnly = id;
  }
  return podOnly ?? {};
}
