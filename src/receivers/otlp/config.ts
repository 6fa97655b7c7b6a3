import type { JsonSchema } from '../../component/types.js';
import { sizeSchema } from '../../config/units.js';

export interface GrpcProtocolConfig {
  enabled: boolean;
  endpoint: string;
  max_recv_msg_size: string | number;
}

export interface HttpProtocolConfig {
  enabled: boolean;
  endpoint: string;
  max_request_body_size: string | number;
}

export interface OtlpReceiverConfig {
  protocols: {
    grpc: GrpcProtocolConfig;
    http: HttpProtocolConfig;
  };
}

export const defaultGrpcConfig = (): GrpcProtocolConfig => ({ enabled: true, endpoint: '127.0.0.1:4317', max_recv_msg_size: '4MiB' });
export const defaultHttpConfig = (): HttpProtocolConfig => ({ enabled: true, endpoint: '127.0.0.1:4318', max_request_body_size: '20MiB' });

export function defaultOtlpReceiverConfig(): OtlpReceiverConfig {
  return { protocols: { grpc: defaultGrpcConfig(), http: defaultHttpConfig() } };
}

const endpointSchema = (description: string, def: string): JsonSchema => ({
  type: 'string',
  pattern: '^(\\[[0-9a-fA-F:.]+\\]|[^:\\s]+):\\d{1,5}$',
  description,
  default: def,
});

export const otlpReceiverSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    protocols: {
      type: 'object',
      description: 'Transports to listen on. Both are on by default, bound to 127.0.0.1 only; `enabled: false` turns one off.',
      default: defaultOtlpReceiverConfig().protocols,
      additionalProperties: false,
      properties: {
        grpc: {
          type: 'object',
          description: 'OTLP/gRPC (TraceService and MetricsService Export), protobuf, gzip accepted.',
          default: defaultGrpcConfig(),
          additionalProperties: false,
          properties: {
            enabled: { type: 'boolean', description: 'Listen for OTLP/gRPC.', default: true },
            endpoint: endpointSchema('host:port to listen on; use 0.0.0.0:4317 to accept other hosts.', defaultGrpcConfig().endpoint),
            max_recv_msg_size: sizeSchema('Largest request message accepted; larger ones get RESOURCE_EXHAUSTED.', defaultGrpcConfig().max_recv_msg_size),
          },
        },
        http: {
          type: 'object',
          description: 'OTLP/HTTP: POST /v1/traces and /v1/metrics, application/x-protobuf or application/json, gzip or deflate.',
          default: defaultHttpConfig(),
          additionalProperties: false,
          properties: {
            enabled: { type: 'boolean', description: 'Listen for OTLP/HTTP.', default: true },
            endpoint: endpointSchema('host:port to listen on; use 0.0.0.0:4318 to accept other hosts.', defaultHttpConfig().endpoint),
            max_request_body_size: sizeSchema('Largest request body accepted, both as sent and once decompressed; larger ones get 413.', defaultHttpConfig().max_request_body_size),
          },
        },
      },
    },
  },
};

/** Splits `host:port` / `[v6]:port`. */
export function parseListenEndpoint(endpoint: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(endpoint.trim());
  if (!m) throw new TypeError(`invalid endpoint "${endpoint}": expected host:port`);
  return { host: (m[1] ?? m[2])!, port: Number(m[3]) };
}
