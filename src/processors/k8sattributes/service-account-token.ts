import { readFileSync, statSync, type Stats } from 'node:fs';
import type { KubeConfig, User } from '@kubernetes/client-node';

type Authenticator = Parameters<KubeConfig['addAuthenticator']>[0];

/** The authProvider name that marks a user whose bearer token is read by ServiceAccountTokenAuth. */
export const SA_TOKEN_PROVIDER = 'sonde-service-account-token';

/**
 * Bearer token from a projected service account token file. The kubelet rotates that token by
 * swapping the file (an atomic symlink flip of `..data`); the client library's own token-file
 * provider re-reads it only once a minute, so a list or watch right after a rotation would still
 * send the old token. Here every request stats the file and re-reads it when it changed (another
 * inode, size or mtime): one stat per list page or watch start, none per watch event.
 * Surrounding whitespace is trimmed, as client-go does (a trailing newline would otherwise make
 * an invalid header). If the file vanishes after a successful read, the last token stays in use.
 */
export class ServiceAccountTokenAuth implements Authenticator {
  private token = '';
  private version = '';

  constructor(private readonly file: string) {}

  isAuthProvider(user: User): boolean {
    return (user.authProvider as { name?: string } | undefined)?.name === SA_TOKEN_PROVIDER;
  }

  async applyAuthentication(_user: User, opts: { headers?: Record<string, unknown> }): Promise<void> {
    const token = this.current();
    opts.headers ??= {};
    opts.headers.Authorization = `Bearer ${token}`;
  }

  /** The token as of now: re-read when the file changed since the last read. */
  current(): string {
    let st: Stats;
    try {
      st = statSync(this.file);
    } catch (err) {
      if (this.token) return this.token;
      throw new Error(`service account token ${this.file}: ${(err as Error).message}`);
    }
    const version = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
    if (version !== this.version || !this.token) {
      const token = readFileSync(this.file, 'utf8').trim();
      if (!token) throw new Error(`service account token ${this.file} is empty`);
      this.token = token;
      this.version = version;
    }
    return this.token;
  }
}
