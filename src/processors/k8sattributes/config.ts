import type { ConfigIssue, JsonSchema } from '../../component/types.js';
import { durationSchema, parseDuration } from '../../config/units.js';
import { SondeError } from '../../errors/index.js';

export interface ExtractRule {
  key?: string;
  key_regex?: string;
  tag_name?: string;
  from: 'pod' | 'namespace';
}

export interface K8sAttributesConfig {
  auth_type: 'serviceAccount' | 'kubeConfig';
  context: string;
  filter: { node_from_env_var: string; node: string };
  extract: { metadata: string[]; labels: ExtractRule[]; annotations: ExtractRule[] };
  service_name: { enabled: boolean; override: boolean };
  association: { pod_ip_attributes: string[]; pid_scope_prefixes: string[]; from_connection: boolean };
  peer: { enabled: boolean; attribute_prefix: string; watch_all_pods: boolean; watch_services: boolean };
  wait_for_metadata: boolean;
  wait_for_metadata_timeout: string | 0;
  pod_tombstone_ttl: string | 0;
  list_page_size: number;
  proc_path: string;
}

/** Resource attributes the processor can set from pod metadata (the `extract.metadata` choices). */
export const METADATA_ATTRIBUTES = [
  'k8s.pod.name',
  'k8s.pod.uid',
  'k8s.namespace.name',
  'k8s.node.name',
  'k8s.container.name',
  'container.id',
  'k8s.deployment.name',
  'k8s.replicaset.name',
  'k8s.statefulset.name',
  'k8s.daemonset.name',
  'k8s.job.name',
  'k8s.cronjob.name',
] as const;

export const SERVICE_NAME_LABEL = 'app.kubernetes.io/name';

export function createDefaultConfig(): K8sAttributesConfig {
  return {
    auth_type: 'serviceAccount',
    context: '',
    filter: { node_from_env_var: 'K8S_NODE_NAME', node: '' },
    extract: { metadata: [...METADATA_ATTRIBUTES], labels: [], annotations: [] },
    service_name: { enabled: true, override: true },
    association: { pod_ip_attributes: ['k8s.pod.ip'], pid_scope_prefixes: ['sonde.ebpf.'], from_connection: true },
    peer: { enabled: true, attribute_prefix: 'sonde.peer.', watch_all_pods: false, watch_services: true },
    wait_for_metadata: false,
    wait_for_metadata_timeout: '2s',
    pod_tombstone_ttl: '2m',
    list_page_size: 500,
    proc_path: '/proc',
  };
}

const ruleSchema = (what: string): JsonSchema => ({
  type: 'object',
  additionalProperties: false,
  description: `One ${what} to copy onto the resource. Give exactly one of key or key_regex.`,
  properties: {
    key: { type: 'string', minLength: 1, description: `The exact ${what} key, e.g. ${what === 'label' ? 'app.kubernetes.io/version' : 'prometheus.io/port'}.` },
    key_regex: {
      type: 'string',
      minLength: 1,
      description: `A regular expression matched against the whole ${what} key; every matching key is copied. Capture groups can be used in tag_name as $1..$9.`,
    },
    tag_name: {
      type: 'string',
      minLength: 1,
      description: `Attribute name to write. Default: k8s.pod.${what}.<key> (k8s.namespace.${what}.<key> with from: namespace).`,
    },
    from: { enum: ['pod', 'namespace'], default: 'pod', description: `Read the ${what} from the pod or from its namespace.` },
  },
});

