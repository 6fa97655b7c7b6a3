// The Kubernetes deployment: both kustomizations rendered with kustomize, the output checked
// against the schemas of a current Kubernetes release (kubernetes-schema.ts: the npm packages
// kubernetes-models and @kubernetes/client-node; unknown fields are errors), the manifests'
// security and wiring checked, the RBAC rules compared with the API requests the DaemonSet's
// config makes, and the generated ConfigMaps' configs run with the container's command, user and
// capabilities.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectCaptured, measureCapture, startSandboxed, type SandboxedProcess } from './sandboxed-sonde.js';
import { pollValue, waitUntil } from '../helpers/poll.js';
import { promValue } from '../helpers/sonde-process.js';
import { KUSTOMIZE, REPO, needs, requireAll, run } from './tools.js';
import { KUBERNETES_VERSION, SCHEMA_PACKAGE, schemaPackageVersion, validateManifest } from './kubernetes-schema.js';
import { capabilityList, readUnitFile, unitValue } from './unit-file.js';
import { loadConfigOrThrow } from '../../src/config/load.js';
import type { K8sAttributesConfig } from '../../src/processors/k8sattributes/config.js';
import { k8sAttributesProcessorFactory } from '../../src/processors/k8sattributes/factory.js';
import { SelfTelemetry } from '../../src/telemetry/self-telemetry.js';
import { FakeApiServer, type RequestLog, type Resource } from '../k8s/fake-apiserver.js';
import { pod, service, writeKubeconfig } from '../k8s/fixtures.js';
import { CollectingConsumer, settings, tcpBatch } from '../k8s/harness.js';

// Plain shapes of the few manifest fields the checks read.
type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; [k: string]: any };

const K8S_DIR = join(REPO, 'deploy/kubernetes');
const SIDECAR_DIR = join(K8S_DIR, 'sidecar');
const DAEMONSET_CONFIG = join(K8S_DIR, 'sonde-daemonset.config.yaml');
const SIDECAR_CONFIG = join(SIDECAR_DIR, 'sonde-sidecar.config.yaml');

function kustomizeBuild(dir: string): { text: string; docs: Manifest[] } {
  const r = run(KUSTOMIZE, ['build', dir]);
  if (r.code !== 0) throw new Error(`kustomize build ${dir} failed:\n${r.stderr}`);
  const docs = parseAllDocuments(r.stdout).map((d) => d.toJS() as Manifest);
  return { text: r.stdout, docs };
}

function find(docs: Manifest[], kind: string, name?: string): Manifest {
  const m = docs.filter((d) => d.kind === kind && (name === undefined || d.metadata.name === name));
  if (m.length !== 1) throw new Error(`expected one ${kind}${name ? `/${name}` : ''}, found ${m.length}`);
  return m[0]!;
}

/** Container argv from the Dockerfile's ENTRYPOINT and the manifest's args. */
function containerCommand(args: string[]): string[] {
  const dockerfile = readFileSync(join(REPO, 'deploy/container/Dockerfile'), 'utf8');
  const entry = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(dockerfile);
  if (!entry) throw new Error('Dockerfile has no exec-form ENTRYPOINT');
  return [...(JSON.parse(entry[1]!) as string[]), ...args];
}

/** The container's environment as the kubelet would set it, with `fieldRefs` for downward API values. */
function containerEnv(container: any, fieldRefs: Record<string, string>, overrides: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (e.valueFrom?.fieldRef) env[e.name] = fieldRefs[e.valueFrom.fieldRef.fieldPath] ?? '';
    else env[e.name] = String(e.value).replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (_, n: string) => env[n] ?? `$(${n})`);
  }
  return { ...env, ...overrides };
}

const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Verbs per `group/resource` ('core' for the "" group) a ClusterRole grants. */
function grantedVerbs(role: Manifest): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const rule of role.rules as Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>) {
    for (const group of rule.apiGroups) {
      for (const resource of rule.resources) {
        const key = `${group || 'core'}/${resource}`;
        out.set(key, new Set([...(out.get(key) ?? []), ...rule.verbs]));
      }
    }
  }
  return out;
}

const grants = (role: Manifest): string[] => [...grantedVerbs(role)].map(([k, v]) => `${k}:${[...v].sort().join(',')}`).sort();
const readClusterRole = (): Manifest => parseAllDocuments(readFileSync(join(K8S_DIR, 'clusterrole.yaml'), 'utf8'))[0]!.toJS() as Manifest;

