import type { Consumer } from '../../src/component/types.js';
import { k8sAttributesProcessorFactory } from '../../src/processors/k8sattributes/factory.js';
import type { K8sAttributesConfig } from '../../src/processors/k8sattributes/config.js';
import type { K8sAttributesProcessor } from '../../src/processors/k8sattributes/processor.js';
import type { TelemetryBatch } from '../../src/pdata/types.js';
import { SelfTelemetry } from '../../src/telemetry/self-telemetry.js';
import { FakeApiServer } from './fake-apiserver.js';
import { writeKubeconfig } from './fixtures.js';
import { CollectingConsumer, settings } from './harness.js';
import { waitUntil } from '../helpers/poll.js';

let seq = 0;

export interface Running {
  api: FakeApiServer;
  proc: K8sAttributesProcessor;
  next: CollectingConsumer;
  telemetry: SelfTelemetry;
  id: string;
  /** Push a batch through the processor and return what came out. */
  run<T extends TelemetryBatch>(batch: T): Promise<T>;
  metric(name: string, labels?: Record<string, string>): Promise<number | undefined>;
  stop(): Promise<void>;
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K] };

/** Start a fake API server (unless given) and a k8sattributes processor reading it through a temp kubeconfig. */
export async function startProcessor(overrides: DeepPartial<K8sAttributesConfig> = {}, api?: FakeApiServer, waitSynced = true): Promise<Running> {
  const server = api ?? new FakeApiServer();
  if (!api) await server.start();
  process.env.KUBECONFIG = writeKubeconfig(server.port);
  const telemetry = new SelfTelemetry({ processMetrics: false });
  const id = `k8sattributes/t${++seq}`;
  const next = new CollectingConsumer();
  const config = {
    auth_type: 'kubeConfig',
    ...overrides,
    filter: { node: 'node-a', ...(overrides.filter ?? {}) },
  } as unknown as K8sAttributesConfig;
  const proc = k8sAttributesProcessorFactory.create(settings(id, telemetry), config, next as Consumer) as K8sAttributesProcessor;
  await proc.start();
  const metric = async (name: string, labels: Record<string, string> = {}): Promise<number | undefined> => {
    const m = telemetry.registry.getSingleMetric(name);
    if (!m) return undefined;
    const data = await m.get();
    const want = { processor: id, ...labels };
    const v = data.values.find((x) => Object.entries(want).every(([k, val]) => String(x.labels[k]) === val));
    return v?.value;
  };
  const resources = ['pods', 'replicasets', 'jobs'];
  if (overrides.peer?.enabled !== false && overrides.peer?.watch_services !== false) resources.push('services');
  const rules = [...(overrides.extract?.labels ?? []), ...(overrides.extract?.annotations ?? [])];
  if (rules.some((r) => r?.from === 'namespace')) resources.push('namespaces');
  if (waitSynced) {
    for (const resource of resources) await waitUntil(`first ${resource} list`, async () => (await metric('sonde_k8s_lists_total', { resource })) === 1, 10_000, 25);
  }
  return {
    api: server,
    proc,
    next,
    telemetry,
    id,
    async run(batch) {
      await proc.consume(batch);
      return next.last() as typeof batch;
    },
    metric,
    async stop() {
      await proc.shutdown();
      if (!api) await server.stop();
    },
  };
}
