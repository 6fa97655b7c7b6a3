// The features the ebpf receiver can run, in start order. Add a feature here (one line).
import type { EbpfFeature, FeatureContext } from './feature.js';
import { TcpCapture } from './tcp/tcp-capture.js';
import { HttpFeature } from './http/http-feature.js';

export function createFeatures(ctx: FeatureContext): EbpfFeature[] {
  const out: EbpfFeature[] = [];
  if (ctx.config.tcp.enabled && ctx.signals.metrics) out.push(new TcpCapture(ctx));
  const http = ctx.config.http;
  if (http.enabled && ((http.spans && ctx.signals.traces) || (http.metrics && ctx.signals.metrics))) out.push(new HttpFeature(ctx));
  return out;
}
