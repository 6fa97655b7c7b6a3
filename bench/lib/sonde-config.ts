// The pipeline config the benchmarks run: receivers -> batch -> otlp exporter (to the Go sink),
// for traces and metrics, with the parts every bench shares written once here.
import { stringify } from 'yaml';

/** Whose config: Sonde (admin endpoint on `admin`) or the OpenTelemetry Collector (own metrics off). */
export type BenchTarget = { kind: 'sonde'; admin: string } | { kind: 'collector' };

export interface BenchConfigOptions {
  target: BenchTarget;
  /** host:port of the sink's OTLP/gRPC listener. */
  sinkAddr: string;
  /** Receivers listed before the OTLP one, by name (e.g. `ebpf: ebpfBenchReceiver(port)`). */
  receivers?: Record<string, unknown>;
  /** Adds the OTLP receiver, gRPC only, on 127.0.0.1:otlpPort. */
  otlpPort?: number;
  /** The otlp exporter's compression; omitted = the exporter's default (gzip). */
  compression?: string;
}

/** The eBPF receiver capturing only `port` and not the load generators' own side. */
export function ebpfBenchReceiver(port: number): Record<string, unknown> {
  return { collection_interval: '1s', include: { ports: [port] }, exclude: { processes: ['wrk', 'otlpbench'] } };
}

/** YAML for `sonde run --config` or `otelcol --config`; every receiver feeds both pipelines. */
export function sondeBenchConfig(o: BenchConfigOptions): string {
  const receivers: Record<string, unknown> = { ...o.receivers };
  if (o.otlpPort !== undefined) {
    const grpc = { endpoint: `127.0.0.1:${o.otlpPort}` };
    // The Collector serves only the protocols listed; Sonde's otlp receiver enables HTTP by default.
    receivers.otlp = { protocols: o.target.kind === 'sonde' ? { grpc, http: { enabled: false } } : { grpc } };
  }
  // A fresh object per pipeline: shared ones would be written as YAML anchors and aliases.
  const pipeline = () => ({ receivers: Object.keys(receivers), processors: ['batch'], exporters: ['otlp'] });
  const metrics = o.target.kind === 'sonde' ? { address: o.target.admin } : { level: 'none' };
  return stringify({
    receivers,
    processors: { batch: {} },
    exporters: {
      otlp: { endpoint: o.sinkAddr, tls: { insecure: true }, ...(o.compression !== undefined && { compression: o.compression }) },
    },
    service: {
      telemetry: { logs: { level: 'warn' }, metrics },
      pipelines: { traces: pipeline(), metrics: pipeline() },
    },
  });
}
