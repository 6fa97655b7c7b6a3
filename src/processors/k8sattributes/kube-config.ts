import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { SondeError } from '../../errors/index.js';

const SA_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** Credentials and server for the configured auth_type; throws SONDE_K8S_AUTH when they are missing. */
export function loadKubeConfig(authType: 'serviceAccount' | 'kubeConfig', context: string, env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const kc = new KubeConfig();
  if (authType === 'serviceAccount') {
    if (!env.KUBERNETES_SERVICE_HOST || !env.KUBERNETES_SERVICE_PORT) {
      throw new SondeError('SONDE_K8S_AUTH', 'auth_type serviceAccount: KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT are not set (not running in a pod?)', {
        hint: 'Run Sonde in a pod with a service account, or set auth_type: kubeConfig.',
      });
    }
    if (!existsSync(SA_TOKEN)) {
      throw new SondeError('SONDE_K8S_AUTH', `auth_type serviceAccount: ${SA_TOKEN} is missing`, {
        hint: 'Mount the service account token (automountServiceAccountToken: true), or set auth_type: kubeConfig.',
      });
    }
    kc.loadFromCluster();
    return kc;
  }
  const candidates = env.KUBECONFIG ? env.KUBECONFIG.split(':').filter(Boolean) : [join(env.HOME ?? homedir(), '.kube', 'config')];
  const file = candidates.find((f) => existsSync(f));
  if (!file) {
    throw new SondeError('SONDE_K8S_AUTH', `auth_type kubeConfig: no kubeconfig found (looked at ${candidates.join(', ')})`, {
      hint: 'Set KUBECONFIG to the kubeconfig file, or create ~/.kube/config.',
    });
  }
  try {
    kc.loadFromFile(file);
    if (context) kc.setCurrentContext(context);
  } catch (err) {
    throw new SondeError('SONDE_K8S_AUTH', `auth_type kubeConfig: cannot load ${file}: ${(err as Error).message}`, {
      hint: 'Check the file is a valid kubeconfig and the context exists.',
      cause: err,
    });
  }
  if (!kc.getCurrentCluster()) {
    throw new SondeError('SONDE_K8S_AUTH', `auth_type kubeConfig: ${file} has no current cluster${context ? ` for context ${context}` : ''}`, {
      hint: 'Set current-context in the kubeconfig, or name one with the context option.',
    });
  }
  return kc;
}
