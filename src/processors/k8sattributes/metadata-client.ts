import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { listPage } from './list-request.js';
import type { Logger } from '../../telemetry/logger.js';
import type { SelfTelemetry } from '../../telemetry/self-telemetry.js';
import { SERVICE_NAME_LABEL, type CompiledRule } from './config.js';
import { MetadataStore } from './metadata-store.js';
import { namespaceRecord, ownerRecord, podRecord, serviceRecord, type KeyFilter } from './records.js';
import { ResourceInformer, type InformerHooks, type ResourceSpec } from './resource-informer.js';

export interface MetadataClientOptions {
  /** Component id, the `processor` label of Sonde's k8s metrics. */
  id: string;
  kubeConfig: KubeConfig;
  /** Watch only this node's pods; '' watches every pod. */
  nodeName: string;
  rules: readonly CompiledRule[];
  serviceNameFromLabel: boolean;
  watchServices: boolean;
  pageSize: number;
  tombstoneTtlMs: number;
  logger: Logger;
  telemetry: SelfTelemetry;
}

/**
 * The informers of one k8sattributes processor id and the store they fill. One per id, shared by
 * every pipeline that uses it (the processor itself is created once per pipeline).
 */
export class MetadataClient {
  readonly store: MetadataStore;
  private readonly informers: Array<ResourceInformer<KubernetesObject>> = [];
  private readonly health = new Map<string, boolean>();
  /** Resources whose list/watch failed since they last worked (the failure was logged). */
  private readonly failing = new Set<string>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly syncedAll: Promise<void>;
  private syncedFlag = false;
  private readonly apiUp;
  private readonly watchErrors;
  private readonly lists;
  private readonly cached;

