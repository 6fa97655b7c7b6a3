import type { Consumer, CreateSettings, Processor } from '../../component/types.js';
import type { Attributes, AttributeValue, ResourceMetrics, ResourceSpans, TelemetryBatch } from '../../pdata/types.js';
import { SpanKind } from '../../pdata/types.js';
import { compileRules, parseDurations, type K8sAttributesConfig } from './config.js';
import type { MetadataClient } from './metadata-client.js';
import type { MetadataStore } from './metadata-store.js';
import { applyPodAttributes, serviceNameOf, workloadOf, type AttributeOptions } from './pod-attributes.js';
import { ProcessCgroupResolver } from './process-cgroup.js';
import type { PodRecord } from './records.js';

// @kubernetes/client-node costs ~77 MiB of RSS once loaded: load it (through these modules) only
// when a k8sattributes processor actually starts, not whenever Sonde starts.
const loadKubeModules = () => Promise.all([import('./kube-config.js'), import('./shared-clients.js')]);

interface Association {
  pod: PodRecord | undefined;
  containerId: string | undefined;
  method: 'container_id' | 'cgroup_pod_uid' | 'pod_ip' | 'pod_uid' | 'pod_name' | 'connection' | 'none';
  /** The keys the resource carries that a pod could match later (for wait_for_metadata). */
  pending: string | undefined;
}

const GAVE_UP_MAX = 4096;

export class K8sAttributesProcessor implements Processor {
  readonly mutatesData = true;
  private client: MetadataClient | undefined;
  private readonly clientKey: string;
  private readonly cgroups: ProcessCgroupResolver;
  private readonly attrOptions: AttributeOptions;
  private readonly waitMs: number;
  private readonly tombstoneMs: number;
  private readonly prefix: string;
  private readonly gaveUp = new Set<string>();
  private readonly associations;
  private readonly waitTimeouts;
  private started = false;
  /** Set once a wait for the first list timed out: later batches do not wait for it again. */
  private syncGaveUp = false;
  private stopped = false;

  constructor(
    private readonly settings: CreateSettings & { readonly pipeline: string },
    private readonly config: K8sAttributesConfig,
    private readonly next: Consumer,
  ) {
    const rules = compileRules(config, settings.id.key);
    const { waitMs, tombstoneMs } = parseDurations(config);
    this.waitMs = config.wait_for_metadata ? waitMs : 0;
    this.tombstoneMs = tombstoneMs;
    this.prefix = config.peer.attribute_prefix;
    this.cgroups = new ProcessCgroupResolver(config.proc_path);
    this.attrOptions = { metadata: new Set(config.extract.metadata), rules, serviceName: config.service_name };
    this.clientKey = `${settings.id.key}\u0000${JSON.stringify(config)}`;
    this.associations = settings.telemetry.counter(
      'sonde_k8s_associations_total',
      'Resources the k8sattributes processor looked up, by how the pod was found (container_id, cgroup_pod_uid, pod_ip, pod_uid, pod_name, connection) or none.',
      ['processor', 'method'],
    );
    this.waitTimeouts = settings.telemetry.counter(
      'sonde_k8s_metadata_wait_timeouts_total',
      'Batches wait_for_metadata held for the whole wait_for_metadata_timeout and passed on without the missing metadata.',
      ['processor'],
    );
    this.waitTimeouts.inc({ processor: settings.id.key }, 0);
  }

