import type { NamespaceRecord, OwnerRecord, PodRecord, ServiceRecord } from './records.js';

interface IpSlot {
  /** Pods currently holding the IP; more than one only while a delete is still on its way. */
  live: PodRecord[];
  /** Pods that held it, newest deletion last. */
  tombstones: Array<{ pod: PodRecord; deletedMs: number }>;
}

const MAX_TOMBSTONES_PER_IP = 4;

/**
 * The indexes the processor looks pods up by: container id, pod uid, namespace/name and IP, plus
 * Service IPs, ReplicaSet -> Deployment, Job -> CronJob and namespaces. Informer callbacks write,
 * the processor reads; both run on the event loop, so no locking.
 *
 * Deleted pods become tombstones for `tombstoneTtlMs`: late data from a container that just ended
 * still finds its pod by container id or uid, but an IP answers for a deleted pod only for data
 * stamped before the deletion, and never once another pod holds the IP.
 */
export class MetadataStore {
  private readonly byUid = new Map<string, PodRecord>();
  /** namespace -> name -> pod; nested so no joined key string is kept per pod. */
  private readonly byName = new Map<string, Map<string, PodRecord>>();
  private readonly byContainer = new Map<string, PodRecord>();
  /** A lone live holder is stored directly; a slot only when there is history or overlap. */
  private readonly byIp = new Map<string, PodRecord | IpSlot>();
  private readonly deleted = new Map<string, number>();
  private readonly services = new Map<string, ServiceRecord>();
  private readonly serviceIps = new Map<string, ServiceRecord>();
  private readonly replicaSets = new Map<string, string>();
  private readonly jobs = new Map<string, string>();
  private readonly namespaces = new Map<string, NamespaceRecord>();
  /** `rs:<ns>/<name>` or `job:<ns>/<name>` -> deletion time; swept like pod tombstones. */
  private readonly deletedOwners = new Map<string, number>();
  private waiters: Array<() => void> = [];
  /** Bumped on every change; lets waiters and caches notice. */
  generation = 0;

