import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import type { ListPage } from './resource-informer.js';

const LIST_TIMEOUT_MS = 60_000;

/**
 * One page of a Kubernetes list, as plain parsed JSON. The typed API client would deserialize
 * every object into model classes first, which costs more time than the list itself for large
 * pod lists; the records need a handful of fields, so the JSON is read directly. Credentials,
 * CA and TLS settings come from the KubeConfig exactly as the typed client applies them.
 */
export async function listPage(kc: KubeConfig, path: string, query: Record<string, string | number | undefined>): Promise<ListPage> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const url = new URL(cluster.server.replace(/\/$/, '') + path);
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
  const opts: RequestOptions & { headers?: Record<string, unknown> } = {};
  await kc.applyToHTTPSOptions(opts as never);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = send(url, { ...opts, method: 'GET', headers: { ...(opts.headers ?? {}), accept: 'application/json' }, timeout: LIST_TIMEOUT_MS }, resolve);
    req.on('timeout', () => req.destroy(new Error(`list ${path}: no answer within ${LIST_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end();
  });
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks).toString('utf8');
  if (res.statusCode !== 200) {
    let message = body.slice(0, 300);
    try {
      message = (JSON.parse(body) as { message?: string }).message ?? message;
    } catch {
      // not a Status object
    }
    const err = new Error(`list ${path}: HTTP ${res.statusCode}: ${message}`) as Error & { statusCode?: number };
    err.statusCode = res.statusCode;
    throw err;
  }
  const parsed = JSON.parse(body) as { items?: unknown[]; metadata?: { resourceVersion?: string; continue?: string } };
  return { items: parsed.items ?? [], metadata: { resourceVersion: parsed.metadata?.resourceVersion, _continue: parsed.metadata?.continue } };
}