  async start(): Promise<void> {
    if (this.started || this.stopped) return;
    const { config, settings } = this;
    const [{ loadKubeConfig }, { acquireClient }] = await loadKubeModules();
    // Throws SONDE_K8S_AUTH: missing credentials are a configuration problem, not an outage.
    const kubeConfig = loadKubeConfig(config.auth_type, config.context);
    let nodeName = config.filter.node || process.env[config.filter.node_from_env_var] || '';
    if (config.peer.enabled && config.peer.watch_all_pods) nodeName = '';
    else if (!nodeName) {
      settings.logger.warn(
        { code: 'SONDE_K8S_NODE_UNKNOWN', processor: settings.id.key, env: config.filter.node_from_env_var },
        'node name unknown: watching every pod in the cluster',
      );
    }
    this.client = acquireClient(this.clientKey, () => ({
      id: settings.id.key,
      kubeConfig,
      nodeName,
      rules: this.attrOptions.rules,
      serviceNameFromLabel: config.service_name.enabled,
      watchServices: config.peer.enabled && config.peer.watch_services,
      pageSize: config.list_page_size,
      tombstoneTtlMs: this.tombstoneMs,
      logger: settings.logger,
      telemetry: settings.telemetry,
    }));
    this.started = true;
  }

  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const client = this.client;
    this.client = undefined;
    if (client) {
      const [, { releaseClient }] = await loadKubeModules();
      await releaseClient(this.clientKey, client);
    }
  }

  async consume(batch: TelemetryBatch): Promise<void> {
    const client = this.client;
    if (client) {
      if (this.waitMs > 0) await this.waitForMetadata(client, batch);
      this.decorate(client.store, batch);
    }
    return this.next.consume(batch);
  }

  /**
   * Exposed for tests and the docs: the association a resource gets right now. `clientAddress`
   * is the sender's IP of the batch the resource came in (TelemetryBatch.clientAddress).
   */
  associate(store: MetadataStore, attrs: Attributes, trustPid: boolean, clientAddress?: string): Association {
    let containerId: string | undefined;
    let podUid: string | undefined;
    const pid = trustPid ? toPid(attrs['process.pid']) : undefined;
    if (pid !== undefined) {
      const id = this.cgroups.resolve(pid);
      containerId = id.containerId;
      podUid = id.podUid;
    }
    if (!containerId && typeof attrs['container.id'] === 'string' && attrs['container.id']) containerId = attrs['container.id'];
    if (containerId) {
      const pod = store.podByContainerId(containerId);
      if (pod) return { pod, containerId, method: 'container_id', pending: undefined };
    }
    if (podUid) {
      const pod = store.podByUid(podUid);
      if (pod) return { pod, containerId, method: 'cgroup_pod_uid', pending: undefined };
    }
    const now = Date.now();
    let ip: string | undefined;
    for (const name of this.config.association.pod_ip_attributes) {
      const v = attrs[name];
      if (typeof v !== 'string' || !v) continue;
      ip = normalizeIp(v);
      const pod = store.podByIp(ip, now);
      if (pod) return { pod, containerId, method: 'pod_ip', pending: undefined };
    }
    const uid = attrs['k8s.pod.uid'];
    if (typeof uid === 'string' && uid) {
      const pod = store.podByUid(uid);
      if (pod) return { pod, containerId, method: 'pod_uid', pending: undefined };
    }
    const name = attrs['k8s.pod.name'];
    const ns = attrs['k8s.namespace.name'];
    if (typeof name === 'string' && typeof ns === 'string' && name && ns) {
      const pod = store.podByName(ns, name);
      if (pod) return { pod, containerId, method: 'pod_name', pending: undefined };
    }
    const pending = containerId ?? podUid ?? ip ?? (typeof uid === 'string' ? uid : undefined) ?? (typeof name === 'string' && typeof ns === 'string' ? `${ns}/${name}` : undefined);
    // Last: the sender's address, only for a resource that names no pod, container or pod IP of
    // its own (a gateway forwarding other pods' data must not stamp its own pod on them).
    if (pending === undefined && clientAddress && this.config.association.from_connection && !namesPod(attrs)) {
      const pod = store.soleLivePodByIp(clientAddress);
      if (pod) return { pod, containerId, method: 'connection', pending: undefined };
      return { pod: undefined, containerId, method: 'none', pending: `connection:${clientAddress}` };
    }
    return { pod: undefined, containerId, method: 'none', pending };
  }

  /** Whether the resource's process.pid is a host pid (it comes from a trusted scope). */
  private trustsPid(r: ResourceMetrics | ResourceSpans): boolean {
    const prefixes = this.config.association.pid_scope_prefixes;
    if (prefixes.length === 0) return true;
    const scopes = 'scopeMetrics' in r ? r.scopeMetrics : r.scopeSpans;
    return scopes.some((s) => prefixes.some((p) => s.scope.name.startsWith(p)));
  }

  private decorate(store: MetadataStore, batch: TelemetryBatch): void {
    const processor = this.settings.id.key;
    const peer = this.config.peer.enabled;
    const resources = batch.signal === 'metrics' ? batch.resourceMetrics : batch.resourceSpans;
    for (const r of resources) {
      const attrs = r.resource.attributes;
      const a = this.associate(store, attrs, this.trustsPid(r), batch.clientAddress);
      this.associations.inc({ processor, method: a.method });
      if (a.pod) applyPodAttributes(attrs, store, a.pod, a.containerId, this.attrOptions);
      else if (a.containerId && this.attrOptions.metadata.has('container.id') && attrs['container.id'] === undefined) attrs['container.id'] = a.containerId;
    }
    if (!peer) return;
    const nowMs = Date.now();
    if (batch.signal === 'metrics') {
      for (const rm of batch.resourceMetrics) {
        for (const sm of rm.scopeMetrics) {
          for (const m of sm.metrics) {
            const inboundMetric = m.name.startsWith('http.server.');
            for (const dp of m.dataPoints) {
              const inbound = inboundMetric || dp.attributes['network.tcp.direction'] === 'inbound';
              this.decoratePeer(store, dp.attributes, inbound, toMs(dp.timeUnixNano, nowMs));
            }
          }
        }
      }
    } else {
      for (const rs of batch.resourceSpans) {
        for (const ss of rs.scopeSpans) {
          for (const span of ss.spans) {
            const inbound = span.kind === SpanKind.SERVER || span.kind === SpanKind.CONSUMER;
            this.decoratePeer(store, span.attributes, inbound, toMs(span.startTimeUnixNano, nowMs));
          }
        }
      }
    }
  }

  private decoratePeer(store: MetadataStore, attrs: Attributes, inbound: boolean, atMs: number): void {
    const raw = inbound
      ? firstString(attrs['client.address'], attrs['network.peer.address'])
      : firstString(attrs['network.peer.address'], attrs['server.address']);
    if (!raw) return;
    const ip = normalizeIp(raw);
    const p = this.prefix;
    const pod = store.podByIp(ip, atMs);
    if (pod) {
      const w = workloadOf(store, pod);
      attrs[`${p}k8s.pod.name`] = pod.metadata.name;
      attrs[`${p}k8s.namespace.name`] = pod.metadata.namespace;
      if (w.deployment) attrs[`${p}k8s.deployment.name`] = w.deployment;
      if (w.statefulset) attrs[`${p}k8s.statefulset.name`] = w.statefulset;
      if (w.daemonset) attrs[`${p}k8s.daemonset.name`] = w.daemonset;
      if (w.cronjob) attrs[`${p}k8s.cronjob.name`] = w.cronjob;
      if (w.job) attrs[`${p}k8s.job.name`] = w.job;
      attrs[`${p}service.name`] = serviceNameOf(pod, w);
    }
    const svc = store.serviceByIp(ip);
    if (svc) {
      attrs[`${p}k8s.service.name`] = svc.metadata.name;
      if (!pod) {
        attrs[`${p}k8s.namespace.name`] = svc.metadata.namespace;
        attrs[`${p}service.name`] = svc.metadata.name;
      }
    }
  }

  /** Hold the batch (bounded) while a resource names a pod the cache does not know yet. */
  private async waitForMetadata(client: MetadataClient, batch: TelemetryBatch): Promise<void> {
    const deadline = Date.now() + this.waitMs;
    const missing = (): string[] => {
      const resources = batch.signal === 'metrics' ? batch.resourceMetrics : batch.resourceSpans;
      const out: string[] = [];
      for (const r of resources) {
        const a = this.associate(client.store, r.resource.attributes, this.trustsPid(r), batch.clientAddress);
        if (!a.pod && a.pending && !this.gaveUp.has(a.pending)) out.push(a.pending);
      }
      return out;
    };
    let keys = missing();
    // Bounded by the deadline: each pass waits for a store change or the remaining time.
    while (((!client.synced && !this.syncGaveUp) || keys.length > 0) && !this.stopped) {
      const left = deadline - Date.now();
      if (left <= 0) {
        this.waitTimeouts.inc({ processor: this.settings.id.key });
        if (!client.synced) this.syncGaveUp = true;
        if (this.gaveUp.size + keys.length > GAVE_UP_MAX) this.gaveUp.clear();
        // Do not hold every later batch for a container no pod will ever claim.
        for (const k of keys) this.gaveUp.add(k);
        return;
      }
      await client.store.waitForChange(left);
      keys = missing();
    }
  }
}

/** Whether the resource carries any attribute that identifies its own pod. */
function namesPod(attrs: Attributes): boolean {
  for (const k of ['k8s.pod.uid', 'k8s.pod.name', 'container.id', 'k8s.pod.ip']) if (attrs[k] !== undefined && attrs[k] !== '') return true;
  return false;
}

function toPid(v: AttributeValue | undefined): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  return undefined;
}

function toMs(ns: bigint, fallback: number): number {
  return ns > 0n ? Number(ns / 1_000_000n) : fallback;
}

function firstString(...values: Array<AttributeValue | undefined>): string | undefined {
  for (const v of values) if (typeof v === 'string' && v) return v;
  return undefined;
}

/** `::ffff:10.1.2.3` (an IPv4 peer seen on a v6 socket) -> `10.1.2.3`; `[fd00::1]` -> `fd00::1`. */
export function normalizeIp(ip: string): string {
  let s = ip;
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  if (s.startsWith('::ffff:') && s.includes('.')) s = s.slice(7);
  return s.toLowerCase();
}
