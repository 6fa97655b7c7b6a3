// Compact records kept in the metadata cache instead of whole API objects. Each keeps only what
// attribute building needs; labels and annotations are filtered to the keys a rule asks for.
// The `metadata` part keeps the informer cache (keyed by namespace/name, compared by
// resourceVersion) working on these records directly, so no full object is retained anywhere.

export interface RecordMeta {
  name: string;
  namespace: string;
  uid: string;
  resourceVersion: string;
}

export interface PodRecord {
  metadata: RecordMeta;
  createdMs: number;
  nodeName: string;
  /** Pod IPs; empty for host-network pods, whose IP is the node's and names no pod. */
  ips: string[];
  /** Succeeded or Failed: the IP is released and may already belong to another pod. */
  terminated: boolean;
  /** The controlling owner (ReplicaSet, StatefulSet, DaemonSet, Job, ...). */
  ownerKind: string;
  ownerName: string;
  /** Deployment name read from the ReplicaSet name and pod-template-hash, used until the ReplicaSet is known. */
  hashDeployment: string;
  /** Flat pairs: container id (hex, no runtime prefix), container name, ... */
  containers: string[];
  labels: Record<string, string> | undefined;
  annotations: Record<string, string> | undefined;
}

export interface OwnerRecord {
  metadata: RecordMeta;
  /** The owner's owner: Deployment for a ReplicaSet, CronJob for a Job ('' if none). */
  parent: string;
}

export interface ServiceRecord {
  metadata: RecordMeta;
  ips: string[];
}

export interface NamespaceRecord {
  metadata: RecordMeta;
  labels: Record<string, string> | undefined;
  annotations: Record<string, string> | undefined;
}

export type KeyFilter = (key: string) => boolean;

type Obj = Record<string, any>;

// Namespace, node, owner kind/name, container names and label values repeat across pods; JSON
// parsing makes a fresh copy of each per pod. One shared copy per distinct value saves about a
// tenth of the cache. Bounded: the table starts over when full.
const INTERN_MAX = 65_536;
const interned = new Map<string, string>();
export function intern(s: string): string {
  const hit = interned.get(s);
  if (hit !== undefined) return hit;
  if (interned.size >= INTERN_MAX) interned.clear();
  interned.set(s, s);
  return s;
}

function meta(obj: Obj): RecordMeta {
  const m: Obj = obj?.metadata ?? {};
  return {
    name: String(m.name ?? ''),
    namespace: intern(String(m.namespace ?? '')),
    uid: String(m.uid ?? ''),
    resourceVersion: String(m.resourceVersion ?? ''),
  };
}

function pick(map: unknown, keep: KeyFilter): Record<string, string> | undefined {
  if (!map || typeof map !== 'object') return undefined;
  let out: Record<string, string> | undefined;
  for (const [k, v] of Object.entries(map as Obj)) {
    if (typeof v === 'string' && keep(k)) (out ??= {})[intern(k)] = intern(v);
  }
  return out;
}

function controller(m: Obj): { kind: string; name: string } | undefined {
  const refs: Obj[] = Array.isArray(m?.ownerReferences) ? m.ownerReferences : [];
  const ref = refs.find((r) => r?.controller === true) ?? refs[0];
  return ref ? { kind: intern(String(ref.kind ?? '')), name: intern(String(ref.name ?? '')) } : undefined;
}

function timeMs(value: unknown): number {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'string') {
    const t = Date.parse(value);
    return Number.isNaN(t) ? 0 : t;
  }
  return 0;
}

/** `containerd://<id>` -> `<id>`. */
export function stripRuntime(containerId: string): string {
  const i = containerId.indexOf('://');
  return i < 0 ? containerId : containerId.slice(i + 3);
}

export function podRecord(obj: Obj, keepLabel: KeyFilter, keepAnnotation: KeyFilter): PodRecord {
  const m: Obj = obj?.metadata ?? {};
  const spec: Obj = obj?.spec ?? {};
  const status: Obj = obj?.status ?? {};
  const owner = controller(m);
  const ips: string[] = [];
  if (spec.hostNetwork !== true) {
    if (Array.isArray(status.podIPs)) for (const p of status.podIPs) if (typeof p?.ip === 'string') ips.push(p.ip);
    if (ips.length === 0 && typeof status.podIP === 'string' && status.podIP) ips.push(status.podIP);
  }
  const containers: string[] = [];
  for (const list of [status.initContainerStatuses, status.containerStatuses, status.ephemeralContainerStatuses]) {
    if (!Array.isArray(list)) continue;
    for (const cs of list) {
      if (typeof cs?.containerID === 'string' && cs.containerID) containers.push(stripRuntime(cs.containerID), intern(String(cs.name ?? '')));
    }
  }
  const hash = m.labels?.['pod-template-hash'];
  let hashDeployment = '';
  if (owner?.kind === 'ReplicaSet' && typeof hash === 'string' && owner.name.endsWith(`-${hash}`)) {
    hashDeployment = intern(owner.name.slice(0, -hash.length - 1));
  }
  return {
    metadata: meta(obj),
    createdMs: timeMs(m.creationTimestamp),
    nodeName: intern(String(spec.nodeName ?? '')),
    ips,
    terminated: status.phase === 'Succeeded' || status.phase === 'Failed',
    ownerKind: owner?.kind ?? '',
    ownerName: owner?.name ?? '',
    hashDeployment,
    containers,
    labels: pick(m.labels, keepLabel),
    annotations: pick(m.annotations, keepAnnotation),
  };
}

/** A ReplicaSet (parentKind Deployment) or Job (parentKind CronJob) and the name of its controller. */
export function ownerRecord(obj: Obj, parentKind: string): OwnerRecord {
  const owner = controller(obj?.metadata ?? {});
  return { metadata: meta(obj), parent: owner?.kind === parentKind ? owner.name : '' };
}

export function serviceRecord(obj: Obj): ServiceRecord {
  const spec: Obj = obj?.spec ?? {};
  const ips = new Set<string>();
  const add = (ip: unknown): void => {
    if (typeof ip === 'string' && ip && ip !== 'None') ips.add(ip);
  };
  add(spec.clusterIP);
  if (Array.isArray(spec.clusterIPs)) spec.clusterIPs.forEach(add);
  return { metadata: meta(obj), ips: [...ips] };
}

export function namespaceRecord(obj: Obj, keepLabel: KeyFilter, keepAnnotation: KeyFilter): NamespaceRecord {
  const m: Obj = obj?.metadata ?? {};
  return { metadata: meta(obj), labels: pick(m.labels, keepLabel), annotations: pick(m.annotations, keepAnnotation) };
}
