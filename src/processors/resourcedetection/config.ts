import type { JsonSchema } from '../../component/types.js';
import { durationSchema } from '../../config/units.js';

export type DetectorName = 'env' | 'system' | 'process';

export interface ResourceDetectionConfig {
  detectors: DetectorName[];
  override: boolean;
  process: { include_command_args: boolean; cache_ttl: string | 0 };
  proc_path: string;
}

export function createDefaultConfig(): ResourceDetectionConfig {
  return {
    detectors: ['env', 'system', 'process'],
    override: true,
    process: { include_command_args: false, cache_ttl: '30s' },
    proc_path: '/proc',
  };
}

export const configSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    detectors: {
      type: 'array',
      items: { enum: ['env', 'system', 'process'] },
      uniqueItems: true,
      default: ['env', 'system', 'process'],
      description:
        'Detectors to run, in order; when two give the same attribute the earlier one wins. env: OTEL_RESOURCE_ATTRIBUTES; system: host.name, host.id (/etc/machine-id), os.type, host.arch; process: for resources carrying process.pid, process.executable.name, process.executable.path and process.command read from /proc.',
    },
    override: {
      type: 'boolean',
      default: true,
      description: 'Replace attributes the resource already has. false only fills in the missing ones.',
    },
    process: {
      type: 'object',
      additionalProperties: false,
      description: 'Options of the process detector.',
      properties: {
        include_command_args: {
          type: 'boolean',
          default: false,
          description: 'Also set process.command_args (the full argument list). Off by default: arguments can carry secrets and have high cardinality.',
        },
        cache_ttl: durationSchema('How long what was read from /proc for a pid is reused (a process that exits meanwhile keeps its attributes that long).', '30s'),
      },
    },
    proc_path: { type: 'string', default: '/proc', description: 'Where the host\'s /proc is mounted (e.g. /host/proc when Sonde runs in a container).' },
  },
};