  constructor(
    private readonly tombstoneTtlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  // ---- writes (informer callbacks) -------------------------------------------------------

  upsertPod(pod: PodRecord): void {
    const uid = pod.metadata.uid;
    const prev = this.byUid.get(uid);
    if (prev) this.unindexPod(prev, pod);
    this.deleted.delete(uid);
    this.byUid.set(uid, pod);
    this.nameSet(pod);
    for (let i = 0; i < pod.containers.length; i += 2) this.byContainer.set(pod.containers[i]!, pod);
    if (pod.terminated) {
      // A finished pod gives its IP back: from now on it only answers as a tombstone.
      for (const ip of pod.ips) this.bury(ip, pod, this.now());
    } else {
      for (const ip of pod.ips) this.addLive(ip, pod);
    }
    this.changed();
  }

  deletePod(pod: PodRecord): void {
    const uid = pod.metadata.uid;
    const current = this.byUid.get(uid) ?? pod;
    const at = this.now();
    for (const ip of current.ips) this.bury(ip, current, at);
    this.nameDelete(current);
    // uid and container ids are never reused: keep them until the tombstone expires.
    this.byUid.set(uid, current);
    this.deleted.set(uid, at);
    this.changed();
  }

  upsertService(svc: ServiceRecord): void {
    const k = key(svc.metadata.namespace, svc.metadata.name);
    const prev = this.services.get(k);
    if (prev) for (const ip of prev.ips) if (this.serviceIps.get(ip) === prev) this.serviceIps.delete(ip);
    this.services.set(k, svc);
    for (const ip of svc.ips) this.serviceIps.set(ip, svc);
    this.changed();
  }

  deleteService(svc: ServiceRecord): void {
    const k = key(svc.metadata.namespace, svc.metadata.name);
    const prev = this.services.get(k) ?? svc;
    for (const ip of prev.ips) if (this.serviceIps.get(ip)?.metadata.uid === prev.metadata.uid) this.serviceIps.delete(ip);
    this.services.delete(k);
    this.changed();
  }

  upsertReplicaSet(rs: OwnerRecord): void {
    const k = key(rs.metadata.namespace, rs.metadata.name);
    this.replicaSets.set(k, rs.parent);
    this.deletedOwners.delete(`rs:${k}`);
    this.changed();
  }
  /** Kept for the tombstone TTL: pods of a just-deleted ReplicaSet may still be running or report late. */
  deleteReplicaSet(rs: OwnerRecord): void {
    this.deletedOwners.set(`rs:${key(rs.metadata.namespace, rs.metadata.name)}`, this.now());
  }
  upsertJob(job: OwnerRecord): void {
    const k = key(job.metadata.namespace, job.metadata.name);
    this.jobs.set(k, job.parent);
    this.deletedOwners.delete(`job:${k}`);
    this.changed();
  }
  deleteJob(job: OwnerRecord): void {
    this.deletedOwners.set(`job:${key(job.metadata.namespace, job.metadata.name)}`, this.now());
  }
  upsertNamespace(ns: NamespaceRecord): void {
    this.namespaces.set(ns.metadata.name, ns);
    this.changed();
  }
  deleteNamespace(ns: NamespaceRecord): void {
    this.namespaces.delete(ns.metadata.name);
    this.changed();
  }

  /** Drop pod, ReplicaSet and Job tombstones older than the TTL. */
  sweep(): void {
    const limit = this.now() - this.tombstoneTtlMs;
    for (const [uid, at] of this.deleted) {
      if (at > limit) continue;
      const pod = this.byUid.get(uid);
      this.deleted.delete(uid);
      this.byUid.delete(uid);
      if (!pod) continue;
      for (let i = 0; i < pod.containers.length; i += 2) {
        const id = pod.containers[i]!;
        if (this.byContainer.get(id) === pod) this.byContainer.delete(id);
      }
    }
    for (const [k, at] of this.deletedOwners) {
      if (at > limit) continue;
      this.deletedOwners.delete(k);
      if (k.startsWith('rs:')) this.replicaSets.delete(k.slice(3));
      else this.jobs.delete(k.slice(4));
    }
    for (const [ip, entry] of this.byIp) {
      if (isPod(entry)) continue;
      entry.tombstones = entry.tombstones.filter((t) => t.deletedMs > limit);
      if (entry.tombstones.length > 0) continue;
      if (entry.live.length === 0) this.byIp.delete(ip);
      else if (entry.live.length === 1) this.byIp.set(ip, entry.live[0]!);
    }
  }

  // ---- reads (processor) -----------------------------------------------------------------

  podByContainerId(id: string): PodRecord | undefined {
    return this.byContainer.get(id);
  }
  podByUid(uid: string): PodRecord | undefined {
    return this.byUid.get(uid);
  }
  podByName(namespace: string, name: string): PodRecord | undefined {
    return this.byName.get(namespace)?.get(name);
  }

  /**
   * The pod that held `ip` at `atMs`. A live holder always wins (the newest-created when two
   * overlap); a deleted one answers only for data stamped at or before its deletion.
   */
  podByIp(ip: string, atMs: number): PodRecord | undefined {
    const slot = this.byIp.get(ip);
    if (!slot) return undefined;
    if (isPod(slot)) return slot;
    if (slot.live.length > 0) {
      let best = slot.live[0]!;
      for (const p of slot.live) if (p.createdMs > best.createdMs) best = p;
      return best;
    }
    for (let i = slot.tombstones.length - 1; i >= 0; i--) {
      const t = slot.tombstones[i]!;
      if (atMs <= t.deletedMs && atMs >= t.pod.createdMs) return t.pod;
    }
    return undefined;
  }

  /**
   * The pod holding `ip` right now, only when exactly one live pod holds it (association by a
   * sender's address must not guess: overlapping holders answer nothing, and host-network pods,
   * which share the node's IP, are never indexed by IP at all). Tombstones never answer.
   */
  soleLivePodByIp(ip: string): PodRecord | undefined {
    const slot = this.byIp.get(ip);
    if (!slot) return undefined;
    if (isPod(slot)) return slot;
    return slot.live.length === 1 ? slot.live[0] : undefined;
  }

  serviceByIp(ip: string): ServiceRecord | undefined {
    return this.serviceIps.get(ip);
  }
  /** Deployment owning a ReplicaSet: a name, '' if it has none, undefined if the ReplicaSet is unknown. */
  replicaSetParent(namespace: string, name: string): string | undefined {
    return this.replicaSets.get(key(namespace, name));
  }
  jobParent(namespace: string, name: string): string | undefined {
    return this.jobs.get(key(namespace, name));
  }
  namespace(name: string): NamespaceRecord | undefined {
    return this.namespaces.get(name);
  }
  isDeleted(uid: string): boolean {
    return this.deleted.has(uid);
  }

  counts(): { pods: number; services: number; replicasets: number; jobs: number; namespaces: number } {
    return {
      pods: this.byUid.size - this.deleted.size,
      services: this.services.size,
      replicasets: this.replicaSets.size - countPrefix(this.deletedOwners, 'rs:'),
      jobs: this.jobs.size - countPrefix(this.deletedOwners, 'job:'),
      namespaces: this.namespaces.size,
    };
  }

  /** Resolves on the next change or after `ms`, whichever comes first. */
  waitForChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      timer.unref();
      const self = this;
      function done(): void {
        clearTimeout(timer);
        self.waiters = self.waiters.filter((w) => w !== done);
        resolve();
      }
      this.waiters.push(done);
    });
  }

  // ---- internals -------------------------------------------------------------------------

  private changed(): void {
    this.generation++;
    if (this.waiters.length === 0) return;
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) w();
  }

  private nameSet(pod: PodRecord): void {
    let names = this.byName.get(pod.metadata.namespace);
    if (!names) this.byName.set(pod.metadata.namespace, (names = new Map()));
    names.set(pod.metadata.name, pod);
  }

  private nameDelete(pod: PodRecord): void {
    const names = this.byName.get(pod.metadata.namespace);
    if (names?.get(pod.metadata.name)?.metadata.uid !== pod.metadata.uid) return;
    names.delete(pod.metadata.name);
    if (names.size === 0) this.byName.delete(pod.metadata.namespace);
  }

  /** The IP's slot, turning a lone holder into a slot. */
  private slot(ip: string): IpSlot {
    const cur = this.byIp.get(ip);
    if (cur && !isPod(cur)) return cur;
    const s: IpSlot = { live: cur ? [cur] : [], tombstones: [] };
    this.byIp.set(ip, s);
    return s;
  }

  private addLive(ip: string, pod: PodRecord): void {
    const cur = this.byIp.get(ip);
    if (!cur || (isPod(cur) && cur.metadata.uid === pod.metadata.uid)) {
      this.byIp.set(ip, pod);
      return;
    }
    const slot = this.slot(ip);
    const i = slot.live.findIndex((p) => p.metadata.uid === pod.metadata.uid);
    if (i >= 0) slot.live[i] = pod;
    else slot.live.push(pod);
  }

  private bury(ip: string, pod: PodRecord, at: number): void {
    const slot = this.slot(ip);
    const before = slot.live.length;
    slot.live = slot.live.filter((p) => p.metadata.uid !== pod.metadata.uid);
    if (slot.live.length === before && slot.tombstones.some((t) => t.pod.metadata.uid === pod.metadata.uid)) return;
    slot.tombstones.push({ pod, deletedMs: at });
    if (slot.tombstones.length > MAX_TOMBSTONES_PER_IP) slot.tombstones.shift();
  }

  /** Remove index entries of the previous version that the new version no longer has. */
  private unindexPod(prev: PodRecord, next: PodRecord): void {
    for (let i = 0; i < prev.containers.length; i += 2) {
      const id = prev.containers[i]!;
      if (!next.containers.includes(id) && this.byContainer.get(id) === prev) this.byContainer.delete(id);
    }
    for (const ip of prev.ips) {
      if (!next.ips.includes(ip) || next.terminated) {
        if (!prev.terminated) this.bury(ip, prev, this.now());
      }
    }
    this.nameDelete(prev);
  }
}

function countPrefix(map: Map<string, number>, prefix: string): number {
  let n = 0;
  for (const k of map.keys()) if (k.startsWith(prefix)) n++;
  return n;
}

function isPod(entry: PodRecord | IpSlot): entry is PodRecord {
  return (entry as PodRecord).metadata !== undefined;
}

function key(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}
