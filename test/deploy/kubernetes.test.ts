// The Kubernetes deployment: both kustomizations rendered with kustomize, the output checked with
// kubernetes-validate (strict: unknown fields are errors) against the schemas of a current
// Kubernetes release, the manifests' security and wiring checked, and the generated ConfigMaps'
// configs run with the container's command, user and capabilities.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectCaptured, measureCapture, startSandboxed, type SandboxedProcess } from './sandboxed-sonde.js';
import { pollValue } from '../helpers/poll.js';
import { promValue } from '../helpers/sonde-process.js';
import { KUBERNETES_VALIDATE, KUBERNETES_VERSION, KUSTOMIZE, REPO, needs, requireAll, run } from './tools.js';
import { capabilityList, readUnitFile, unitValue } from './unit-file.js';

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

describe('Kubernetes manifests', () => {
  const ready = requireAll(needs.kustomize, needs.kubernetesValidate);
  let tmp = '';
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'sonde-deploy-k8s-'));
  });
  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const validate = (text: string, name: string): { code: number; out: string } => {
    const file = join(tmp, name);
    writeFileSync(file, text);
    const r = run(KUBERNETES_VALIDATE, ['--strict', '-k', KUBERNETES_VERSION, file]);
    return { code: r.code, out: r.stdout + r.stderr };
  };

  it.runIf(ready)(`the DaemonSet kustomization renders and validates against Kubernetes ${KUBERNETES_VERSION} (strict)`, () => {
    const { text, docs } = kustomizeBuild(K8S_DIR);
    expect(docs.map((d) => d.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'DaemonSet', 'Namespace', 'ServiceAccount']);
    const r = validate(text, 'daemonset.yaml');
    expect(r.out).not.toMatch(/ERROR|WARN/);
    expect(r.out.match(/ passed for resource /g)?.length).toBe(6);
    expect(r.code).toBe(0);
  });

  it.runIf(ready)(`the sidecar kustomization renders and validates against Kubernetes ${KUBERNETES_VERSION} (strict)`, () => {
    const { text, docs } = kustomizeBuild(SIDECAR_DIR);
    expect(docs.map((d) => d.kind).sort()).toEqual(['ConfigMap', 'Deployment']);
    const r = validate(text, 'sidecar.yaml');
    expect(r.out).not.toMatch(/ERROR|WARN/);
    expect(r.out.match(/ passed for resource /g)?.length).toBe(2);
    expect(r.code).toBe(0);
  });

  it.runIf(ready)('the validator rejects an unknown field and a mistyped one (control)', () => {
    const { text } = kustomizeBuild(K8S_DIR);
    const unknown = validate(text.replace('hostPID: true', 'hostPID: true\n      hostPIDs: true'), 'bad-unknown.yaml');
    expect(unknown.code).not.toBe(0);
    expect(unknown.out).toMatch(/daemonset\/sonde.*hostPIDs/);
    const mistyped = validate(text.replace('hostPID: true', 'hostPID: "yes"'), 'bad-type.yaml');
    expect(mistyped.code).not.toBe(0);
    expect(mistyped.out).toMatch(/hostPID/);
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

  it.runIf(ready)('RBAC: read-only access to exactly pods, namespaces, services, replicasets and jobs', () => {
    const docs = kustomizeBuild(K8S_DIR).docs;
    const role = find(docs, 'ClusterRole');
    const granted = role.rules.flatMap((r: any) => r.apiGroups.flatMap((g: string) => r.resources.map((res: string) => `${g || 'core'}/${res}:${[...r.verbs].sort().join(',')}`))).sort();
    expect(granted).toEqual(['apps/replicasets:get,list,watch', 'batch/jobs:get,list,watch', 'core/namespaces:get,list,watch', 'core/pods:get,list,watch', 'core/services:get,list,watch']);
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
  }, 240_000);

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
