import type { Consumer, CreateSettings, Receiver } from '../../component/types.js';
import { SondeError } from '../../errors/index.js';
import { parseSize } from '../../config/units.js';
import type { Signal } from '../../pdata/types.js';
import { defaultGrpcConfig, defaultHttpConfig, parseListenEndpoint, type OtlpReceiverConfig } from './config.js';
import { OtlpGrpcServer } from './grpc-server.js';
import { OtlpHttpServer } from './http-server.js';
import type { IngestContext } from './ingest.js';

/** OTLP receiver: gRPC and HTTP servers feeding the same pipelines. */
export class OtlpReceiver implements Receiver {
  private grpc: OtlpGrpcServer | undefined;
  private http: OtlpHttpServer | undefined;
  private state: 'new' | 'started' | 'stopped' = 'new';

  constructor(
    private readonly settings: CreateSettings,
    config: OtlpReceiverConfig,
    next: Partial<Record<Signal, Consumer>>,
  ) {
    const ctx: IngestContext = { receiver: settings.id.key, telemetry: settings.telemetry, backpressure: settings.backpressure, next };
    const grpc = config.protocols.grpc ?? defaultGrpcConfig();
    const http = config.protocols.http ?? defaultHttpConfig();
    if (grpc.enabled) {
      const { host, port } = parseListenEndpoint(grpc.endpoint);
      this.grpc = new OtlpGrpcServer({ host, port, maxMessageBytes: parseSize(grpc.max_recv_msg_size), ctx, logger: settings.logger });
    }
    if (http.enabled) {
      const { host, port } = parseListenEndpoint(http.endpoint);
      this.http = new OtlpHttpServer({ host, port, maxBodyBytes: parseSize(http.max_request_body_size), ctx, logger: settings.logger });
    }
  }

  /** Ports actually bound (differs from the config with port 0). */
  get ports(): { grpc: number | undefined; http: number | undefined } {
    return { grpc: this.grpc?.port, http: this.http?.port };
  }

  async start(): Promise<void> {
    if (this.state !== 'new') return;
    this.state = 'started';
    const bind = async (name: string, server: { listen(): Promise<void> } | undefined): Promise<void> => {
      if (!server) return;
      try {
        await server.listen();
      } catch (err) {
        throw new SondeError('SONDE_COMPONENT_START_FAILED', `${this.settings.id.key}: cannot listen for OTLP/${name}: ${(err as Error).message}`, {
          hint: `Another process may hold the port; change protocols.${name}.endpoint.`,
          cause: err,
        });
      }
    };
    try {
      await bind('grpc', this.grpc);
      await bind('http', this.http);
    } catch (err) {
      await this.shutdown();
      throw err;
    }
    this.settings.logger.info({ receiver: this.settings.id.key, ...this.ports }, 'otlp receiver listening');
  }

  async shutdown(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    await Promise.all([this.grpc?.close(), this.http?.close()]);
  }
}