export const configSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    auth_type: {
      enum: ['serviceAccount', 'kubeConfig'],
      default: 'serviceAccount',
      description:
        'How to reach the Kubernetes API: serviceAccount uses the in-cluster service account token and KUBERNETES_SERVICE_HOST/PORT; kubeConfig reads the file named by KUBECONFIG, else ~/.kube/config.',
    },
    context: { type: 'string', default: '', description: 'With auth_type kubeConfig: the kubeconfig context to use. Empty uses the current context.' },
    filter: {
      type: 'object',
      additionalProperties: false,
      description: 'Which pods to watch. Sonde runs one instance per node and only needs that node\'s pods.',
      properties: {
        node_from_env_var: {
          type: 'string',
          default: 'K8S_NODE_NAME',
          description: 'Environment variable holding this node\'s name (set it from the downward API, spec.nodeName). Pods are watched with fieldSelector spec.nodeName=<node>.',
        },
        node: { type: 'string', default: '', description: 'This node\'s name, given directly; wins over node_from_env_var when set.' },
      },
    },
    extract: {
      type: 'object',
      additionalProperties: false,
      description: 'What to copy from the pod onto the resource.',
      properties: {
        metadata: {
          type: 'array',
          items: { enum: [...METADATA_ATTRIBUTES] },
          uniqueItems: true,
          default: [...METADATA_ATTRIBUTES],
          description: 'Pod metadata attributes to set. Workload names come from the pod\'s owner, its ReplicaSet\'s Deployment and its Job\'s CronJob.',
        },
        labels: { type: 'array', items: ruleSchema('label'), default: [], description: 'Labels to copy as attributes.' },
        annotations: { type: 'array', items: ruleSchema('annotation'), default: [], description: 'Annotations to copy as attributes.' },
      },
    },
    service_name: {
      type: 'object',
      additionalProperties: false,
      description: 'Setting service.name from Kubernetes: the app.kubernetes.io/name label, else the owning workload (Deployment, StatefulSet, DaemonSet, CronJob, Job), else the pod name.',
      properties: {
        enabled: { type: 'boolean', default: true, description: 'Set service.name on resources associated with a pod.' },
        override: {
          type: 'boolean',
          default: true,
          description: 'Replace a service.name already on the resource (the ebpf receiver sets the executable name). false keeps an existing one.',
        },
      },
    },
    association: {
      type: 'object',
      additionalProperties: false,
      description: 'How a resource is matched to a pod. Tried in order: process.pid -> /proc/<pid>/cgroup -> container id (or pod uid); container.id; the IP attributes below; k8s.pod.uid; k8s.pod.name with k8s.namespace.name; then the address of the connection the data came in on (from_connection).',
      properties: {
        pod_ip_attributes: {
          type: 'array',
          items: { type: 'string', minLength: 1 },
          default: ['k8s.pod.ip'],
          description: 'Resource attributes that may hold the pod\'s IP, tried in order.',
        },
        pid_scope_prefixes: {
          type: 'array',
          items: { type: 'string' },
          default: ['sonde.ebpf.'],
          description:
            'process.pid is looked up in /proc only for resources with an instrumentation scope starting with one of these (the ebpf receiver\'s scopes, whose pids are host pids). An application sending OTLP reports the pid inside its own container, which names a different host process. An empty list trusts process.pid on every resource.',
        },
        from_connection: {
          type: 'boolean',
          default: true,
          description:
            'When nothing above matched, associate a resource with the pod whose IP is the address of the client that sent it (the otlp receiver records the sender\'s IP; the Collector\'s pod_association source `connection`). Only an IP exactly one live pod holds counts (never a host-network pod\'s, which is the node\'s), and a resource that already names a pod, container or pod IP is left alone. Put k8sattributes before batch: a batch merged from several clients has no address.',
        },
      },
    },
    peer: {
      type: 'object',
      additionalProperties: false,
      description: 'Decorating the remote end of TCP and HTTP data (server.address, client.address, network.peer.address) with the pod or Service it belongs to.',
      properties: {
        enabled: { type: 'boolean', default: true, description: 'Add peer attributes to data points and spans.' },
        attribute_prefix: {
          type: 'string',
          default: 'sonde.peer.',
          description: 'Prefix of peer attributes, e.g. sonde.peer.k8s.pod.name, sonde.peer.k8s.namespace.name, sonde.peer.k8s.deployment.name, sonde.peer.k8s.service.name, sonde.peer.service.name.',
        },
        watch_all_pods: {
          type: 'boolean',
          default: false,
          description: 'Watch every pod in the cluster, not only this node\'s, so peers on other nodes are named too. Costs cache memory in proportion to the cluster\'s pod count.',
        },
        watch_services: {
          type: 'boolean',
          default: true,
          description:
            'Watch Services, so that a peer address which is a Service cluster IP is named after its Service (sonde.peer.k8s.service.name). Needs get, list and watch on services in the ClusterRole. false keeps naming peers by pod IP and reads no Services.',
        },
      },
    },
    wait_for_metadata: {
      type: 'boolean',
      default: false,
      description: 'Hold a batch whose pod is not known yet (or before the first list finished) until its metadata arrives or wait_for_metadata_timeout passes; then pass it on as it is.',
    },
    wait_for_metadata_timeout: durationSchema('Longest a batch is held by wait_for_metadata.', '2s'),
    pod_tombstone_ttl: durationSchema(
      'How long a deleted pod is remembered, so late data from its containers is still named. Its IP answers only for data stamped before the deletion and never once another pod holds it.',
      '2m',
    ),
    list_page_size: {
      type: 'integer',
      minimum: 1,
      default: 500,
      description: 'Objects per page when listing (limit/continue), which bounds the memory a large list needs.',
    },
    proc_path: { type: 'string', default: '/proc', description: 'Where the host\'s /proc is mounted (e.g. /host/proc when Sonde runs in a container).' },
  },
};

