// Resource attributes in Prometheus: `job` / `instance` on every series, everything else on one
// `target_info` series per resource (join on job+instance in PromQL), optionally copied onto
// every series as well.
import type { Attributes } from '../../pdata/types.js';
import { labelValue } from './labels.js';

const SERVICE_NAME = 'service.name';
const SERVICE_NAMESPACE = 'service.namespace';
const SERVICE_INSTANCE_ID = 'service.instance.id';

export interface ResourceCopy {
  /** Copy resource attributes onto every series. */
  enabled: boolean;
  /** Only these attribute keys; empty means every resource attribute. */
  attributes: readonly string[];
}

/** `job` = `service.namespace/service.name` (or `service.name`); `instance` = `service.instance.id`. */
export function jobAndInstance(resource: Attributes): Map<string, string> {
  const out = new Map<string, string>();
  const name = resource[SERVICE_NAME];
  const ns = resource[SERVICE_NAMESPACE];
  const instance = resource[SERVICE_INSTANCE_ID];
  if (name !== undefined && name !== null) {
    out.set('job', ns !== undefined && ns !== null && labelValue(ns) !== '' ? `${labelValue(ns)}/${labelValue(name)}` : labelValue(name));
  }
  if (instance !== undefined && instance !== null) out.set('instance', labelValue(instance));
  return out;
}

/** Resource attributes other than those that make job/instance: what target_info carries. */
export function targetInfoAttributes(resource: Attributes): Attributes {
  const out: Attributes = {};
  for (const [k, v] of Object.entries(resource)) {
    if (k === SERVICE_NAME || k === SERVICE_NAMESPACE || k === SERVICE_INSTANCE_ID) continue;
    out[k] = v;
  }
  return out;
}

/** The resource attributes to copy onto each series under `copy`. */
export function copiedResourceAttributes(resource: Attributes, copy: ResourceCopy): Attributes {
  if (!copy.enabled) return {};
  if (copy.attributes.length === 0) return resource;
  const out: Attributes = {};
  for (const key of copy.attributes) if (key in resource) out[key] = resource[key]!;
  return out;
}
