import type { Consumer, CreateSettings, Processor } from '../../component/types.js';
import { parseDuration } from '../../config/units.js';
import type { Attributes, AttributeValue, TelemetryBatch } from '../../pdata/types.js';
import type { ResourceDetectionConfig } from './config.js';
import { detectEnv, detectProcess, detectSystem } from './detectors.js';

interface CachedProcess {
  attrs: Attributes;
  expiresAt: number;
}

const MAX_CACHED_PIDS = 16_384;

/**
 * Adds host and process attributes to every resource. Host attributes are detected once at
 * start; process attributes are read from /proc for each resource carrying process.pid, and kept
 * per pid for cache_ttl so a process that exited just before its data arrived is still described.
 */
export class ResourceDetectionProcessor implements Processor {
  readonly mutatesData = true;
  /** Host-level attributes, detectors merged in order (earlier wins). */
  private host: Attributes = {};
  private readonly pids = new Map<number, CachedProcess>();
  private readonly ttlMs: number;
  private readonly useProcess: boolean;

  constructor(
    private readonly settings: CreateSettings & { readonly pipeline: string },
    private readonly config: ResourceDetectionConfig,
    private readonly next: Consumer,
  ) {
    this.ttlMs = parseDuration(config.process.cache_ttl);
    this.useProcess = config.detectors.includes('process');
  }

  async start(): Promise<void> {
    const host: Attributes = {};
    for (const d of this.config.detectors) {
      const found = d === 'env' ? detectEnv() : d === 'system' ? detectSystem() : {};
      for (const [k, v] of Object.entries(found)) if (!(k in host)) host[k] = v;
    }
    this.host = host;
    this.settings.logger.debug({ processor: this.settings.id.key, attributes: host }, 'resource detected');
  }

  async shutdown(): Promise<void> {
    this.pids.clear();
  }

  async consume(batch: TelemetryBatch): Promise<void> {
    const resources = batch.signal === 'metrics' ? batch.resourceMetrics : batch.resourceSpans;
    for (const r of resources) this.apply(r.resource.attributes);
    return this.next.consume(batch);
  }

  private apply(attrs: Attributes): void {
    const detected: Attributes = {};
    // host holds env and system merged in configured order; process slots in at its position.
    let hostMerged = false;
    for (const d of this.config.detectors) {
      let found: Attributes | undefined;
      if (d === 'process') found = this.processAttrs(attrs['process.pid']);
      else if (!hostMerged) {
        found = this.host;
        hostMerged = true;
      }
      if (!found) continue;
      for (const [k, v] of Object.entries(found)) if (!(k in detected)) detected[k] = v;
    }
    for (const [k, v] of Object.entries(detected)) {
      if (this.config.override || attrs[k] === undefined) attrs[k] = v;
    }
  }

  private processAttrs(pidValue: AttributeValue | undefined): Attributes | undefined {
    if (!this.useProcess) return undefined;
    const pid = typeof pidValue === 'number' ? pidValue : typeof pidValue === 'string' && /^\d+$/.test(pidValue) ? Number(pidValue) : NaN;
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    const now = Date.now();
    const hit = this.pids.get(pid);
    if (hit && hit.expiresAt > now) return hit.attrs;
    const attrs = detectProcess(this.config.proc_path, pid, this.config.process.include_command_args);
    if (Object.keys(attrs).length === 0) return hit?.attrs;
    if (!hit && this.pids.size >= MAX_CACHED_PIDS) {
      const oldest = this.pids.keys().next();
      if (!oldest.done) this.pids.delete(oldest.value);
    }
    this.pids.set(pid, { attrs, expiresAt: now + this.ttlMs });
    return attrs;
  }
}
