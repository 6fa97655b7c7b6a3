import type { Attributes } from '../../pdata/types.js';
import { SERVICE_NAME_LABEL, type CompiledRule } from './config.js';
import type { MetadataStore } from './metadata-store.js';
import type { PodRecord } from './records.js';

export interface Workload {
  deployment?: string;
  replicaset?: string;
  statefulset?: string;
  daemonset?: string;
  job?: string;
  cronjob?: string;
}

/** Workload names from the pod's controller, its ReplicaSet's Deployment and its Job's CronJob. */
export function workloadOf(store: MetadataStore, pod: PodRecord): Workload {
  const ns = pod.metadata.namespace;
  switch (pod.ownerKind) {
    case 'ReplicaSet': {
      const parent = store.replicaSetParent(ns, pod.ownerName);
      const deployment = parent === undefined ? pod.hashDeployment : parent;
      return deployment ? { replicaset: pod.ownerName, deployment } : { replicaset: pod.ownerName };
    }
    case 'StatefulSet':
      return { statefulset: pod.ownerName };
    case 'DaemonSet':
      return { daemonset: pod.ownerName };
    case 'Job': {
      const cronjob = store.jobParent(ns, pod.ownerName);
      return cronjob ? { job: pod.ownerName, cronjob } : { job: pod.ownerName };
    }
    default:
      return {};
  }
}

/** app.kubernetes.io/name, else the top workload, else the pod name. */
export function serviceNameOf(pod: PodRecord, w: Workload): string {
  return pod.labels?.[SERVICE_NAME_LABEL] || w.deployment || w.statefulset || w.daemonset || w.cronjob || w.job || pod.metadata.name;
}

export function containerNameOf(pod: PodRecord, containerId: string | undefined): string | undefined {
  if (!containerId) return undefined;
  for (let i = 0; i < pod.containers.length; i += 2) if (pod.containers[i] === containerId) return pod.containers[i + 1];
  return undefined;
}

export interface AttributeOptions {
  metadata: ReadonlySet<string>;
  rules: readonly CompiledRule[];
  serviceName: { enabled: boolean; override: boolean };
}

/** Write the pod's attributes onto `attrs` (a resource's attributes). */
export function applyPodAttributes(
  attrs: Attributes,
  store: MetadataStore,
  pod: PodRecord,
  containerId: string | undefined,
  opts: AttributeOptions,
): void {
  const w = workloadOf(store, pod);
  const set = (name: string, value: string | undefined): void => {
    if (value && opts.metadata.has(name)) attrs[name] = value;
  };
  set('k8s.pod.name', pod.metadata.name);
  set('k8s.pod.uid', pod.metadata.uid);
  set('k8s.namespace.name', pod.metadata.namespace);
  set('k8s.node.name', pod.nodeName);
  set('container.id', containerId);
  set('k8s.container.name', containerNameOf(pod, containerId));
  set('k8s.deployment.name', w.deployment);
  set('k8s.replicaset.name', w.replicaset);
  set('k8s.statefulset.name', w.statefulset);
  set('k8s.daemonset.name', w.daemonset);
  set('k8s.job.name', w.job);
  set('k8s.cronjob.name', w.cronjob);
  if (opts.rules.length > 0) {
    const ns = opts.rules.some((r) => r.from === 'namespace') ? store.namespace(pod.metadata.namespace) : undefined;
    for (const rule of opts.rules) {
      const source = rule.from === 'pod' ? pod : ns;
      const map = rule.kind === 'label' ? source?.labels : source?.annotations;
      if (map) applyRule(attrs, rule, map);
    }
  }
  if (opts.serviceName.enabled && (opts.serviceName.override || attrs['service.name'] === undefined)) {
    attrs['service.name'] = serviceNameOf(pod, w);
  }
}

function applyRule(attrs: Attributes, rule: CompiledRule, map: Record<string, string>): void {
  const prefix = `k8s.${rule.from}.${rule.kind}.`;
  if (rule.key !== undefined) {
    const v = map[rule.key];
    if (v !== undefined) attrs[rule.tagName ?? prefix + rule.key] = v;
    return;
  }
  for (const [k, v] of Object.entries(map)) {
    const m = rule.regex!.exec(k);
    if (!m) continue;
    const name = rule.tagName ? rule.tagName.replace(/\$(\d)/g, (_, d: string) => m[Number(d)] ?? '') : prefix + k;
    attrs[name] = v;
  }
}
