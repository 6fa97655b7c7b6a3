// The `http` section of the ebpf receiver's config: schema fragment, defaults and the resolved
// form the HTTP pipeline uses. Plugged into the receiver's schema by src/receivers/ebpf/config.ts.

import type { ConfigIssue } from '../../../component/types.js';
import { durationSchema, parseDuration } from '../../../config/units.js';
import { compilePattern } from './route-normalizer.js';

export interface HttpConfig {
  enabled: boolean;
  spans: boolean;
  metrics: boolean;
  routes: string[];
  route_heuristic: boolean;
  max_routes: number;
  max_series: number;
  keep_query: boolean;
  capture_headers: string[];
  cgroups: string[];
  pending_timeout: string;
  max_connections: number;
  max_buffered_spans: number;
}

export function createDefaultHttpConfig(): HttpConfig {
  return {
    enabled: true,
    spans: true,
    metrics: true,
    routes: [],
    route_heuristic: true,
    max_routes: 1000,
    max_series: 2000,
    keep_query: false,
    capture_headers: [],
    cgroups: [],
    pending_timeout: '10s',
    max_connections: 8192,
    max_buffered_spans: 20000,
  };
}

const d = createDefaultHttpConfig();

export const httpConfigSchema = {
  type: 'object',
  description: 'HTTP/1.x capture on plain-text sockets (syscall tracepoints): SERVER and CLIENT spans and the http.server/client.request.duration histograms.',
  additionalProperties: false,
  default: createDefaultHttpConfig(),
  properties: {
    enabled: { type: 'boolean', description: 'Capture HTTP/1.x requests.', default: d.enabled },
    spans: { type: 'boolean', description: 'Emit one span per request (traces pipelines).', default: d.spans },
    metrics: { type: 'boolean', description: 'Emit the request duration histograms (metrics pipelines).', default: d.metrics },
    routes: {
      type: 'array',
      description: 'Route patterns tried in order, e.g. "/users/{id}"; "{name}" matches one path segment, a trailing "*" the rest. The first match becomes http.route.',
      default: d.routes,
      items: { type: 'string', pattern: '^/' },
    },
    route_heuristic: {
      type: 'boolean',
      description: 'When no pattern matches, derive http.route from the path by replacing id-like segments (numbers, UUIDs, hex of 16+ characters) with "{id}". Off: unmatched requests get no http.route.',
      default: d.route_heuristic,
    },
    max_routes: {
      type: 'integer',
      minimum: 1,
      description: 'Most distinct http.route values; later new routes are reported as "_OTHER" and counted in sonde_ebpf_http_route_overflow_total.',
      default: d.max_routes,
    },
    max_series: {
      type: 'integer',
      minimum: 1,
      description: 'Most distinct attribute sets per HTTP histogram; beyond it data points go to one series marked otel.metric.overflow=true.',
      default: d.max_series,
    },
    keep_query: {
      type: 'boolean',
      description: 'Report the query string as url.query. Off by default: queries often carry tokens. url.path never includes it.',
      default: d.keep_query,
    },
    capture_headers: {
      type: 'array',
      description: 'Request header names to report as http.request.header.<name> (only from the first 512 bytes of the request head). None by default.',
      default: d.capture_headers,
      items: { type: 'string', pattern: '^[A-Za-z0-9!#$%&\'*+.^_`|~-]+$' },
    },
    cgroups: {
      type: 'array',
      description: 'Capture HTTP only for processes in these cgroup v2 groups or below them, filtered in the kernel: a path as in the "0::" line of /proc/PID/cgroup (e.g. "/system.slice/nginx.service") or an absolute path under the cgroup2 mount. Empty: every cgroup.',
      default: d.cgroups,
      items: { type: 'string', pattern: '^/' },
      maxItems: 256,
    },
    pending_timeout: durationSchema('How long a request may wait for its response before a new request on the same connection replaces it.', d.pending_timeout),
    max_connections: {
      type: 'integer',
      minimum: 64,
      maximum: 1048576,
      description: 'Connections whose HTTP state the kernel keeps at once (about 1.1 KiB each); beyond it the least recently used are forgotten, and a request pending on one of them is counted in sonde_ebpf_events_lost_total{program="http_unpaired"} when its response arrives.',
      default: d.max_connections,
    },
    max_buffered_spans: {
      type: 'integer',
      minimum: 1,
      description: 'Spans held until the next hand-over to the traces pipeline (every 200 ms, or later while the pipeline is slow): at most this many spans leave the receiver per hand-over. Beyond it spans are not built (the histograms still count the requests) and are counted in sonde_receiver_refused_items_total.',
      default: d.max_buffered_spans,
    },
  },
} as const;

/** Checks what the schema cannot (pattern syntax, durations), with key paths from keyPrefix. */
export function httpConfigIssues(cfg: HttpConfig, keyPrefix = 'http'): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  cfg.routes.forEach((r, i) => {
    try {
      compilePattern(r);
    } catch (err) {
      issues.push({ path: `${keyPrefix}.routes[${i}]`, message: (err as Error).message });
    }
  });
  try {
    parseDuration(cfg.pending_timeout);
  } catch (err) {
    issues.push({ path: `${keyPrefix}.pending_timeout`, message: (err as Error).message });
  }
  return issues;
}

/** The same checks as "key: message" lines. */
export function validateHttpConfig(cfg: HttpConfig, keyPrefix = 'http'): string[] {
  return httpConfigIssues(cfg, keyPrefix).map((i) => `${i.path}: ${i.message}`);
}
