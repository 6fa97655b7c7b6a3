// OTLP/gRPC receiver transport. Messages arrive as raw bytes (no generated stubs) and are
// decoded by pdata/otlp/decode.ts, so a malformed message is answered INVALID_ARGUMENT by us
// rather than failing inside grpc-js.
import {
  Server,
  ServerCredentials,
  status as GrpcStatus,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { encodeExportResponse } from '../../pdata/otlp/decode.js';
import type { Signal } from '../../pdata/types.js';
import type { Logger } from '../../telemetry/logger.js';
import { GRPC_EXPORT_METHODS } from '../../exporters/otlp/grpc-exporter.js';
import { grpcPeerAddress } from './client-address.js';
import { ingest, malformedCounter, type IngestContext } from './ingest.js';

const raw = (b: Buffer): Buffer => b;

function serviceFor(signal: Signal): ServiceDefinition {
  return {
    Export: {
      path: GRPC_EXPORT_METHODS[signal],
      requestStream: false,
      responseStream: false,
      requestSerialize: raw,
      requestDeserialize: raw,
      responseSerialize: (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength),
      responseDeserialize: raw,
    },
  } as ServiceDefinition;
}

export interface GrpcServerOptions {
  host: string;
  port: number;
  maxMessageBytes: number;
  ctx: IngestContext;
  logger: Logger;
}

export class OtlpGrpcServer {
  private server: Server | undefined;
  private boundPort: number | undefined;
  private readonly malformed;

  constructor(private readonly options: GrpcServerOptions) {
    this.malformed = malformedCounter(options.ctx.telemetry);
  }

  get port(): number | undefined {
    return this.boundPort;
  }

  async listen(): Promise<void> {
    const { ctx } = this.options;
    const server = new Server({
      'grpc.max_receive_message_length': this.options.maxMessageBytes,
    });
    for (const signal of ['traces', 'metrics'] as const) {
      // Without a pipeline for a signal the service is not registered: callers get UNIMPLEMENTED.
      if (!ctx.next[signal]) continue;
      const impl: UntypedServiceImplementation = {
        Export: (call: ServerUnaryCall<Buffer, Uint8Array>, callback: sendUnaryData<Uint8Array>) => {
          this.export(signal, call.request, grpcPeerAddress(call.getPeer()), callback).catch((err) => {
            this.options.logger.error({ err }, 'otlp receiver: unexpected error handling a gRPC call');
            callback({ code: GrpcStatus.INTERNAL, details: 'internal error' });
          });
        },
      };
      server.addService(serviceFor(signal), impl);
    }
    const address = this.options.host.includes(':') ? `[${this.options.host}]:${this.options.port}` : `${this.options.host}:${this.options.port}`;
    this.boundPort = await new Promise<number>((resolve, reject) => {
      server.bindAsync(address, ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port)));
    });
    this.server = server;
  }

  private async export(signal: Signal, request: Buffer, clientAddress: string | undefined, callback: sendUnaryData<Uint8Array>): Promise<void> {
    const outcome = await ingest(this.options.ctx, signal, request, 'protobuf', clientAddress);
    switch (outcome.kind) {
      case 'ok':
        return callback(null, encodeExportResponse(signal, 'protobuf', outcome.partial));
      case 'malformed':
        this.malformed.inc({ receiver: this.options.ctx.receiver, transport: 'grpc' });
        return callback({ code: GrpcStatus.INVALID_ARGUMENT, details: `${outcome.error.code}: ${outcome.error.message}` });
      case 'refused':
        return callback({ code: GrpcStatus.INVALID_ARGUMENT, details: `${outcome.error.code}: ${outcome.error.message}` });
      case 'unavailable':
        return callback({ code: GrpcStatus.UNAVAILABLE, details: `${outcome.error.code}: ${outcome.error.message}` });
    }
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, 2000);
      force.unref();
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }
}
