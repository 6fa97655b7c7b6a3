// User-space half of HTTP capture: ring records in, spans and duration histograms out.
//   handle(view, offset, length)  per ring record (decode, route, span, histogram)
//   takeSpans()                   spans buffered since the last call, as one traces batch
//   collectMetrics()              the cumulative histograms, as one metrics batch
// It knows nothing about libbpf: the receiver feeds it records and ships what it returns.

import { hostname } from 'node:os';
import { processResourceAttributes } from '../process-resource.js';
import type { Attributes, MetricsBatch, Resource, ResourceMetrics, ResourceSpans, Span, TracesBatch } from '../../../pdata/types.js';
import type { SelfTelemetry } from '../../../telemetry/self-telemetry.js';
import { parseDuration } from '../../../config/units.js';
import type { HttpConfig } from './config.js';
import { decodeHttpEvent, type HttpExchange } from './decoder.js';
import { DurationHistogram } from './duration-histograms.js';
import { HTTP_PROGRAM, ROLE_SERVER } from './event-layout.js';
import { IdGenerator } from './ids.js';
import { createRouteNormalizer, type RouteNormalizer } from './route-normalizer.js';
import { buildSpan, serverEndpoint } from './span-builder.js';
import { MonotonicClock } from '../libbpf/event-header.js';

/** Label of sonde_ebpf_events_lost_total for records user space could not decode (as tcp_decoder). */
const HTTP_DECODER = `${HTTP_PROGRAM}_decoder`;

export const HTTP_SCOPE = { name: 'sonde.ebpf.http', version: '0.1.0' };

export interface HttpPipelineOptions {
  config: HttpConfig;
  telemetry: SelfTelemetry;
  /** Receiver id (e.g. "ebpf"), the label of sonde_receiver_* counters. */
  receiver: string;
  hostName?: string;
  /** Kernel CLOCK_MONOTONIC ns -> Unix ns. Default: MonotonicClock, re-synced every collection. */
  toUnixNs?: (monotonicNs: bigint) => bigint;
  /** Current Unix time in ns (metrics timestamps). */
  nowUnixNs?: () => bigint;
}

export class HttpPipeline {
  private readonly cfg: HttpConfig;
  private readonly routes: RouteNormalizer;
  private readonly ids = new IdGenerator();
  private readonly keepHeaders: ReadonlySet<string>;
  private readonly toUnixNs: (ns: bigint) => bigint;
  private readonly clock: MonotonicClock | undefined;
  private readonly nowUnixNs: () => bigint;
  private readonly hostName: string;
  private readonly server: DurationHistogram;
  private readonly client: DurationHistogram;
  private readonly resources = new Map<number, { comm: string; key: string; resource: Resource }>();
  private spans: { resourceKey: string; resource: Resource; span: Span }[] = [];

  private readonly decodeErrors;
  private readonly lost;
  private readonly refused;
  private readonly serverCount;
  private readonly clientCount;

  /** Counts for tests and `sonde doctor`-style introspection. */
  readonly stats = { exchanges: 0, decodeErrors: 0, spansDropped: 0 };

  constructor(options: HttpPipelineOptions) {
    this.cfg = options.config;
    const t = options.telemetry;
    this.decodeErrors = t.counter('sonde_ebpf_decode_errors_total', 'Ring buffer records user space refused to decode (unknown schema, bad size or fields).', ['program', 'reason']);
    this.lost = t.ebpfEventsLost;
    this.refused = t.receiverRefused.labels(options.receiver);
    const requests = t.counter('sonde_ebpf_http_requests_total', 'HTTP exchanges decoded from the kernel, by side (server, client).', ['side']);
    this.serverCount = requests.labels('server');
    this.clientCount = requests.labels('client');
    const routeOverflow = t.counter('sonde_ebpf_http_route_overflow_total', 'Requests reported with http.route "_OTHER" because http.max_routes distinct routes were already in use.', []);
    const seriesOverflow = t.counter('sonde_ebpf_series_overflow_total', 'Data points recorded into an overflow series because a metric reached max_series.', ['metric']);
    this.routes = createRouteNormalizer({
      patterns: this.cfg.routes,
      heuristic: this.cfg.route_heuristic,
      maxRoutes: this.cfg.max_routes,
      onOverflow: () => routeOverflow.inc(),
    });
    this.keepHeaders = new Set(this.cfg.capture_headers.map((h) => h.toLowerCase()));
    if (options.toUnixNs) {
      this.toUnixNs = options.toUnixNs;
    } else {
      const clock = new MonotonicClock();
      this.clock = clock;
      this.toUnixNs = (ns) => clock.toUnixNano(ns);
    }
    this.nowUnixNs = options.nowUnixNs ?? (() => BigInt(Date.now()) * 1_000_000n);
    this.hostName = options.hostName ?? hostname();
    this.server = new DurationHistogram({
      name: 'http.server.request.duration',
      description: 'Duration of HTTP server requests, from the request read to the response written.',
      unit: 's',
      maxSeries: this.cfg.max_series,
      onOverflow: () => seriesOverflow.inc({ metric: 'http.server.request.duration' }),
    });
    this.client = new DurationHistogram({
      name: 'http.client.request.duration',
      description: 'Duration of HTTP client requests, from the request written to the response read.',
      unit: 's',
      maxSeries: this.cfg.max_series,
      onOverflow: () => seriesOverflow.inc({ metric: 'http.client.request.duration' }),
    });
    // Validated by the config schema; parse once so a bad value fails at creation, not per event.
    parseDuration(this.cfg.pending_timeout);
  }

