import type { ConfigIssue, JsonSchema } from '../../component/types.js';
import { durationSchema, parseDuration } from '../../config/units.js';
import { permanentError } from '../../errors/index.js';

// Keys as in the OpenTelemetry Collector's memory_limiter.
export interface MemoryLimiterConfig {
  check_interval: string | 0;
  limit_mib: number;
  spike_limit_mib: number;
  limit_percentage: number;
  spike_limit_percentage: number;
  min_gc_interval_when_soft_limited: string | 0;
  min_gc_interval_when_hard_limited: string | 0;
}

export const defaultMemoryLimiterConfig = (): MemoryLimiterConfig => ({
  check_interval: '1s',
  limit_mib: 0,
  spike_limit_mib: 0,
  limit_percentage: 0,
  spike_limit_percentage: 0,
  min_gc_interval_when_soft_limited: '10s',
  min_gc_interval_when_hard_limited: '1s',
});

export const memoryLimiterSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    check_interval: durationSchema('How often the resident memory (RSS) of the process is measured. Must be above 0; the Collector recommends 1s.', '1s'),
    limit_mib: {
      type: 'integer',
      minimum: 0,
      default: 0,
      description: 'Hard limit on the resident memory of the Sonde process, in MiB. Above it data is refused and a garbage collection is forced. Set this or limit_percentage.',
    },
    spike_limit_mib: {
      type: 'integer',
      minimum: 0,
      default: 0,
      description: 'Headroom kept for spikes between two checks, in MiB: data is refused from limit_mib - spike_limit_mib on (the soft limit). 0 means 20% of limit_mib; must be below limit_mib.',
    },
    limit_percentage: {
      type: 'integer',
      minimum: 0,
      maximum: 100,
      default: 0,
      description: 'Hard limit as a percentage of the memory available: the cgroup memory limit when one is set, else the machine memory. Used when limit_mib is 0.',
    },
    spike_limit_percentage: {
      type: 'integer',
      minimum: 0,
      maximum: 100,
      default: 0,
      description: 'Spike headroom as a percentage of the available memory, used with limit_percentage; 0 means 20% of the limit. Must be below limit_percentage.',
    },
    min_gc_interval_when_soft_limited: durationSchema('Least time between two garbage collections forced while memory is above the soft limit (refused data still leaves garbage behind); 0 forces one at every check.', '10s'),
    min_gc_interval_when_hard_limited: durationSchema('Least time between two garbage collections forced while memory is above the hard limit; 0 forces one at every check.', '1s'),
  },
};

export interface MemoryLimits {
  /** Above this, data is refused and the heap is released (forced GC). */
  hardBytes: number;
  /** Above this (hard - spike), data is refused and receivers are told to refuse. */
  softBytes: number;
  checkIntervalMs: number;
  /** Least time between forced GCs above the soft / hard limit. */
  softGcIntervalMs: number;
  hardGcIntervalMs: number;
}

const MIB = 1024 * 1024;

function invalid(message: string): never {
  throw permanentError('SONDE_MEMORY_LIMITER_CONFIG', message, {
    hint: 'Set limit_mib (spike_limit_mib below it) or limit_percentage (spike_limit_percentage below it), not both.',
  });
}

/**
 * Problems the schema cannot see, with key paths relative to the processor's config. Checked
 * by `sonde validate` (factory validateConfig) and again, as a safety net, by resolveMemoryLimits.
 */
export function memoryLimiterConfigIssues(config: MemoryLimiterConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  let checkMs: number;
  try {
    checkMs = parseDuration(config.check_interval);
  } catch (err) {
    checkMs = NaN;
    issues.push({ path: 'check_interval', message: (err as Error).message });
  }
  if (checkMs <= 0) issues.push({ path: 'check_interval', message: 'must be above 0' });
  if (config.limit_mib > 0 && config.limit_percentage > 0) {
    issues.push({ path: 'limit_percentage', message: 'set either limit_mib or limit_percentage, not both' });
  } else if (config.limit_mib > 0) {
    if (config.spike_limit_mib >= config.limit_mib) {
      issues.push({ path: 'spike_limit_mib', message: `must be below limit_mib (${config.limit_mib})` });
    }
  } else if (config.limit_percentage > 0) {
    if (config.spike_limit_percentage >= config.limit_percentage) {
      issues.push({ path: 'spike_limit_percentage', message: `must be below limit_percentage (${config.limit_percentage})` });
    }
  } else {
    issues.push({ path: '', message: 'no memory limit set: limit_mib or limit_percentage is required' });
  }
  return issues;
}

/** Turns the config into byte limits; `availableBytes` is the memory the percentages refer to. */
export function resolveMemoryLimits(config: MemoryLimiterConfig, availableBytes: number): MemoryLimits {
  const first = memoryLimiterConfigIssues(config)[0];
  if (first) invalid(first.path ? `${first.path}: ${first.message}` : first.message);
  const checkIntervalMs = parseDuration(config.check_interval);
  let hard: number;
  let spike: number;
  if (config.limit_mib > 0) {
    hard = config.limit_mib * MIB;
    spike = config.spike_limit_mib > 0 ? config.spike_limit_mib * MIB : Math.floor(hard / 5);
  } else if (config.limit_percentage > 0) {
    hard = Math.floor((availableBytes * config.limit_percentage) / 100);
    spike = config.spike_limit_percentage > 0 ? Math.floor((availableBytes * config.spike_limit_percentage) / 100) : Math.floor(hard / 5);
  } else {
    invalid('no memory limit set: limit_mib or limit_percentage is required');
  }
  return {
    hardBytes: hard,
    softBytes: hard - spike,
    checkIntervalMs,
    softGcIntervalMs: parseDuration(config.min_gc_interval_when_soft_limited),
    hardGcIntervalMs: parseDuration(config.min_gc_interval_when_hard_limited),
  };
}