const API_GROUP: Record<Resource, string> = { pods: 'core', namespaces: 'core', services: 'core', replicasets: 'apps', jobs: 'batch' };
const NODE = 'node-7';
const peerPoint = (ip: string): Record<string, string | number> => ({ 'network.tcp.direction': 'outbound', 'server.address': ip, 'server.port': 8080 });
const peerNames = (attrs: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(attrs).filter(([k]) => k.startsWith('sonde.peer.')));

/**
 * The k8sattributes processor exactly as sonde-daemonset.config.yaml configures it (loaded with
 * the DaemonSet's environment), except auth_type: a kubeconfig points it at the fake API server
 * (serviceAccount means TLS and the token path of a real pod). Returns the requests the server
 * saw and the peer attributes of three points: a pod on this node, a Service IP, a pod elsewhere.
 */
async function runDaemonSetK8sAttributes(peer: Partial<K8sAttributesConfig['peer']> = {}): Promise<{ shipped: K8sAttributesConfig; requests: RequestLog[]; peers: Array<Record<string, unknown>> }> {
  const { config } = loadConfigOrThrow(DAEMONSET_CONFIG, { ...process.env, K8S_NODE_NAME: NODE, HOST_PROC: '/proc', OTLP_ENDPOINT: '127.0.0.1:4317' });
  const shipped = config.processors.get('k8sattributes')!.config as K8sAttributesConfig;
  const api = new FakeApiServer();
  await api.start();
  api.create('pods', pod({ name: 'cart-here', namespace: 'shop', node: NODE, ip: '10.1.0.7' }));
  api.create('pods', pod({ name: 'cart-elsewhere', namespace: 'shop', node: 'node-8', ip: '10.1.0.8' }));
  api.create('services', service('shop', 'cart', '10.96.0.10'));
  const saved = { KUBECONFIG: process.env.KUBECONFIG, K8S_NODE_NAME: process.env.K8S_NODE_NAME };
  process.env.KUBECONFIG = writeKubeconfig(api.port);
  // What the downward API sets in the pod; the processor reads it at start.
  process.env.K8S_NODE_NAME = NODE;
  const next = new CollectingConsumer();
  const proc = k8sAttributesProcessorFactory.create(
    settings('k8sattributes', new SelfTelemetry({ processMetrics: false })),
    { ...shipped, auth_type: 'kubeConfig', peer: { ...shipped.peer, ...peer } },
    next,
  );
  try {
    await proc.start();
    const watched = peer.watch_services ? ['pods', 'replicasets', 'jobs', 'services'] : ['pods', 'replicasets', 'jobs'];
    // Lists come first; an open watch means its list was applied.
    await waitUntil('a watch on every resource', () => watched.every((r) => api.requests.some((q) => q.resource === r && q.watch)), 10_000, 25);
    const out = await pollValue(
      async () => {
        await proc.consume(tcpBatch({}, [peerPoint('10.1.0.7'), peerPoint('10.96.0.10'), peerPoint('10.1.0.8')]));
        const b = next.last();
        return b.signal === 'metrics' ? b.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0]!.dataPoints.map((p) => peerNames(p.attributes)) : [];
      },
      (points) => points[0]?.['sonde.peer.k8s.pod.name'] !== undefined && (!peer.watch_services || points[1]?.['sonde.peer.k8s.service.name'] !== undefined),
      10_000,
      50,
    );
    return { shipped, requests: [...api.requests], peers: out };
  } finally {
    await proc.shutdown();
    await api.stop();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

describe('RBAC: the ClusterRole and what the DaemonSet config asks the API server for', () => {
  it('the ClusterRole grants get, list and watch on exactly pods, namespaces, replicasets and jobs', () => {
    expect(grants(readClusterRole())).toEqual([
      'apps/replicasets:get,list,watch',
      'batch/jobs:get,list,watch',
      'core/namespaces:get,list,watch',
      'core/pods:get,list,watch',
    ]);
  });

  it(`the DaemonSet config's k8sattributes requests only what the ClusterRole grants, and only its node's pods (K8S_NODE_NAME)`, async () => {
    const { shipped, requests, peers } = await runDaemonSetK8sAttributes();
    expect(shipped.auth_type).toBe('serviceAccount');
    expect(shipped.filter).toEqual({ node_from_env_var: 'K8S_NODE_NAME', node: '' });
    expect(shipped.peer).toMatchObject({ enabled: true, watch_services: false, watch_all_pods: false });

    const granted = grantedVerbs(readClusterRole());
    const denied = requests.filter((q) => !granted.get(`${API_GROUP[q.resource]}/${q.resource}`)?.has(q.watch ? 'watch' : 'list'));
    expect(denied).toEqual([]);
    expect([...new Set(requests.map((q) => q.resource))].sort()).toEqual(['jobs', 'pods', 'replicasets']);
    expect(requests.every((q) => q.status === 200)).toBe(true);

    const podRequests = requests.filter((q) => q.resource === 'pods');
    expect(podRequests.some((q) => !q.watch)).toBe(true);
    expect(podRequests.some((q) => q.watch)).toBe(true);
    for (const q of podRequests) expect(q.fieldSelector).toBe(`spec.nodeName=${NODE}`);
    for (const q of requests.filter((x) => x.resource !== 'pods')) expect(q.fieldSelector).toBeUndefined();

    // Peers are still named by pod IP; the Service IP and the other node's pod stay unnamed.
    expect(peers).toEqual([{ 'sonde.peer.k8s.pod.name': 'cart-here', 'sonde.peer.k8s.namespace.name': 'shop', 'sonde.peer.service.name': 'cart-here' }, {}, {}]);
  });

  it('peer.watch_services: true (Service names for peers) also watches services, which the ClusterRole must then grant', async () => {
    const { requests, peers } = await runDaemonSetK8sAttributes({ watch_services: true });
    expect([...new Set(requests.map((q) => q.resource))].sort()).toEqual(['jobs', 'pods', 'replicasets', 'services']);
    expect(requests.some((q) => q.resource === 'services' && !q.watch)).toBe(true);
    expect(peers[1]).toEqual({ 'sonde.peer.k8s.service.name': 'cart', 'sonde.peer.k8s.namespace.name': 'shop', 'sonde.peer.service.name': 'cart' });
    expect(grantedVerbs(readClusterRole()).has('core/services')).toBe(false);
  });
});

describe(`the manifest validator (${SCHEMA_PACKAGE}, Kubernetes ${KUBERNETES_VERSION} schemas)`, () => {
  const daemonSet = (): Manifest => parseAllDocuments(readFileSync(join(K8S_DIR, 'daemonset.yaml'), 'utf8'))[0]!.toJS() as Manifest;

  it(`is the ${SCHEMA_PACKAGE} release generated from Kubernetes ${KUBERNETES_VERSION}`, () => {
    // 5.1.x: "Update to Kubernetes v1.36.0". Upgrading the package means updating KUBERNETES_VERSION.
    expect(schemaPackageVersion()).toMatch(/^5\.1\./);
  });

  it('accepts the DaemonSet as written', () => {
    expect(validateManifest(daemonSet())).toEqual([]);
  });

  it('rejects a misspelt field, at any depth, naming it', () => {
    const top = daemonSet();
    top.spec.template.spec.hostPIDs = true;
    expect(validateManifest(top)).toEqual(['DaemonSet/sonde: unknown field spec.template.spec.hostPIDs']);
    const nested = daemonSet();
    nested.spec.template.spec.containers[0].readinesProbe = nested.spec.template.spec.containers[0].readinessProbe;
    nested.spec.template.spec.volumes[1].hostPath.paht = '/sys';
    expect(validateManifest(nested)).toEqual([
      'DaemonSet/sonde: unknown field spec.template.spec.containers[0].readinesProbe',
      'DaemonSet/sonde: unknown field spec.template.spec.volumes[1].hostPath.paht',
    ]);
  });

  it('rejects a wrong type and a value outside an enum', () => {
    const mistyped = daemonSet();
    mistyped.spec.template.spec.hostPID = 'yes';
    const problems = validateManifest(mistyped);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^DaemonSet\/sonde: .*spec\/template\/spec\/hostPID must be boolean/);
    const enumed = daemonSet();
    enumed.spec.template.spec.containers[0].imagePullPolicy = 'Sometimes';
    expect(validateManifest(enumed).join('\n')).toMatch(/imagePullPolicy must be equal to one of the allowed values/);
  });

  it('rejects a missing required field and a kind it has no schema for', () => {
    const noSelector = daemonSet();
    delete noSelector.spec.selector;
    expect(validateManifest(noSelector).join('\n')).toMatch(/DaemonSet\/sonde: .*must have required property '?selector'?/);
    expect(validateManifest({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } })).toEqual([
      'Widget/w: no schema for apiVersion example.com/v1 kind Widget',
    ]);
  });
});

