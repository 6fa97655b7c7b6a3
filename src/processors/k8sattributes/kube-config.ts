import { existsSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { SondeError } from '../../errors/index.js';
import { SA_TOKEN_PROVIDER, ServiceAccountTokenAuth } from './service-account-token.js';

/** Where the kubelet mounts a pod's service account token, CA bundle and namespace. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * Credentials and server for the configured auth_type; throws SONDE_K8S_AUTH when they are
 * missing or unusable. `env` and `serviceAccountDir` are parameters so tests can point them
 * elsewhere; Sonde passes the process environment and the kubelet's mount path.
 */
export function loadKubeConfig(
  authType: 'serviceAccount' | 'kubeConfig',
  context: string,
  env: NodeJS.ProcessEnv = process.env,
  serviceAccountDir = SERVICE_ACCOUNT_DIR,
): KubeConfig {
  return authType === 'serviceAccount' ? inCluster(env, serviceAccountDir) : fromKubeconfig(context, env);
}

/**
 * What client-go's InClusterConfig does: https://KUBERNETES_SERVICE_HOST:PORT, the mounted CA
 * (read again for every connection, so a rotated CA is used too) and the mounted token (re-read
 * whenever the kubelet rotates it, see ServiceAccountTokenAuth). Built here rather than with the
 * library's loadFromCluster(), which reads process.env instead of `env` and caches the token for
 * a minute.
 */
function inCluster(env: NodeJS.ProcessEnv, dir: string): KubeConfig {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw new SondeError('SONDE_K8S_AUTH', 'auth_type serviceAccount: KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT are not set (not running in a pod?)', {
      hint: 'Run Sonde in a pod with a service account, or set auth_type: kubeConfig.',
    });
  }
  const tokenFile = join(dir, 'token');
  const caFile = join(dir, 'ca.crt');
  const auth = new ServiceAccountTokenAuth(tokenFile);
  try {
    auth.current();
  } catch (err) {
    const reason = existsSync(tokenFile) ? (err as Error).message : `${tokenFile} is missing`;
    throw new SondeError('SONDE_K8S_AUTH', `auth_type serviceAccount: ${reason}`, {
      hint: 'Mount the service account token (automountServiceAccountToken: true), or set auth_type: kubeConfig.',
      cause: err,
    });
  }
  if (!existsSync(caFile)) {
    throw new SondeError('SONDE_K8S_AUTH', `auth_type serviceAccount: ${caFile} is missing (the API server's certificate cannot be verified)`, {
      hint: 'Mount the whole service account volume (token, ca.crt, namespace), or set auth_type: kubeConfig.',
    });
  }
  const kc = new KubeConfig();
  kc.addAuthenticator(auth);
  kc.loadFromClusterAndUser(
    { name: 'inCluster', server: `https://${isIPv6(host) ? `[${host}]` : host}:${port}`, caFile, skipTLSVerify: false },
    { name: 'inClusterUser', authProvider: { name: SA_TOKEN_PROVIDER, config: {} } },
  );
  return kc;
}

function fromKubeconfig(context: string, env: NodeJS.ProcessEnv): KubeConfig {
  const candidates = env.KUBECONFIG ? env.KUBECONFIG.split(':').filter(Boolean) : [join(env.HOME ?? homedir(), '.kube', 'config')];
  const file = candidates.find((f) => existsSync(f));
  if (!file) {
    throw new SondeError('SONDE_K8S_AUTH', `auth_type kubeConfig: no kubeconfig found (looked at ${candidates.join(', ')})`, {
      hint: 'Set KUBECONFIG to the kubeconfig file, or create ~/.kube/config.',
    });
  }
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(file);
  } catch (err) {
    throw new SondeError('SONDE_K8S_AUTH', `auth_type kubeConfig: cannot load ${file}: ${(err as Error).message}`, {
      hint: 'Check the file is a valid kubeconfig (kubectl --kubeconfig FILE config view).',
      cause: err,
    });
  }
  if (kc.getClusters().length === 0 && kc.getContexts().length === 0) {
    throw new SondeError('SONDE_K8S_AUTH', `auth_type kubeConfig: ${file} has no clusters and no contexts (is it a kubeconfig?)`, {
      hint: 'Check the file is a valid kubeconfig (kubectl --kubeconfig FILE config view).',
    });
  }
  if (context) {
    // The library accepts any name here and only fails later, without saying why.
    if (!kc.getContextObject(context)) {
      throw new SondeError('SONDE_K8S_AUTH', `auth_type kubeConfig: context "${context}" does not exist in ${file} (contexts: ${kc.getContexts().map((c) => c.name).join(', ') || 'none'})`, {
        hint: 'Set the context option to one of the contexts in the kubeconfig, or leave it empty for the current context.',
      });
    }
    kc.setCurrentContext(context);
  }
  if (!kc.getCurrentCluster()) {
    const current = kc.getCurrentContext();
    const ctx = current ? kc.getContextObject(current) : null;
    const why = !current
      ? 'no current-context is set'
      : !ctx
        ? `current-context "${current}" is not a context in the file`
        : `context "${current}" names cluster "${ctx.cluster}", which is not in the file`;
    throw new SondeError('SONDE_K8S_AUTH', `auth_type kubeConfig: ${file} has no current cluster (${why})`, {
      hint: 'Set current-context in the kubeconfig, or name one with the context option.',
    });
  }
  return kc;
}
