import type { Attributes } from '../../pdata/types.js';

/**
 * The resource of one observed process, shared by every eBPF feature so TCP metrics and HTTP
 * spans of a process carry the same identity. `service.instance.id` (host:pid) keeps two
 * processes with the same executable apart: without it their series collide in Prometheus
 * (job/instance come from service.name/service.instance.id). pid 0 is traffic no process owned
 * at the time (softirq context), reported under `unknown_service`.
 */
export function processResourceAttributes(pid: number, executableName: string, hostName: string): Attributes {
  if (pid === 0) return { 'service.name': 'unknown_service', 'host.name': hostName };
  const name = executableName || 'unknown_service';
  return {
    'service.name': name,
    'service.instance.id': `${hostName}:${pid}`,
    'process.pid': pid,
    'process.executable.name': name,
    'host.name': hostName,
  };
}
