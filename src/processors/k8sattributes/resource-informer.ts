import { ListWatch, Watch, type KubeConfig, type KubernetesObject, type KubernetesListObject } from '@kubernetes/client-node';

export interface ListPage {
  items: unknown[];
  metadata?: { resourceVersion?: string; _continue?: string };
}

/** One watched resource kind: how to list a page, how to shrink an object, where to put it. */
export interface ResourceSpec<R extends KubernetesObject> {
  /** Plural name, used in logs and metric labels: pods, replicasets, jobs, services, namespaces. */
  resource: string;
  /** Collection path the watch uses, e.g. /api/v1/pods. */
  path: string;
  fieldSelector?: string;
  listPage(limit: number, cont: string | undefined): Promise<ListPage>;
  trim(obj: unknown): R;
  upsert(record: R): void;
  remove(record: R): void;
}

export interface InformerHooks {
  /** A list or watch request succeeded: the API server is reachable. */
  onUp(resource: string): void;
  /** A list or watch failed; the informer retries on its own. */
  onError(resource: string, err: unknown): void;
  /** A full list was applied to the cache (first sync, or a re-list after 410 Gone / an outage). */
  onListed(resource: string, count: number): void;
}

const INITIAL_RETRY_MS = 500;
const WATCH_TIMEOUT_S = 300;
const MIN_WATCH_INTERVAL_MS = 1000;
const MAX_RETRY_MS = 30_000;

/**
 * The client library's ListWatch (list, then watch from the list's resourceVersion, re-list on
 * 410 Gone) with three additions: objects are shrunk to records before the library caches them
 * (on both the list and the watch path), lists are paged, and a failed list/watch is retried
 * with backoff instead of ending the informer.
 */
export class ResourceInformer<R extends KubernetesObject> {
  private listWatch: ListWatch<R> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs = INITIAL_RETRY_MS;
  private stopped = true;
  /** Resolves after the first complete list has been applied. */
  readonly synced: Promise<void>;
  private markSynced!: () => void;

  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly spec: ResourceSpec<R>,
    private readonly pageSize: number,
    private readonly hooks: InformerHooks,
  ) {
    this.synced = new Promise((resolve) => (this.markSynced = resolve));
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const lw = new ListWatch<R>(
      this.spec.path,
      this.trimmingWatch() as unknown as Watch,
      () => this.listAll(),
      false,
      undefined,
      this.spec.fieldSelector,
    );
    lw.on('add', (r) => this.spec.upsert(r));
    lw.on('update', (r) => this.spec.upsert(r));
    lw.on('delete', (r) => this.spec.remove(r));
    lw.on('error', (err) => this.failed(err));
    this.listWatch = lw;
    void lw.start().catch((err: unknown) => this.failed(err));
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.listWatch?.stop();
    this.markSynced();
  }

  /** Records currently cached by the library (for sizing and tests). */
  cached(): readonly R[] {
    return this.listWatch?.list() ?? [];
  }

  private failed(err: unknown): void {
    if (this.stopped) return;
    this.hooks.onError(this.spec.resource, err);
    if (this.retryTimer) return;
    const wait = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      // Resumes from the last resourceVersion; a 410 Gone answer there makes it re-list.
      if (!this.stopped) void this.listWatch?.start().catch((e: unknown) => this.failed(e));
    }, wait);
    this.retryTimer.unref();
  }

  private up(): void {
    this.retryMs = INITIAL_RETRY_MS;
    this.hooks.onUp(this.spec.resource);
  }

  private async listAll(): Promise<KubernetesListObject<R>> {
    const items: R[] = [];
    let cont: string | undefined;
    let resourceVersion = '';
    // Bounded: the server ends a paged list with an empty continue token.
    for (let page = 0; page < 1_000_000; page++) {
      if (this.stopped) throw new Error(`${this.spec.resource}: informer stopped while listing`);
      const res = await this.spec.listPage(this.pageSize, cont);
      for (const obj of res.items) items.push(this.spec.trim(obj));
      resourceVersion = res.metadata?.resourceVersion ?? resourceVersion;
      cont = res.metadata?._continue || undefined;
      if (!cont) break;
    }
    this.up();
    // The library applies the list right after this promise settles; report once it has.
    setImmediate(() => {
      this.hooks.onListed(this.spec.resource, items.length);
      this.markSynced();
    });
    return { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion }, items };
  }

  private delay(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms).unref());
  }

  /**
   * A Watch whose events carry records instead of full objects, that reports when it connects,
   * asks the server to end the watch after WATCH_TIMEOUT_S (the library then resumes it), aborts
   * a connection silent for longer than that (half-open), and never re-watches in a tight loop.
   */
  private trimmingWatch(): Pick<Watch, 'watch'> {
    const inner = new Watch(this.kubeConfig);
    let lastStart = 0;
    return {
      watch: async (path, query, callback, done) => {
        if (Date.now() - lastStart < MIN_WATCH_INTERVAL_MS) await this.delay(MIN_WATCH_INTERVAL_MS);
        if (this.stopped) {
          done(null);
          return new AbortController();
        }
        lastStart = Date.now();
        let finished = false;
        let silence: NodeJS.Timeout | undefined;
        let controller: AbortController | undefined;
        const arm = (): void => {
          if (silence) clearTimeout(silence);
          silence = setTimeout(() => controller?.abort(), (WATCH_TIMEOUT_S + 30) * 1000);
          silence.unref();
        };
        arm();
        controller = await inner.watch(
          path,
          { ...query, timeoutSeconds: WATCH_TIMEOUT_S, allowWatchBookmarks: true },
          (phase: string, obj: any, raw: any) => {
            arm();
            if (phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED') callback(phase, this.spec.trim(obj), raw);
            else callback(phase, obj, raw);
          },
          (err: unknown) => {
            finished = true;
            if (silence) clearTimeout(silence);
            done(err);
          },
        );
        if (finished) {
          if (silence) clearTimeout(silence);
        } else this.up();
        return controller;
      },
    };
  }
}
