import type { ProcessorFactory } from '../../component/types.js';
import { configSchema, createDefaultConfig, k8sAttributesConfigIssues, type K8sAttributesConfig } from './config.js';
import { K8sAttributesProcessor } from './processor.js';

/** Deep merge of the user's config over the defaults (objects merge, arrays and scalars replace). */
function withDefaults(config: Partial<K8sAttributesConfig>): K8sAttributesConfig {
  const merge = (base: any, over: any): any => {
    if (over === undefined) return base;
    if (base && typeof base === 'object' && !Array.isArray(base) && over && typeof over === 'object' && !Array.isArray(over)) {
      const out: Record<string, unknown> = { ...base };
      for (const [k, v] of Object.entries(over)) out[k] = merge(base[k], v);
      return out;
    }
    return over;
  };
  return merge(createDefaultConfig(), config);
}

export const k8sAttributesProcessorFactory: ProcessorFactory<K8sAttributesConfig> = {
  kind: 'processor',
  type: 'k8sattributes',
  stability: 'alpha',
  signals: ['traces', 'metrics'],
  description:
    'Adds Kubernetes pod, namespace, container and workload attributes to resources (matched by process cgroup, pod IP or pod attributes) and names the pod or Service behind each peer address.',
  configSchema,
  createDefaultConfig,
  validateConfig: (config) => k8sAttributesConfigIssues(withDefaults(config)),
  create(settings, config, next) {
    return new K8sAttributesProcessor(settings, withDefaults(config), next);
  },
};
