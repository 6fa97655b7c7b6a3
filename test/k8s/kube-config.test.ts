// loadKubeConfig: every SONDE_K8S_AUTH path (message and hint), the in-cluster config built from
// the given environment and service account directory, the token re-read when the kubelet rotates
// it, and `sonde run` exiting 1 with the code and the hint when credentials are missing.
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { KubeConfig } from '@kubernetes/client-node';
import { SondeError } from '../../src/errors/index.js';
import { loadKubeConfig, SERVICE_ACCOUNT_DIR } from '../../src/processors/k8sattributes/kube-config.js';
import { pollValue } from '../helpers/poll.js';
import { startSonde } from '../helpers/sonde-process.js';
import { writeKubeconfig } from './fixtures.js';
import { writeK8sRunConfig } from './sonde-config.js';

const root = mkdtempSync(join(tmpdir(), 'sonde-kube-config-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => {
  const d = join(root, String(++n));
  mkdirSync(d);
  return d;
};

const CA_PEM = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';
const IN_POD = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };

/** A service account directory as the kubelet mounts it (files given, others absent). */
function serviceAccountDir(files: Partial<Record<'token' | 'ca.crt' | 'namespace', string>>): string {
  const d = freshDir();
  for (const [name, text] of Object.entries(files)) writeFileSync(join(d, name), text);
  return d;
}

/** The SondeError loadKubeConfig throws (fails the test when it returns instead). */
function authError(...args: Parameters<typeof loadKubeConfig>): SondeError {
  try {
    loadKubeConfig(...args);
  } catch (err) {
    expect(err).toBeInstanceOf(SondeError);
    return err as SondeError;
  }
  throw new Error('loadKubeConfig did not throw');
}

async function authorization(kc: KubeConfig): Promise<unknown> {
  const opts: { headers?: Record<string, unknown> } = {};
  await kc.applyToHTTPSOptions(opts as never);
  return opts.headers?.Authorization;
}

