// Config of the `ebpf` receiver: JSON schema (docs/configuration.md is generated from it),
// defaults, and the resolved form the receiver uses.
import type { ConfigIssue } from '../../component/types.js';
import { durationSchema, parseDuration, parseSize, sizeSchema } from '../../config/units.js';
import { createDefaultHttpConfig, httpConfigIssues, httpConfigSchema, type HttpConfig } from './http/config.js';

export interface ProcessPortFilter {
  ports: number[];
  processes: string[];
  pids: number[];
}

export interface EbpfConfig {
  collection_interval: string;
  ring_buffer_size: string | number;
  wakeup_threshold: string | number;
  poll_interval: string;
  max_series: number;
  include: ProcessPortFilter;
  exclude: ProcessPortFilter;
  tcp: TcpConfig;
  http: HttpConfig;
}

export interface TcpConfig {
  enabled: boolean;
  /** Sockets whose owner the kernel remembers at once (LRU); default 65536. */
  max_connections?: number;
}

export function createDefaultEbpfConfig(): EbpfConfig {
  return {
    collection_interval: '10s',
    ring_buffer_size: '4MiB',
    wakeup_threshold: '32KiB',
    poll_interval: '100ms',
    max_series: 2000,
    include: { ports: [], processes: [], pids: [] },
    exclude: { ports: [], processes: [], pids: [] },
    tcp: { enabled: true, max_connections: 65536 },
    http: createDefaultHttpConfig(),
  };
}

const d = createDefaultEbpfConfig();

const filterSchema = (what: 'include' | 'exclude'): Record<string, unknown> => ({
  type: 'object',
  additionalProperties: false,
  description:
    what === 'include'
      ? 'Capture only matching traffic. Each non-empty list must match; empty lists match everything. Applied in the kernel.'
      : 'Never capture matching traffic (wins over include). Applied in the kernel.',
  default: { ports: [], processes: [], pids: [] },
  properties: {
    ports: {
      type: 'array',
      description: 'Server ports: the remote port of outbound connections, the local (listening) port of inbound ones.',
      default: [],
      items: { type: 'integer', minimum: 1, maximum: 65535 },
      maxItems: 256,
    },
    processes: {
      type: 'array',
      description: 'Process names as the kernel knows them: the comm of the main thread, as /proc/PID/comm and ps show it (at most 15 characters, e.g. "nginx", "node"). A name matches every thread of the process, whatever the threads call themselves.',
      default: [],
      items: { type: 'string', minLength: 1, maxLength: 15 },
      maxItems: 256,
    },
    pids: {
      type: 'array',
      description: 'Process ids (the tgid, as `ps` shows).',
      default: [],
      items: { type: 'integer', minimum: 1 },
      maxItems: 1024,
    },
  },
});

export const ebpfConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    collection_interval: durationSchema('How often the TCP and HTTP metrics (cumulative) are emitted.', d.collection_interval),
    ring_buffer_size: sizeSchema('Size of each BPF ring buffer (one per feature); a power of two, at least 4KiB. Larger rides out bursts; events that do not fit are counted in sonde_ebpf_events_lost_total.', d.ring_buffer_size),
    wakeup_threshold: sizeSchema('Unread bytes in a ring buffer before the kernel wakes Sonde at once; below it records wait for poll_interval. 0 wakes on every event.', d.wakeup_threshold),
    poll_interval: durationSchema('How often Sonde reads the ring buffers when the kernel has not woken it (adaptive wakeup).', d.poll_interval),
    max_series: {
      type: 'integer',
      minimum: 1,
      description: 'Most distinct attribute sets per TCP metric; beyond it points go to one series marked otel.metric.overflow=true, counted in sonde_ebpf_series_overflow_total{metric}.',
      default: d.max_series,
    },
    include: filterSchema('include'),
    exclude: filterSchema('exclude'),
    tcp: {
      type: 'object',
      additionalProperties: false,
      description: 'TCP connection lifecycle: connects with outcome and handshake time, accepts, closes with lifetime and bytes, retransmits (the sonde.tcp.* metrics).',
      default: d.tcp,
      properties: {
        enabled: { type: 'boolean', description: 'Capture TCP connections.', default: d.tcp.enabled },
        max_connections: {
          type: 'integer',
          minimum: 16,
          maximum: 1048576,
          description:
            'Sockets whose owner (process, start time) the kernel remembers at once, about 128 bytes each (65536 = 8 MiB of kernel memory). Beyond it the least recently used are forgotten; a connect that completes after its entry was forgotten is counted in sonde_ebpf_events_lost_total{program="tcp_state_evicted"}, and its close is not reported.',
          default: d.tcp.max_connections,
        },
      },
    },
    http: httpConfigSchema,
  },
} as const;

export interface ResolvedEbpfConfig {
  collectionIntervalMs: number;
  ringBufferSize: number;
  wakeupThreshold: number;
  pollIntervalMs: number;
  maxSeries: number;
  include: ProcessPortFilter;
  exclude: ProcessPortFilter;
  tcp: Required<TcpConfig>;
  http: HttpConfig;
}

/** Problems the schema cannot see, with key paths relative to the receiver's config. */
export function ebpfConfigIssues(cfg: EbpfConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const check = (path: string, fn: () => void): void => {
    try {
      fn();
    } catch (err) {
      issues.push({ path, message: (err as Error).message });
    }
  };
  check('collection_interval', () => {
    if (parseDuration(cfg.collection_interval) <= 0) throw new Error('must be greater than 0');
  });
  check('poll_interval', () => {
    if (parseDuration(cfg.poll_interval) <= 0) throw new Error('must be greater than 0');
  });
  check('ring_buffer_size', () => {
    const n = parseSize(cfg.ring_buffer_size);
    if (n < 4096 || (n & (n - 1)) !== 0 || n > 1 << 30) throw new Error(`${n} bytes: must be a power of two between 4KiB and 1GiB`);
  });
  check('wakeup_threshold', () => parseSize(cfg.wakeup_threshold));
  issues.push(...httpConfigIssues(cfg.http, 'http'));
  return issues;
}

/** The same problems as "key: message" lines (the receiver's create-time safety net). */
export function validateEbpfConfig(cfg: EbpfConfig): string[] {
  return ebpfConfigIssues(cfg).map((i) => `${i.path}: ${i.message}`);
}

function filterOf(f: Partial<ProcessPortFilter> | undefined): ProcessPortFilter {
  return { ports: f?.ports ?? [], processes: f?.processes ?? [], pids: f?.pids ?? [] };
}

/** Fills what a shallow merge over the defaults may have left out (nested objects). */
export function completeEbpfConfig(cfg: Partial<EbpfConfig>): EbpfConfig {
  const d = createDefaultEbpfConfig();
  return {
    ...d,
    ...cfg,
    include: filterOf(cfg.include),
    exclude: filterOf(cfg.exclude),
    tcp: { ...d.tcp, ...cfg.tcp },
    http: { ...d.http, ...cfg.http },
  };
}

export function resolveEbpfConfig(cfg: EbpfConfig): ResolvedEbpfConfig {
  return {
    collectionIntervalMs: parseDuration(cfg.collection_interval),
    ringBufferSize: parseSize(cfg.ring_buffer_size),
    wakeupThreshold: parseSize(cfg.wakeup_threshold),
    pollIntervalMs: parseDuration(cfg.poll_interval),
    maxSeries: cfg.max_series,
    include: cfg.include,
    exclude: cfg.exclude,
    tcp: { enabled: cfg.tcp.enabled, max_connections: cfg.tcp.max_connections ?? 65536 },
    http: cfg.http,
  };
}
