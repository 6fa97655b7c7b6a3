import { MetadataClient, type MetadataClientOptions } from './metadata-client.js';

interface Entry {
  client: MetadataClient;
  refs: number;
}

// One metadata client per processor id and config, shared by the per-pipeline instances, so a
// k8sattributes used in a metrics and a traces pipeline watches the API server once.
const clients = new Map<string, Entry>();

export function acquireClient(key: string, create: () => MetadataClientOptions): MetadataClient {
  let entry = clients.get(key);
  if (!entry) {
    entry = { client: new MetadataClient(create()), refs: 0 };
    clients.set(key, entry);
    entry.client.start();
  }
  entry.refs++;
  return entry.client;
}

export async function releaseClient(key: string, client: MetadataClient): Promise<void> {
  const entry = clients.get(key);
  if (!entry || entry.client !== client) return;
  entry.refs--;
  if (entry.refs > 0) return;
  clients.delete(key);
  await client.stop();
}
