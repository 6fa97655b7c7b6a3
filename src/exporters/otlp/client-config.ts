// Connection settings shared by the otlp (gRPC) and otlphttp exporters: TLS, headers, compression.
import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import type { JsonSchema } from '../../component/types.js';
import { permanentError } from '../../errors/index.js';

export interface TlsConfig {
  insecure: boolean;
  insecure_skip_verify: boolean;
  ca_file?: string;
  cert_file?: string;
  key_file?: string;
}

export type Compression = 'gzip' | 'none';

export interface ClientConfig {
  endpoint: string;
  tls: TlsConfig;
  headers: Record<string, string>;
  compression: Compression;
}

export function defaultTlsConfig(): TlsConfig {
  return { insecure: false, insecure_skip_verify: false };
}

export function clientSchemaProperties(transport: 'grpc' | 'http'): Record<string, JsonSchema> {
  return {
    tls: {
      type: 'object',
      description: 'TLS towards the backend.',
      default: defaultTlsConfig(),
      additionalProperties: false,
      properties: {
        insecure: {
          type: 'boolean',
          description:
            transport === 'grpc'
              ? 'Plain-text gRPC, no TLS (for a local collector or Jaeger). An endpoint starting with http:// is plain text too.'
              : 'Ignored by otlphttp: the endpoint scheme decides (http:// is plain text, https:// uses TLS).',
          default: false,
        },
        insecure_skip_verify: { type: 'boolean', description: 'Use TLS but do not verify the server certificate. For testing only.', default: false },
        ca_file: { type: 'string', minLength: 1, description: 'PEM file with the CA certificate(s) that sign the server certificate; the system roots when unset.' },
        cert_file: { type: 'string', minLength: 1, description: 'PEM client certificate for mutual TLS; needs key_file.' },
        key_file: { type: 'string', minLength: 1, description: 'PEM private key of cert_file.' },
      },
    },
    headers: {
      type: 'object',
      description: 'Extra headers sent with every request (gRPC metadata for otlp), e.g. an authorization token: `authorization: Bearer ${env:TOKEN}`.',
      default: {},
      additionalProperties: { type: 'string' },
    },
    compression: {
      enum: ['gzip', 'none'],
      description: 'Compression of request bodies.',
      default: 'gzip',
    },
  };
}

export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** Reads the TLS files once at start; relative paths are resolved against the config directory. */
export async function loadTlsMaterial(tls: TlsConfig, configDir: string): Promise<TlsMaterial> {
  if ((tls.cert_file === undefined) !== (tls.key_file === undefined)) {
    throw permanentError('SONDE_OTLP_TLS_CONFIG', 'tls.cert_file and tls.key_file must be given together');
  }
  const read = async (file: string | undefined, key: string): Promise<Buffer | undefined> => {
    if (file === undefined) return undefined;
    const path = isAbsolute(file) ? file : resolve(configDir, file);
    try {
      return await readFile(path);
    } catch (err) {
      throw permanentError('SONDE_OTLP_TLS_CONFIG', `cannot read tls.${key} ${path}: ${(err as Error).message}`, { cause: err });
    }
  };
  const material: TlsMaterial = {};
  const ca = await read(tls.ca_file, 'ca_file');
  const cert = await read(tls.cert_file, 'cert_file');
  const key = await read(tls.key_file, 'key_file');
  if (ca) material.ca = ca;
  if (cert) material.cert = cert;
  if (key) material.key = key;
  return material;
}