  constructor(private readonly options: MetadataClientOptions) {
    const { telemetry, id } = options;
    this.store = new MetadataStore(options.tombstoneTtlMs);
    this.apiUp = telemetry.gauge('sonde_k8s_api_up', 'Whether the last list/watch of every watched Kubernetes resource succeeded (1) or any is failing (0).', ['processor']);
    this.watchErrors = telemetry.counter('sonde_k8s_watch_errors_total', 'Failed Kubernetes list or watch requests; each is retried with backoff while the last known metadata stays in use.', ['processor', 'resource']);
    this.lists = telemetry.counter('sonde_k8s_lists_total', 'Complete lists applied to the metadata cache: the first sync and every re-list (410 Gone, reconnect after an outage).', ['processor', 'resource']);
    this.cached = telemetry.gauge('sonde_k8s_cached_objects', 'Objects in the Kubernetes metadata cache (deleted pods kept as tombstones not included).', ['processor', 'resource']);
    this.apiUp.set({ processor: id }, 0);

    const ruleKeeps = (kind: 'label' | 'annotation', from: 'pod' | 'namespace'): KeyFilter => {
      const rules = options.rules.filter((r) => r.kind === kind && r.from === from);
      const always = kind === 'label' && from === 'pod' && options.serviceNameFromLabel ? SERVICE_NAME_LABEL : undefined;
      return (k) => k === always || rules.some((r) => (r.key !== undefined ? r.key === k : r.regex!.test(k)));
    };
    const podLabels = ruleKeeps('label', 'pod');
    const podAnnotations = ruleKeeps('annotation', 'pod');
    const nsLabels = ruleKeeps('label', 'namespace');
    const nsAnnotations = ruleKeeps('annotation', 'namespace');

    const kc = options.kubeConfig;
    const store = this.store;
    const fieldSelector = options.nodeName ? `spec.nodeName=${options.nodeName}` : undefined;

    const specs: Array<ResourceSpec<any>> = [
      {
        resource: 'pods',
        path: '/api/v1/pods',
        fieldSelector,
        listPage: (limit, cont) => listPage(kc, '/api/v1/pods', { limit, continue: cont, fieldSelector }),
        trim: (o) => podRecord(o as any, podLabels, podAnnotations),
        upsert: (r) => store.upsertPod(r),
        remove: (r) => store.deletePod(r),
      },
      {
        resource: 'replicasets',
        path: '/apis/apps/v1/replicasets',
        listPage: (limit, cont) => listPage(kc, '/apis/apps/v1/replicasets', { limit, continue: cont }),
        trim: (o) => ownerRecord(o as any, 'Deployment'),
        upsert: (r) => store.upsertReplicaSet(r),
        remove: (r) => store.deleteReplicaSet(r),
      },
      {
        resource: 'jobs',
        path: '/apis/batch/v1/jobs',
        listPage: (limit, cont) => listPage(kc, '/apis/batch/v1/jobs', { limit, continue: cont }),
        trim: (o) => ownerRecord(o as any, 'CronJob'),
        upsert: (r) => store.upsertJob(r),
        remove: (r) => store.deleteJob(r),
      },
    ];
    if (options.rules.some((r) => r.from === 'namespace')) {
      specs.push({
        resource: 'namespaces',
        path: '/api/v1/namespaces',
        listPage: (limit, cont) => listPage(kc, '/api/v1/namespaces', { limit, continue: cont }),
        trim: (o) => namespaceRecord(o as any, nsLabels, nsAnnotations),
        upsert: (r) => store.upsertNamespace(r),
        remove: (r) => store.deleteNamespace(r),
      });
    }
    if (options.watchServices) {
      specs.push({
        resource: 'services',
        path: '/api/v1/services',
        listPage: (limit, cont) => listPage(kc, '/api/v1/services', { limit, continue: cont }),
        trim: (o) => serviceRecord(o as any),
        upsert: (r) => store.upsertService(r),
        remove: (r) => store.deleteService(r),
      });
    }

    const hooks: InformerHooks = {
      onUp: (resource) => {
        this.setHealth(resource, true);
        if (this.failing.delete(resource)) options.logger.info({ processor: id, resource }, 'Kubernetes API list/watch works again');
      },
      onError: (resource, err) => {
        this.watchErrors.inc({ processor: id, resource });
        this.setHealth(resource, false);
        // Log the first failure (also one at startup, before anything ever worked), not every retry.
        if (!this.failing.has(resource)) {
          this.failing.add(resource);
          options.logger.warn(
            { code: 'SONDE_K8S_API_UNAVAILABLE', processor: id, resource, err: describe(err) },
            'Kubernetes API list/watch failed; retrying, last known metadata stays in use',
          );
        }
      },
      onListed: (resource, count) => {
        this.lists.inc({ processor: id, resource });
        options.logger.debug({ processor: id, resource, count }, 'Kubernetes list applied');
        this.refreshCounts();
      },
    };
    for (const spec of specs) {
      this.health.set(spec.resource, false);
      this.informers.push(new ResourceInformer(options.kubeConfig, spec, options.pageSize, hooks));
    }
    this.syncedAll = Promise.all(this.informers.map((i) => i.synced)).then(() => {
      this.syncedFlag = true;
    });
  }

  get synced(): boolean {
    return this.syncedFlag;
  }

  /** Resolves once every informer applied its first list (or the client stopped). */
  whenSynced(): Promise<void> {
    return this.syncedAll;
  }

  start(): void {
    for (const informer of this.informers) informer.start();
    const every = Math.max(1_000, Math.min(this.options.tombstoneTtlMs / 2, 30_000));
    this.sweepTimer = setInterval(() => {
      this.store.sweep();
      this.refreshCounts();
    }, every);
    this.sweepTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    await Promise.all(this.informers.map((i) => i.stop()));
  }

  private setHealth(resource: string, up: boolean): void {
    this.health.set(resource, up);
    let all = true;
    for (const v of this.health.values()) all &&= v;
    this.apiUp.set({ processor: this.options.id }, all ? 1 : 0);
  }

  private refreshCounts(): void {
    for (const [resource, n] of Object.entries(this.store.counts())) this.cached.set({ processor: this.options.id, resource }, n);
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