  /** Ring buffer record handler: never throws. */
  readonly handle = (view: DataView, offset: number, length: number): void => {
    const r = decodeHttpEvent(view, offset, length, this.keepHeaders);
    if (!r.ok) {
      this.stats.decodeErrors++;
      this.decodeErrors.inc({ program: HTTP_PROGRAM, reason: r.reason });
      this.lost.inc({ program: HTTP_DECODER });
      return;
    }
    this.stats.exchanges++;
    this.record(r.exchange);
  };

  /** The process's resource, built once per (tgid, command name): no per-record allocation. */
  private resourceFor(ex: HttpExchange): { key: string; resource: Resource } {
    let entry = this.resources.get(ex.tgid);
    if (!entry || entry.comm !== ex.comm) {
      // Bounded: a resource only referenced by flushed spans can be rebuilt when needed.
      if (this.resources.size >= 4096) this.resources.clear();
      entry = {
        comm: ex.comm,
        key: `${ex.tgid}\u0000${ex.comm}`,
        resource: {
          attributes: processResourceAttributes(ex.tgid, ex.comm, this.hostName),
        },
      };
      this.resources.set(ex.tgid, entry);
    }
    return entry;
  }

  private record(ex: HttpExchange): void {
    const server = ex.role === ROLE_SERVER;
    (server ? this.serverCount : this.clientCount).inc();
    const route = this.routes.route(ex.request.path);
    const { key, resource } = this.resourceFor(ex);

    if (this.cfg.spans) {
      if (this.spans.length >= this.cfg.max_buffered_spans) {
        this.stats.spansDropped++;
        this.refused.inc();
      } else {
        this.spans.push({ resourceKey: key, resource, span: buildSpan(ex, route, { ids: this.ids, toUnixNs: this.toUnixNs, keepQuery: this.cfg.keep_query }) });
      }
    }

    if (this.cfg.metrics) {
      const seconds = Number(ex.endNs - ex.startNs) / 1e9;
      const now = this.nowUnixNs;
      const method = ex.request.method;
      const status = ex.status;
      if (server) {
        const port = serverEndpoint(ex).port;
        const version = ex.request.protocolVersion;
        const k = `${method}|${status}|${route ?? ''}|${port}|${version ?? ''}`;
        this.server.record(resource, key, k, () => {
          const a: Attributes = { 'http.request.method': method, 'http.response.status_code': status, 'server.port': port };
          if (version !== undefined) a['network.protocol.version'] = version;
          if (route !== undefined) a['http.route'] = route;
          return a;
        }, seconds, now);
      } else {
        const ep = serverEndpoint(ex);
        const k = `${method}|${status}|${ep.address}|${ep.port}`;
        this.client.record(resource, key, k, () => ({
          'http.request.method': method,
          'http.response.status_code': status,
          'server.address': ep.address,
          'server.port': ep.port,
        }), seconds, now);
      }
    }
  }

  /** Spans decoded since the last call, grouped by process; undefined when there are none. */
  takeSpans(): TracesBatch | undefined {
    if (this.spans.length === 0) return undefined;
    const pending = this.spans;
    this.spans = [];
    const groups = new Map<string, ResourceSpans>();
    for (const p of pending) {
      let rs = groups.get(p.resourceKey);
      if (!rs) groups.set(p.resourceKey, (rs = { resource: p.resource, scopeSpans: [{ scope: HTTP_SCOPE, spans: [] }] }));
      rs.scopeSpans[0]!.spans.push(p.span);
    }
    return { signal: 'traces', resourceSpans: [...groups.values()] };
  }

  /** Number of spans waiting for takeSpans(). */
  get bufferedSpans(): number {
    return this.spans.length;
  }

  /** The cumulative histograms; undefined before the first exchange. */
  collectMetrics(): MetricsBatch | undefined {
    this.clock?.resync(); // follow wall-clock steps (NTP) once per interval
    if (!this.cfg.metrics) return undefined;
    const now = this.nowUnixNs();
    const groups = new Map<string, ResourceMetrics>();
    for (const h of [this.server, this.client]) {
      for (const [rk, { resource, metric }] of h.collect(now)) {
        let rm = groups.get(rk);
        if (!rm) groups.set(rk, (rm = { resource, scopeMetrics: [{ scope: HTTP_SCOPE, metrics: [] }] }));
        rm.scopeMetrics[0]!.metrics.push(metric);
      }
    }
    if (groups.size === 0) return undefined;
    return { signal: 'metrics', resourceMetrics: [...groups.values()] };
  }
}