describe('loadKubeConfig, auth_type serviceAccount', () => {
  it('defaults to the kubelet mount path', () => {
    expect(SERVICE_ACCOUNT_DIR).toBe('/var/run/secrets/kubernetes.io/serviceaccount');
  });

  it.each([
    ['KUBERNETES_SERVICE_HOST', { KUBERNETES_SERVICE_PORT: '443' }],
    ['KUBERNETES_SERVICE_PORT', { KUBERNETES_SERVICE_HOST: '10.96.0.1' }],
    ['both variables', {}],
  ])('missing %s: SONDE_K8S_AUTH', (_what, env) => {
    const dir = serviceAccountDir({ token: 'tok', 'ca.crt': CA_PEM });
    const err = authError('serviceAccount', '', env, dir);
    expect(err.code).toBe('SONDE_K8S_AUTH');
    expect(err.message).toBe('auth_type serviceAccount: KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT are not set (not running in a pod?)');
    expect(err.hint).toBe('Run Sonde in a pod with a service account, or set auth_type: kubeConfig.');
  });

  it('reads the host and port from the env argument, not from process.env', () => {
    const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
    process.env.KUBERNETES_SERVICE_HOST = '192.0.2.99';
    process.env.KUBERNETES_SERVICE_PORT = '9';
    try {
      const dir = serviceAccountDir({ token: 'tok', 'ca.crt': CA_PEM });
      expect(loadKubeConfig('serviceAccount', '', IN_POD, dir).getCurrentCluster()!.server).toBe('https://10.96.0.1:443');
      expect(authError('serviceAccount', '', {}, dir).code).toBe('SONDE_K8S_AUTH');
    } finally {
      for (const [k, v] of [['KUBERNETES_SERVICE_HOST', saved.host], ['KUBERNETES_SERVICE_PORT', saved.port]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('missing token file: SONDE_K8S_AUTH naming the file', () => {
    const dir = serviceAccountDir({ 'ca.crt': CA_PEM, namespace: 'sonde' });
    const err = authError('serviceAccount', '', IN_POD, dir);
    expect(err.code).toBe('SONDE_K8S_AUTH');
    expect(err.message).toBe(`auth_type serviceAccount: ${join(dir, 'token')} is missing`);
    expect(err.hint).toBe('Mount the service account token (automountServiceAccountToken: true), or set auth_type: kubeConfig.');
  });

  it('empty token file: SONDE_K8S_AUTH', () => {
    const dir = serviceAccountDir({ token: ' \n', 'ca.crt': CA_PEM });
    const err = authError('serviceAccount', '', IN_POD, dir);
    expect(err.code).toBe('SONDE_K8S_AUTH');
    expect(err.message).toBe(`auth_type serviceAccount: service account token ${join(dir, 'token')} is empty`);
  });

  it('missing ca.crt: SONDE_K8S_AUTH (the API server could not be verified)', () => {
    const dir = serviceAccountDir({ token: 'tok' });
    const err = authError('serviceAccount', '', IN_POD, dir);
    expect(err.code).toBe('SONDE_K8S_AUTH');
    expect(err.message).toBe(`auth_type serviceAccount: ${join(dir, 'ca.crt')} is missing (the API server's certificate cannot be verified)`);
    expect(err.hint).toContain('Mount the whole service account volume');
  });

  it('builds https://HOST:PORT (IPv6 in brackets) with the mounted CA, TLS verification on, and the trimmed token', async () => {
    const dir = serviceAccountDir({ token: 'tok-1\n', 'ca.crt': CA_PEM, namespace: 'sonde' });
    const kc = loadKubeConfig('serviceAccount', 'ignored', IN_POD, dir);
    expect(kc.getCurrentCluster()).toMatchObject({ server: 'https://10.96.0.1:443', caFile: join(dir, 'ca.crt'), skipTLSVerify: false });
    const opts: { ca?: Buffer; headers?: Record<string, unknown> } = {};
    await kc.applyToHTTPSOptions(opts as never);
    expect(opts.ca?.toString()).toBe(CA_PEM);
    expect(opts.headers?.Authorization).toBe('Bearer tok-1');
    const v6 = loadKubeConfig('serviceAccount', '', { KUBERNETES_SERVICE_HOST: 'fd00:10:96::1', KUBERNETES_SERVICE_PORT: '6443' }, dir);
    expect(v6.getCurrentCluster()!.server).toBe('https://[fd00:10:96::1]:6443');
  });

  it('sends a rotated token on the next request (atomic swap or rewrite), and keeps the last one if the file vanishes', async () => {
    const dir = serviceAccountDir({ 'ca.crt': CA_PEM });
    // The kubelet's layout: token -> ..data/token, ..data -> a timestamped directory.
    mkdirSync(join(dir, '..v1'));
    writeFileSync(join(dir, '..v1', 'token'), 'tok-1');
    symlinkSync('..v1', join(dir, '..data'));
    symlinkSync('..data/token', join(dir, 'token'));
    const kc = loadKubeConfig('serviceAccount', '', IN_POD, dir);
    expect(await authorization(kc)).toBe('Bearer tok-1');
    expect(await authorization(kc)).toBe('Bearer tok-1');

    // Rotation as the kubelet's atomic writer does it: new directory, rename of the ..data link.
    mkdirSync(join(dir, '..v2'));
    writeFileSync(join(dir, '..v2', 'token'), 'tok-2');
    symlinkSync('..v2', join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    expect(await authorization(kc)).toBe('Bearer tok-2');

    // A token file rewritten in place (another size).
    writeFileSync(join(dir, '..v2', 'token'), 'tok-three');
    expect(await authorization(kc)).toBe('Bearer tok-three');

    unlinkSync(join(dir, 'token'));
    expect(await authorization(kc)).toBe('Bearer tok-three');
  });
});

describe('loadKubeConfig, auth_type kubeConfig', () => {
  const kubeconfig = (text: string): string => {
    const f = join(freshDir(), 'config');
    writeFileSync(f, text);
    return f;
  };
  const CLUSTERS = ['apiVersion: v1', 'kind: Config', 'clusters:', '- name: fake', '  cluster: { server: "https://127.0.0.1:6443" }', 'users:', '- name: u', '  user: { token: t }'];

  it('no kubeconfig (KUBECONFIG names missing files): SONDE_K8S_AUTH listing where it looked', () => {
    const a = join(root, 'absent-a');
    const b = join(root, 'absent-b');
    const err = authError('kubeConfig', '', { KUBECONFIG: `${a}:${b}` });
    expect(err.code).toBe('SONDE_K8S_AUTH');
    expect(err.message).toBe(`auth_type kubeConfig: no kubeconfig found (looked at ${a}, ${b})`);
    expect(err.hint).toBe('Set KUBECONFIG to the kubeconfig file, or create ~/.kube/config.');
  });

  it('no kubeconfig (no KUBECONFIG, no ~/.kube/config): SONDE_K8S_AUTH naming $HOME/.kube/config', () => {
    const home = freshDir();
    const err = authError('kubeConfig', '', { HOME: home });
    expect(err.code).toBe('SONDE_K8S_AUTH');
    expect(err.message).toBe(`auth_type kubeConfig: no kubeconfig found (looked at ${join(home, '.kube', 'config')})`);
  });

  it('uses the first KUBECONFIG entry that exists, and ~/.kube/config without KUBECONFIG', () => {
    const good = writeKubeconfig(1);
    expect(loadKubeConfig('kubeConfig', '', { KUBECONFIG: `${join(root, 'absent')}:${good}` }).getCurrentCluster()!.server).toBe('http://127.0.0.1:1');
    const home = freshDir();
    mkdirSync(join(home, '.kube'));
    writeFileSync(join(home, '.kube', 'config'), [...CLUSTERS, 'contexts:', '- name: c', '  context: { cluster: fake, user: u }', 'current-context: c', ''].join('\n'));
    expect(loadKubeConfig('kubeConfig', '', { HOME: home }).getCurrentCluster()!.server).toBe('https://127.0.0.1:6443');
  });

  it.each([
    ['a YAML syntax error', 'clusters: [unclosed\n', /^auth_type kubeConfig: cannot load .+: unexpected end of the stream/],
    ['an empty file', '', /^auth_type kubeConfig: cannot load .+: /],
    ['a cluster without server', 'apiVersion: v1\nkind: Config\nclusters:\n- name: a\n  cluster: {}\n', /^auth_type kubeConfig: cannot load .+: clusters\[0\]\.cluster\.server is missing$/],
    ['a YAML scalar', 'hello\n', /^auth_type kubeConfig: .+ has no clusters and no contexts \(is it a kubeconfig\?\)$/],
  ])('an invalid kubeconfig file (%s): SONDE_K8S_AUTH', (_what, text, message) => {
    const file = kubeconfig(text);
    const err = authError('kubeConfig', '', { KUBECONFIG: file });
    expect(err.code).toBe('SONDE_K8S_AUTH');
    expect(err.message).toMatch(message);
    expect(err.message).toContain(file);
    expect(err.hint).toBe('Check the file is a valid kubeconfig (kubectl --kubeconfig FILE config view).');
  });

  it.each([
    ['no current-context', [...CLUSTERS, 'contexts:', '- name: c', '  context: { cluster: fake, user: u }'], 'no current-context is set'],
    ['a current-context that is not there', [...CLUSTERS, 'contexts:', '- name: c', '  context: { cluster: fake, user: u }', 'current-context: gone'], 'current-context "gone" is not a context in the file'],
    ['a context naming a missing cluster', [...CLUSTERS, 'contexts:', '- name: c', '  context: { cluster: elsewhere, user: u }', 'current-context: c'], 'context "c" names cluster "elsewhere", which is not in the file'],
  ])('no current cluster (%s): SONDE_K8S_AUTH', (_what, lines, why) => {
    const file = kubeconfig(lines.join('\n') + '\n');
    const err = authError('kubeConfig', '', { KUBECONFIG: file });
    expect(err.code).toBe('SONDE_K8S_AUTH');
    expect(err.message).toBe(`auth_type kubeConfig: ${file} has no current cluster (${why})`);
    expect(err.hint).toBe('Set current-context in the kubeconfig, or name one with the context option.');
  });

  it('a context option naming a context that does not exist: SONDE_K8S_AUTH listing the contexts', () => {
    const file = kubeconfig([...CLUSTERS, 'contexts:', '- name: dev', '  context: { cluster: fake, user: u }', '- name: prod', '  context: { cluster: fake, user: u }', 'current-context: dev', ''].join('\n'));
    const err = authError('kubeConfig', 'staging', { KUBECONFIG: file });
    expect(err.code).toBe('SONDE_K8S_AUTH');
    expect(err.message).toBe(`auth_type kubeConfig: context "staging" does not exist in ${file} (contexts: dev, prod)`);
    expect(err.hint).toBe('Set the context option to one of the contexts in the kubeconfig, or leave it empty for the current context.');
  });

  it('a context option that exists selects it over current-context', () => {
    const file = kubeconfig(
      [...CLUSTERS.slice(0, 5), '- name: other', '  cluster: { server: "https://127.0.0.2:6443" }', ...CLUSTERS.slice(5), 'contexts:', '- name: dev', '  context: { cluster: fake, user: u }', '- name: prod', '  context: { cluster: other, user: u }', 'current-context: dev', ''].join('\n'),
    );
    expect(loadKubeConfig('kubeConfig', 'prod', { KUBECONFIG: file }).getCurrentCluster()!.server).toBe('https://127.0.0.2:6443');
    expect(loadKubeConfig('kubeConfig', '', { KUBECONFIG: file }).getCurrentCluster()!.server).toBe('https://127.0.0.1:6443');
  });
});

describe('sonde run with unusable Kubernetes credentials', () => {
  it('exits 1 and prints SONDE_K8S_AUTH with its hint', async () => {
    const dir = freshDir();
    const config = join(dir, 'sonde.yaml');
    await writeK8sRunConfig(config, { exporter: 'debug', exporterSettings: '{}' });
    // auth_type serviceAccount (the default) outside a pod; empty values override a CI pod's own.
    const proc = startSonde(['run', '--config', config], { KUBERNETES_SERVICE_HOST: '', KUBERNETES_SERVICE_PORT: '' });
    let code: number | string | undefined;
    void proc.exited.then((c) => (code = c));
    await pollValue(() => code, (c) => c !== undefined, 20_000);
    if (code === undefined) await proc.stop('SIGKILL');
    expect(code).toBe(1);
    const err = proc.stderr();
    expect(err).toContain('SONDE_K8S_AUTH: auth_type serviceAccount: KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT are not set (not running in a pod?)');
    expect(err).toContain('  hint: Run Sonde in a pod with a service account, or set auth_type: kubeConfig.');
  });
});
