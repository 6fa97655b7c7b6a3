// Fake OTLP backends for exporter tests, on 127.0.0.1: a grpc-js server for both Export methods
// (bytes passed through untouched, so each test decides what goes on the wire), and a logger
// that keeps what the exporter logs.
import { Server, ServerCredentials, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import { pino } from 'pino';
import { GRPC_EXPORT_METHODS } from '../../src/exporters/otlp/grpc-exporter.js';
import type { Signal } from '../../src/pdata/types.js';
import type { Logger } from '../../src/telemetry/logger.js';
import { freePort } from '../helpers/free-port.js';

export type GrpcExportHandler = (signal: Signal, request: Buffer, call: ServerUnaryCall<Buffer, Buffer>) => Buffer;

export interface GrpcBackend {
  port: number;
  endpoint: string;
  close(): void;
}

/** A gRPC server answering both OTLP Export methods with what `handle` returns. */
export async function startGrpcBackend(creds: ServerCredentials, handle: GrpcExportHandler): Promise<GrpcBackend> {
  const server = new Server();
  const raw = { requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b };
  for (const signal of ['traces', 'metrics'] as const) {
    server.addService(
      { Export: { path: GRPC_EXPORT_METHODS[signal], requestStream: false, responseStream: false, ...raw } },
      {
        Export: (call: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>) => {
          try {
            cb(null, handle(signal, call.request, call));
          } catch (err) {
            cb(err as Error);
          }
        },
      },
    );
  }
  const port = await freePort();
  await new Promise<void>((resolve, reject) => server.bindAsync(`127.0.0.1:${port}`, creds, (err) => (err ? reject(err) : resolve())));
  return { port, endpoint: `127.0.0.1:${port}`, close: () => server.forceShutdown() };
}

/** A pino logger keeping every line (as parsed JSON) in `lines`. */
export function captureLogger(level: 'debug' | 'info' | 'warn' = 'debug'): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}
