// Kubernetes objects shaped like what a real API server returns (fields, nesting, owner
// references, managedFields), so the processor is tested against the real layout.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type Obj = Record<string, any>;

export const newUid = (): string => randomUUID();
export const newContainerId = (): string => randomBytes(32).toString('hex');

const ts = (d = new Date()): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export interface OwnerRef {
  kind: string;
  name: string;
  uid: string;
  apiVersion?: string;
}

function ownerRef(o: OwnerRef): Obj {
  const apiVersion =
    o.apiVersion ?? ({ ReplicaSet: 'apps/v1', Deployment: 'apps/v1', StatefulSet: 'apps/v1', DaemonSet: 'apps/v1', Job: 'batch/v1', CronJob: 'batch/v1' } as Record<string, string>)[o.kind] ?? 'v1';
  return { apiVersion, kind: o.kind, name: o.name, uid: o.uid, controller: true, blockOwnerDeletion: true };
}

export interface PodSpec {
  name: string;
  namespace?: string;
  uid?: string;
  node?: string;
  ip?: string;
  owner?: OwnerRef;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  containers?: Array<{ name: string; id?: string }>;
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  hostNetwork?: boolean;
  created?: Date;
}

export function pod(p: PodSpec): Obj {
  const namespace = p.namespace ?? 'default';
  const containers = p.containers ?? [{ name: 'app', id: newContainerId() }];
  const created = ts(p.created);
  const node = p.node ?? 'node-a';
  const hostIP = '192.168.10.11';
  const phase = p.phase ?? 'Running';
  const podIP = p.hostNetwork ? hostIP : p.ip;
  return {
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: {
      name: p.name,
      ...(p.owner?.kind === 'ReplicaSet' ? { generateName: `${p.owner.name}-` } : {}),
      namespace,
      uid: p.uid ?? newUid(),
      resourceVersion: '1',
      creationTimestamp: created,
      labels: p.labels ?? {},
      annotations: p.annotations ?? {},
      ownerReferences: p.owner ? [ownerRef(p.owner)] : undefined,
      managedFields: [
        {
          manager: 'kube-controller-manager',
          operation: 'Update',
          apiVersion: 'v1',
          time: created,
          fieldsType: 'FieldsV1',
          fieldsV1: { 'f:metadata': { 'f:generateName': {}, 'f:labels': { '.': {} } }, 'f:spec': { 'f:containers': {} } },
        },
        {
          manager: 'kubelet',
          operation: 'Update',
          apiVersion: 'v1',
          time: created,
          fieldsType: 'FieldsV1',
          fieldsV1: { 'f:status': { 'f:conditions': {}, 'f:containerStatuses': {}, 'f:podIP': {}, 'f:podIPs': {} } },
          subresource: 'status',
        },
      ],
    },
    spec: {
      volumes: [
        {
          name: 'kube-api-access-x7k2p',
          projected: {
            sources: [
              { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
              { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
            ],
            defaultMode: 420,
          },
        },
      ],
      containers: containers.map((c) => ({
        name: c.name,
        image: `registry.example.com/${c.name}:1.4.2`,
        ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
        env: [{ name: 'LOG_LEVEL', value: 'info' }],
        resources: { limits: { cpu: '500m', memory: '256Mi' }, requests: { cpu: '100m', memory: '128Mi' } },
        volumeMounts: [{ name: 'kube-api-access-x7k2p', readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }],
        terminationMessagePath: '/dev/termination-log',
        terminationMessagePolicy: 'File',
        imagePullPolicy: 'IfNotPresent',
      })),
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: 'default',
      serviceAccount: 'default',
      nodeName: node,
      hostNetwork: p.hostNetwork || undefined,
      securityContext: {},
      schedulerName: 'default-scheduler',
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
      priority: 0,
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
    },
    status: {
      phase,
      conditions: [
        { type: 'Initialized', status: 'True', lastProbeTime: null, lastTransitionTime: created },
        { type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: created },
        { type: 'ContainersReady', status: 'True', lastProbeTime: null, lastTransitionTime: created },
        { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: created },
      ],
      hostIP,
      hostIPs: [{ ip: hostIP }],
      ...(podIP ? { podIP, podIPs: [{ ip: podIP }] } : {}),
      startTime: created,
      containerStatuses: containers
        .filter((c) => c.id)
        .map((c) => ({
          name: c.name,
          state: { running: { startedAt: created } },
          lastState: {},
          ready: true,
          restartCount: 0,
          image: `registry.example.com/${c.name}:1.4.2`,
          imageID: `registry.example.com/${c.name}@sha256:${'7'.repeat(64)}`,
          containerID: `containerd://${c.id}`,
          started: true,
        })),
      qosClass: 'Burstable',
    },
  };
}

export function replicaSet(namespace: string, deployment: string, hash: string, deploymentUid = newUid()): Obj {
  const name = `${deployment}-${hash}`;
  return {
    kind: 'ReplicaSet',
    apiVersion: 'apps/v1',
    metadata: {
      name,
      namespace,
      uid: newUid(),
      resourceVersion: '1',
      generation: 1,
      creationTimestamp: ts(),
      labels: { app: deployment, 'pod-template-hash': hash },
      annotations: { 'deployment.kubernetes.io/desired-replicas': '1', 'deployment.kubernetes.io/max-replicas': '2', 'deployment.kubernetes.io/revision': '1' },
      ownerReferences: [ownerRef({ kind: 'Deployment', name: deployment, uid: deploymentUid })],
    },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: deployment, 'pod-template-hash': hash } },
      template: { metadata: { labels: { app: deployment, 'pod-template-hash': hash } }, spec: { containers: [{ name: 'app', image: 'registry.example.com/app:1.4.2' }] } },
    },
    status: { replicas: 1, fullyLabeledReplicas: 1, readyReplicas: 1, availableReplicas: 1, observedGeneration: 1 },
  };
}