export interface CompiledRule {
  kind: 'label' | 'annotation';
  from: 'pod' | 'namespace';
  key: string | undefined;
  regex: RegExp | undefined;
  tagName: string | undefined;
}

/** Problems the schema cannot see (extract rules), with key paths relative to the processor's config. */
export function k8sAttributesConfigIssues(config: K8sAttributesConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const check = (rules: ExtractRule[], path: string): void => {
    rules.forEach((r, i) => {
      if ((r.key === undefined) === (r.key_regex === undefined)) {
        issues.push({ path: `${path}[${i}]`, message: 'give exactly one of key or key_regex' });
      } else if (r.key_regex !== undefined) {
        try {
          new RegExp(`^(?:${r.key_regex})$`);
        } catch (err) {
          issues.push({ path: `${path}[${i}].key_regex`, message: (err as Error).message });
        }
      }
    });
  };
  check(config.extract.labels, 'extract.labels');
  check(config.extract.annotations, 'extract.annotations');
  return issues;
}

export function compileRules(config: K8sAttributesConfig, id: string): CompiledRule[] {
  const out: CompiledRule[] = [];
  const add = (kind: 'label' | 'annotation', rules: ExtractRule[], path: string): void => {
    rules.forEach((r, i) => {
      if ((r.key === undefined) === (r.key_regex === undefined)) {
        throw new SondeError('SONDE_CONFIG_INVALID', `processors.${id}.${path}[${i}]: give exactly one of key or key_regex`, {
          hint: 'key copies one exact label or annotation; key_regex copies every key it matches.',
        });
      }
      let regex: RegExp | undefined;
      if (r.key_regex !== undefined) {
        try {
          regex = new RegExp(`^(?:${r.key_regex})$`);
        } catch (err) {
          throw new SondeError('SONDE_CONFIG_INVALID', `processors.${id}.${path}[${i}].key_regex: ${(err as Error).message}`, {
            hint: 'Write a JavaScript regular expression; it is matched against the whole key.',
          });
        }
      }
      out.push({ kind, from: r.from ?? 'pod', key: r.key, regex, tagName: r.tag_name });
    });
  };
  add('label', config.extract.labels, 'extract.labels');
  add('annotation', config.extract.annotations, 'extract.annotations');
  return out;
}

export function parseDurations(config: K8sAttributesConfig): { waitMs: number; tombstoneMs: number } {
  return { waitMs: parseDuration(config.wait_for_metadata_timeout), tombstoneMs: parseDuration(config.pod_tombstone_ttl) };
}