describe('Kubernetes manifests', () => {
  const ready = requireAll(needs.kustomize);

  it.runIf(ready)(`the DaemonSet kustomization renders and validates against Kubernetes ${KUBERNETES_VERSION} (strict)`, () => {
    const { docs } = kustomizeBuild(K8S_DIR);
    expect(docs.map((d) => d.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'DaemonSet', 'Namespace', 'ServiceAccount']);
    expect(docs.flatMap(validateManifest)).toEqual([]);
  });

  it.runIf(ready)(`the sidecar kustomization renders and validates against Kubernetes ${KUBERNETES_VERSION} (strict)`, () => {
    const { docs } = kustomizeBuild(SIDECAR_DIR);
    expect(docs.map((d) => d.kind).sort()).toEqual(['ConfigMap', 'Deployment']);
    expect(docs.flatMap(validateManifest)).toEqual([]);
  });

  it.runIf(ready)('the ConfigMaps hold the very config files the tests run, and the workloads mount them', () => {
    const ds = kustomizeBuild(K8S_DIR).docs;
    const cm = find(ds, 'ConfigMap');
    expect(cm.metadata.name).toMatch(/^sonde-config-[a-z0-9]{10}$/);
    expect(cm.data).toEqual({ 'pipeline.config.yaml': readFileSync(DAEMONSET_CONFIG, 'utf8') });
    const dsVolume = find(ds, 'DaemonSet').spec.template.spec.volumes.find((v: any) => v.name === 'config');
    expect(dsVolume.configMap.name).toBe(cm.metadata.name);

    const sc = kustomizeBuild(SIDECAR_DIR).docs;
    const scm = find(sc, 'ConfigMap');
    expect(scm.data).toEqual({ 'pipeline.config.yaml': readFileSync(SIDECAR_CONFIG, 'utf8') });
    const scVolume = find(sc, 'Deployment').spec.template.spec.volumes.find((v: any) => v.name === 'sonde-config');
    expect(scVolume.configMap.name).toBe(scm.metadata.name);
  });

  it.runIf(ready)('the DaemonSet: hostPID, the unit\'s capabilities instead of privileged, read-only host mounts, probes on the admin port', () => {
    const docs = kustomizeBuild(K8S_DIR).docs;
    const pod = find(docs, 'DaemonSet').spec.template.spec;
    expect(pod.hostPID).toBe(true);
    expect(pod.hostNetwork).toBeUndefined();
    expect(pod.serviceAccountName).toBe('sonde');
    expect(pod.containers).toHaveLength(1);
    const c = pod.containers[0];
    const sc = c.securityContext;
    expect(sc.privileged).toBe(false);
    expect(sc.allowPrivilegeEscalation).toBe(false);
    expect(sc.readOnlyRootFilesystem).toBe(true);
    expect(sc.capabilities.drop).toEqual(['ALL']);
    // The systemd unit's capabilities in Kubernetes spelling, less CAP_DAC_READ_SEARCH: uid 0
    // owns the tracefs files, only the unit's non-root user needs it to read them.
    expect(sc.runAsUser).toBe(0);
    const unitCaps = capabilityList(unitValue(readUnitFile(join(REPO, 'deploy/systemd/sonde.service')), 'Service', 'AmbientCapabilities'));
    expect(sc.capabilities.add).toEqual(unitCaps.filter((x) => x !== 'CAP_DAC_READ_SEARCH').map((x) => x.replace(/^CAP_/, '')));

    const hostPaths = Object.fromEntries(pod.volumes.filter((v: any) => v.hostPath).map((v: any) => [v.name, v.hostPath.path]));
    expect(Object.values(hostPaths).sort()).toEqual(['/proc', '/sys/fs/bpf', '/sys/fs/cgroup', '/sys/kernel/tracing']);
    for (const [name, path] of Object.entries(hostPaths)) {
      const mount = c.volumeMounts.find((m: any) => m.name === name);
      expect(mount.readOnly, `${path} mounted read-only`).toBe(true);
    }
    expect(c.volumeMounts.find((m: any) => m.name === hostPathName(pod, '/proc')).mountPath).toBe(c.env.find((e: any) => e.name === 'HOST_PROC').value);

    const nodeEnv = c.env.find((e: any) => e.name === 'K8S_NODE_NAME');
    expect(nodeEnv.valueFrom.fieldRef.fieldPath).toBe('spec.nodeName');

    // Probes reach the admin endpoint on the port the config listens on, on every interface.
    const config = parseAllDocuments(readFileSync(DAEMONSET_CONFIG, 'utf8'))[0]!.toJS();
    const address: string = config.service.telemetry.metrics.address;
    expect(address).toBe('0.0.0.0:8888');
    const adminPort = c.ports.find((p: any) => p.name === 'admin').containerPort;
    expect(adminPort).toBe(8888);
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'admin' });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'admin' });
    expect(c.ports.find((p: any) => p.name === 'prometheus').containerPort).toBe(Number(config.exporters.prometheus.endpoint.split(':').at(-1)));
    expect(c.resources.limits.memory).toBe('512Mi');
    expect(c.resources.requests.cpu).toBeDefined();
  });

  it.runIf(ready)('RBAC: the rendered ClusterRole is clusterrole.yaml, bound to the ServiceAccount', () => {
    const docs = kustomizeBuild(K8S_DIR).docs;
    const role = find(docs, 'ClusterRole');
    expect(grants(role)).toEqual(grants(readClusterRole()));
    const binding = find(docs, 'ClusterRoleBinding');
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'sonde', namespace: find(docs, 'ServiceAccount').metadata.namespace }]);
  });

  it.runIf(ready)('the sidecar runs without privileges as a native sidecar', () => {
    const pod = find(kustomizeBuild(SIDECAR_DIR).docs, 'Deployment').spec.template.spec;
    const sidecar = pod.initContainers.find((c: any) => c.name === 'sonde');
    expect(sidecar.restartPolicy).toBe('Always');
    expect(sidecar.securityContext.capabilities).toEqual({ drop: ['ALL'] });
    expect(sidecar.securityContext.runAsUser).not.toBe(0);
    expect(sidecar.securityContext.allowPrivilegeEscalation).toBe(false);
    expect(pod.hostPID).toBeUndefined();
  });
});

