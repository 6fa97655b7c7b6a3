// `sonde run` as in a pod, without touching this host: a private mount namespace
// (unshare --mount --propagation private) with a tmpfs at /var/run/secrets/kubernetes.io/serviceaccount
// holding token, ca.crt and namespace in the kubelet's layout (files in a timestamped directory,
// `..data` pointing at it, `token` -> `..data/token`). Rotating the token does what the kubelet's
// atomic writer does: a new directory, then an atomic rename of the `..data` link, then the old
// directory removed. Needs root and util-linux (unshare, nsenter).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSonde, type SondeProcess } from '../helpers/sonde-process.js';

export const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface ServiceAccountFiles {
  token: string;
  caCrt: Buffer | string;
  namespace?: string;
}

export interface InClusterSonde extends SondeProcess {
  /** Replace the token as the kubelet does; returns once the new token is in place. */
  rotateToken(token: string): void;
  /** The token file as the Sonde process sees it. */
  readToken(): string;
  /** Remove the staging directories (call after the process exited). */
  dispose(): void;
}

// Publishes $STAGE's files as a new kubelet "timestamp" directory and flips ..data to it.
const PUBLISH = `
publish() {
  ts="..$(date +%Y_%m_%d_%H_%M_%S).$$.$1"
  mkdir "$SA/$ts"
  cp "$STAGE/token" "$STAGE/ca.crt" "$STAGE/namespace" "$SA/$ts/"
  chmod 0644 "$SA/$ts"/*
  old=$(readlink "$SA/..data" || true)
  ln -s "$ts" "$SA/..data_tmp"
  mv -T "$SA/..data_tmp" "$SA/..data"
  if [ -n "$old" ]; then rm -rf "$SA/$old"; fi
}
`;

// A missing mount point is made on a private overlay of /run (over a tmpfs), not on the host.
const SETUP = `set -eu
SA=${SA_DIR}
${PUBLISH}
if [ ! -d "$SA" ]; then
  run=$(readlink -f /var/run)
  mount -t tmpfs -o size=1m tmpfs "$WORK"
  mkdir "$WORK/upper" "$WORK/work"
  mount -t overlay overlay -o "lowerdir=$run,upperdir=$WORK/upper,workdir=$WORK/work" "$run"
  mkdir -p "$SA"
fi
mount -t tmpfs -o size=1m,mode=0755 tmpfs "$SA"
publish 1
for f in token ca.crt namespace; do ln -s "..data/$f" "$SA/$f"; done
exec "$@"
`;

function stage(dir: string, files: ServiceAccountFiles): void {
  writeFileSync(join(dir, 'token'), files.token);
  writeFileSync(join(dir, 'ca.crt'), files.caCrt);
  writeFileSync(join(dir, 'namespace'), files.namespace ?? 'sonde');
}

/** Runs bin/sonde with `args` in its own mount namespace with `files` mounted as the service account. */
export function startSondeInPod(args: string[], files: ServiceAccountFiles, env: NodeJS.ProcessEnv): InClusterSonde {
  const root = mkdtempSync(join(tmpdir(), 'sonde-sa-'));
  const staged = join(root, 'stage');
  const work = join(root, 'work');
  for (const d of [staged, work]) mkdirSync(d);
  stage(staged, files);
  // unshare and sh exec: the child's pid is Sonde's, so signals and nsenter reach it directly.
  const proc = startSonde(args, { ...env, STAGE: staged, WORK: work }, { wrapper: ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', SETUP, 'sh'] });
  const child = proc.child;
  let rotations = 1;
  const inNamespace = (script: string, extraEnv: NodeJS.ProcessEnv = {}): string => {
    const r = spawnSync('nsenter', ['--target', String(child.pid), '--mount', '--', 'sh', '-c', script], {
      encoding: 'utf8',
      env: { ...process.env, ...extraEnv },
    });
    if (r.status !== 0) throw new Error(`nsenter into sonde (pid ${child.pid}) failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  };
  return {
    ...proc,
    rotateToken(token: string) {
      const next = join(root, `stage-${++rotations}`);
      mkdirSync(next);
      stage(next, { ...files, token });
      inNamespace(`set -eu\nSA=${SA_DIR}\n${PUBLISH}\npublish ${rotations}\n`, { STAGE: next });
    },
    readToken: () => inNamespace(`cat ${SA_DIR}/token`),
    dispose: () => rmSync(root, { recursive: true, force: true }),
  };
}
