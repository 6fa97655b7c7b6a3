// The `prometheus` exporter: keeps the latest value of each series in memory and serves them on
// an HTTP scrape endpoint. consume() never waits on the network.
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CreateSettings, Exporter } from '../../component/types.js';
import { permanentError } from '../../errors/index.js';
import { parseDuration } from '../../config/units.js';
import type { TelemetryBatch } from '../../pdata/types.js';
import { DeltaToCumulative, translateMetrics } from '../prometheus-naming/index.js';
import { toResourceCopy } from '../prometheus-naming/config-schema.js';
import type { PrometheusExporterConfig } from './config.js';
import { OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE, renderExposition, wantsOpenMetrics } from './exposition.js';
import { SeriesStore } from './series-store.js';

/** `host:port` or `[v6]:port` -> listen arguments. */
export function parseEndpoint(endpoint: string): { host: string; port: number } {
  const i = endpoint.lastIndexOf(':');
  let host = endpoint.slice(0, i);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host: host === '' ? '0.0.0.0' : host, port: Number(endpoint.slice(i + 1)) };
}

export class PrometheusExporter implements Exporter {
  readonly mutatesData = false;
  private readonly store: SeriesStore;
  private readonly cumulative: DeltaToCumulative;
  private server: Server | undefined;
  private stopped = false;
  private readonly sent;
  private readonly failed;

  constructor(
    private readonly settings: CreateSettings,
    private readonly config: PrometheusExporterConfig,
  ) {
    const expirationMs = parseDuration(config.metric_expiration);
    this.store = new SeriesStore(expirationMs);
    this.cumulative = new DeltaToCumulative({ maxStaleMs: expirationMs });
    this.sent = settings.telemetry.exporterSent.labels(settings.id.key);
    this.failed = settings.telemetry.exporterSendFailed.labels(settings.id.key);
  }

  async start(): Promise<void> {
    if (this.server || this.stopped) return;
    const { host, port } = parseEndpoint(this.config.endpoint);
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET, HEAD' }).end();
        return;
      }
      if (path !== this.config.path) {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end(`not found; metrics are at ${this.config.path}\n`);
        return;
      }
      const openMetrics = wantsOpenMetrics(req.headers.accept);
      const body = renderExposition(this.store.snapshot(), { openMetrics, sendTimestamps: this.config.send_timestamps });
      res.writeHead(200, { 'Content-Type': openMetrics ? OPENMETRICS_CONTENT_TYPE : TEXT_CONTENT_TYPE });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) =>
        reject(
          permanentError('SONDE_PROMETHEUS_LISTEN_FAILED', `prometheus exporter ${this.settings.id.key} cannot listen on ${this.config.endpoint}: ${err.message}`, {
            hint: 'Pick a free host:port in `endpoint` or stop the process holding it.',
            cause: err,
          }),
        ),
      );
      server.listen(port, host, () => resolve());
    });
    server.on('error', (err) => this.settings.logger.error({ err, exporter: this.settings.id.key }, 'prometheus scrape endpoint error'));
    this.server = server;
    this.settings.logger.info({ exporter: this.settings.id.key, endpoint: this.url() }, 'prometheus scrape endpoint listening');
  }

  /** The address actually bound (useful with port 0). */
  address(): AddressInfo | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a : undefined;
  }

  url(): string {
    const a = this.address();
    if (!a) return '';
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return `http://${host}:${a.port}${this.config.path}`;
  }

  async consume(batch: TelemetryBatch): Promise<void> {
    if (batch.signal !== 'metrics') return;
    const translated = translateMetrics(batch, {
      namespace: this.config.namespace,
      resourceCopy: toResourceCopy(this.config.resource_to_telemetry_conversion),
      cumulative: this.cumulative,
      targetInfo: true,
    });
    const upserted = this.store.upsert(translated.families);
    const refused = translated.dropped + upserted.conflicts;
    if (refused > 0) {
      this.failed.inc(refused);
      const problems = [...translated.problems, ...upserted.conflictNames.map((n) => `${n} is already served with another type`)];
      this.settings.logger.warn({ exporter: this.settings.id.key, code: 'SONDE_PROMETHEUS_POINT_DROPPED', dropped: refused, problems }, 'data points dropped');
    }
    // target_info is not a data point of the batch: count only translated points that were kept.
    this.sent.inc(Math.max(0, translated.points - upserted.conflicts));
    this.store.expire();
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