function hostPathName(pod: any, path: string): string {
  return pod.volumes.find((v: any) => v.hostPath?.path === path).name;
}

describe('the Kubernetes configs, run as the containers would run them', () => {
  const ready = requireAll(needs.kustomize, needs.root, needs.sandboxTools, needs.bpf, needs.dist);
  let tmp = '';
  let stage = '';

  beforeAll(() => {
    if (!ready) return;
    tmp = mkdtempSync(join(tmpdir(), 'sonde-deploy-k8s-run-'));
    stage = join(tmp, 'root');
    // The image's /opt/sonde has the same content as the systemd install (see the Dockerfile).
    const r = run('bash', [join(REPO, 'deploy/systemd/install.sh'), '--root', stage]);
    if (r.code !== 0) throw new Error(`install.sh --root failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
    // A synchronous `npm ci`: vitest fails a sync hook that overran its timeout even when it
    // succeeded, so the bound is run()'s own 300 s.
  }, 330_000);
  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  /** /etc/sonde from the ConfigMap; /run with a service account token, as the kubelet mounts it. */
  function podFiles(name: string, configMap: Manifest): string[] {
    const etc = join(tmp, name, 'etc');
    mkdirSync(join(etc, 'sonde'), { recursive: true });
    for (const [file, text] of Object.entries(configMap.data as Record<string, string>)) writeFileSync(join(etc, 'sonde', file), text);
    const sa = join(tmp, name, 'run', 'secrets', 'kubernetes.io', 'serviceaccount');
    mkdirSync(sa, { recursive: true });
    writeFileSync(join(sa, 'token'), 'test-token\n');
    writeFileSync(join(sa, 'namespace'), 'sonde');
    writeFileSync(join(sa, 'ca.crt'), '');
    return ['--overlay', `/opt=${stage}/opt`, '--overlay', `/etc=${etc}`, '--overlay', `/run=${join(tmp, name, 'run')}`, '--protect', '--work', join(tmp, name, 'work')];
  }

  function start(name: string, configMap: Manifest, container: any, uid: number, caps: string[], env: Record<string, string>): SandboxedProcess {
    const capArg = ['-all', ...caps.map((c) => `+${c.toLowerCase()}`)].join(',');
    const argv = containerCommand(container.args);
    const script =
      `cd /opt/sonde && exec env -i ${Object.entries(env).map(([k, v]) => shq(`${k}=${v}`)).join(' ')} ` +
      `setpriv --reuid=${uid} --regid=${uid} --clear-groups --inh-caps=${capArg} --ambient-caps=${caps.length && uid !== 0 ? capArg : '-all'} --bounding-set=${capArg} --no-new-privs -- ${argv.map(shq).join(' ')}`;
    return startSandboxed(podFiles(name, configMap), ['bash', '-c', script], process.env);
  }

  it.runIf(ready)('the DaemonSet config, as root with only the DaemonSet capabilities, captures TCP and HTTP and talks to the API server', async () => {
    const docs = kustomizeBuild(K8S_DIR).docs;
    const ds = find(docs, 'DaemonSet');
    const c = ds.spec.template.spec.containers[0];
    expect(c.securityContext.runAsUser).toBe(0);
    const env = containerEnv(c, { 'spec.nodeName': 'test-node' }, {
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      // What the kubelet injects; nothing listens there, so the k8s client keeps retrying.
      KUBERNETES_SERVICE_HOST: '127.0.0.1',
      KUBERNETES_SERVICE_PORT: '1',
      // The host's /proc: the DaemonSet mounts it at /host/proc, which does not exist on this host.
      HOST_PROC: '/proc',
    });
    expect(env.OTEL_RESOURCE_ATTRIBUTES).toBe('host.name=test-node');
    const sonde = start('daemonset', find(docs, 'ConfigMap'), c, 0, c.securityContext.capabilities.add, env);
    try {
      await sonde.waitFor('http://127.0.0.1:8888/readyz', 30_000);
      const status = readFileSync(`/proc/${sonde.child.pid}/status`, 'utf8');
      // CAP_PERFMON (38), CAP_BPF (39): nothing else.
      expect(/^CapEff:\s*([0-9a-f]+)/m.exec(status)![1]).toBe('000000c000000000');
      expect(/^CapBnd:\s*([0-9a-f]+)/m.exec(status)![1]).toBe('000000c000000000');

      const r = await measureCapture({
        scrape: () => sonde.get('http://127.0.0.1:9464/metrics').body,
        own: () => sonde.get('http://127.0.0.1:8888/metrics').body,
        tcpConnects: 3,
        httpRequests: 4,
        clientSide: false,
      });
      expectCaptured(r, { tcp: 3, httpServer: 4 }, expect);
      // The k8sattributes processor used the service account and the injected API address.
      const own = await pollValue(() => sonde.get('http://127.0.0.1:8888/metrics').body, (b) => promValue(b, 'sonde_k8s_watch_errors_total') > 0, 20_000, 500);
      expect(promValue(own, 'sonde_k8s_watch_errors_total', { resource: 'pods' })).toBeGreaterThan(0);
      expect(promValue(own, 'sonde_k8s_api_up')).toBe(0);
    } finally {
      const code = await sonde.stop();
      expect(code, sonde.output().slice(-3000)).toBe(0);
    }
  }, 420_000); // up to 3 capture rounds of 2 x 40 s

  it.runIf(ready)('the sidecar config, as the non-root sidecar user without capabilities, accepts OTLP from the app', async () => {
    const docs = kustomizeBuild(SIDECAR_DIR).docs;
    const pod = find(docs, 'Deployment').spec.template.spec;
    const c = pod.initContainers.find((x: any) => x.name === 'sonde');
    const env = containerEnv(c, {}, { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' });
    const sonde = start('sidecar', find(docs, 'ConfigMap'), c, c.securityContext.runAsUser, [], env);
    try {
      await sonde.waitFor('http://127.0.0.1:8888/readyz', 30_000);
      expect(/^CapEff:\s*([0-9a-f]+)/m.exec(readFileSync(`/proc/${sonde.child.pid}/status`, 'utf8'))![1]).toBe('0000000000000000');
      const span = (i: number): object => ({
        traceId: '5b8efff798038103d269b633813fc60c',
        spanId: `eee19b7ec3c1b17${i}`,
        name: `GET /${i}`,
        kind: 2,
        startTimeUnixNano: '1700000000000000000',
        endTimeUnixNano: '1700000000100000000',
      });
      const request = { resourceSpans: [{ resource: { attributes: [] }, scopeSpans: [{ scope: { name: 'test' }, spans: [span(1), span(2)] }] }] };
      const post = sonde.post('http://127.0.0.1:4318/v1/traces', JSON.stringify(request), 'application/json');
      expect(post.status).toBe(200);
      const own = sonde.get('http://127.0.0.1:8888/metrics').body;
      expect(promValue(own, 'sonde_receiver_accepted_items_total', { receiver: 'otlp' })).toBe(2);
    } finally {
      const code = await sonde.stop();
      expect(code, sonde.output().slice(-3000)).toBe(0);
    }
  });
});
