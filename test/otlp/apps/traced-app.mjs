// A small Node app instrumented with the official OpenTelemetry SDK (@opentelemetry/sdk-node),
// exporting OTLP/HTTP protobuf to SONDE_OTLP_URL. It prints the spans it made as JSON on stdout
// (collected by a span processor of its own), each with its resource's attributes, so the test can
// compare them with what reaches Jaeger.
import { context, trace, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { NodeSDK, tracing } from '@opentelemetry/sdk-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';

// Collects ended spans synchronously (an exporter behind SimpleSpanProcessor would only see them
// after the SDK's asynchronous resource detection settles).
const finished = [];
const collect = { onStart() {}, onEnd(span) { finished.push(span); }, forceFlush: async () => {}, shutdown: async () => {} };
const sdk = new NodeSDK({
  serviceName: 'traced-app',
  spanProcessors: [
    new tracing.BatchSpanProcessor(new OTLPTraceExporter({ url: `${process.env.SONDE_OTLP_URL}/v1/traces` })),
    collect,
  ],
  instrumentations: [],
});
sdk.start();

const tracer = trace.getTracer('traced-app', '1.2.3');
tracer.startActiveSpan('POST /checkout', { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'POST', 'http.response.status_code': 201, 'cart.items': 3, 'cart.total': 42.5, 'user.premium': true, 'cart.skus': ['a-1', 'b-2'] } }, (root) => {
  root.addEvent('payment.authorized', { 'payment.provider': 'acme', 'payment.amount': 42.5 });
  const db = tracer.startSpan('SELECT orders', { kind: SpanKind.CLIENT, attributes: { 'db.system': 'postgresql', 'server.port': 5432 } });
  db.addEvent('rows.fetched', { rows: 7 });
  const cache = tracer.startSpan('cache.get', { attributes: { 'cache.hit': false } }, trace.setSpan(context.active(), db));
  cache.setStatus({ code: SpanStatusCode.ERROR, message: 'cache offline' });
  cache.end();
  db.end();
  root.end();
});

await sdk.shutdown();
// Resource detection may still be settling (host.id is read asynchronously): wait for it, so the
// resource printed is the one the exporter sent.
for (const s of finished) await s.resource.waitForAsyncAttributes?.();
const spans = finished.map((s) => ({
  traceId: s.spanContext().traceId,
  spanId: s.spanContext().spanId,
  parentSpanId: s.parentSpanContext?.spanId,
  name: s.name,
  kind: s.kind,
  attributes: s.attributes,
  events: s.events.map((e) => ({ name: e.name, attributes: e.attributes ?? {}, time: e.time })),
  status: s.status,
  startTime: s.startTime,
  resource: s.resource.attributes,
}));
process.stdout.write(JSON.stringify(spans));