export function job(namespace: string, name: string, cronjob?: string): Obj {
  return {
    kind: 'Job',
    apiVersion: 'batch/v1',
    metadata: {
      name,
      namespace,
      uid: newUid(),
      resourceVersion: '1',
      creationTimestamp: ts(),
      labels: { 'batch.kubernetes.io/job-name': name },
      ownerReferences: cronjob ? [ownerRef({ kind: 'CronJob', name: cronjob, uid: newUid() })] : undefined,
    },
    spec: { parallelism: 1, completions: 1, backoffLimit: 6, template: { spec: { containers: [{ name: 'job', image: 'busybox' }], restartPolicy: 'Never' } } },
    status: { active: 1, startTime: ts() },
  };
}

export function service(namespace: string, name: string, clusterIP: string): Obj {
  return {
    kind: 'Service',
    apiVersion: 'v1',
    metadata: { name, namespace, uid: newUid(), resourceVersion: '1', creationTimestamp: ts(), labels: { app: name } },
    spec: {
      ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }],
      selector: { app: name },
      clusterIP,
      clusterIPs: [clusterIP],
      type: 'ClusterIP',
      sessionAffinity: 'None',
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      internalTrafficPolicy: 'Cluster',
    },
    status: { loadBalancer: {} },
  };
}

export function namespace(name: string, labels: Record<string, string> = {}): Obj {
  return {
    kind: 'Namespace',
    apiVersion: 'v1',
    metadata: { name, uid: newUid(), resourceVersion: '1', creationTimestamp: ts(), labels: { 'kubernetes.io/metadata.name': name, ...labels } },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  };
}

/** A kubeconfig pointing at the fake server; returns its path. */
export function writeKubeconfig(port: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'sonde-kube-'));
  const file = join(dir, 'config');
  writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: fake',
      '  cluster:',
      `    server: http://127.0.0.1:${port}`,
      // The client library refuses plain http unless TLS verification is declared off.
      '    insecure-skip-tls-verify: true',
      'users:',
      '- name: tester',
      '  user:',
      '    token: test-token',
      'contexts:',
      '- name: fake',
      '  context:',
      '    cluster: fake',
      '    user: tester',
      'current-context: fake',
      '',
    ].join('\n'),
  );
  return file;
}
