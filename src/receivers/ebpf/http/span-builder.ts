// One OTLP-shaped span per HTTP exchange, with the attributes of docs/conventions.md:
// SERVER spans from "request read -> response written", CLIENT spans from "request written ->
// response read". A valid traceparent puts the span in the caller's trace under its parent.

import type { Attributes, Span } from '../../../pdata/types.js';
import { SpanKind, StatusCode } from '../../../pdata/types.js';
import type { HttpExchange } from './decoder.js';
import { ROLE_SERVER } from './event-layout.js';
import type { IdGenerator } from './ids.js';
import { splitHost } from './request-head.js';
import { parseTraceParent } from './traceparent.js';

export interface SpanBuildOptions {
  ids: IdGenerator;
  /** Kernel CLOCK_MONOTONIC ns -> Unix epoch ns. */
  toUnixNs(monotonicNs: bigint): bigint;
  keepQuery: boolean;
}

/** server.address / server.port: the Host header when present, else the socket. */
export function serverEndpoint(ex: HttpExchange): { address: string; port: number } {
  const socketAddress = ex.role === ROLE_SERVER ? ex.localAddress : ex.remoteAddress;
  const socketPort = ex.role === ROLE_SERVER ? ex.localPort : ex.remotePort;
  if (ex.request.host) {
    const h = splitHost(ex.request.host);
    return { address: h.address || socketAddress, port: h.port ?? socketPort };
  }
  return { address: socketAddress, port: socketPort };
}

export function buildSpan(ex: HttpExchange, route: string | undefined, options: SpanBuildOptions): Span {
  const server = ex.role === ROLE_SERVER;
  const req = ex.request;
  const endpoint = serverEndpoint(ex);
  const attributes: Attributes = {
    'http.request.method': req.method,
    'http.response.status_code': ex.status,
    'url.path': req.path,
    'server.address': endpoint.address,
    'server.port': endpoint.port,
    'network.peer.address': ex.remoteAddress,
    'network.peer.port': ex.remotePort,
  };
  if (req.protocolVersion !== undefined) attributes['network.protocol.version'] = req.protocolVersion;
  if (route !== undefined) attributes['http.route'] = route;
  if (server) attributes['client.address'] = ex.remoteAddress;
  if (options.keepQuery && req.query !== undefined) attributes['url.query'] = req.query;
  if (req.headers) {
    for (const name in req.headers) attributes[`http.request.header.${name}`] = [req.headers[name]!];
  }

  // Semantic conventions: 5xx is an error on both sides; 4xx only for clients.
  const error = ex.status >= 500 || (!server && ex.status >= 400);
  const parent = req.traceparent ? parseTraceParent(req.traceparent) : undefined;
  const span: Span = {
    traceId: parent ? parent.traceId : options.ids.traceId(),
    spanId: options.ids.spanId(),
    name: route !== undefined ? `${req.method} ${route}` : req.method,
    kind: server ? SpanKind.SERVER : SpanKind.CLIENT,
    startTimeUnixNano: options.toUnixNs(ex.startNs),
    endTimeUnixNano: options.toUnixNs(ex.endNs),
    attributes,
    events: [],
    links: [],
    status: error ? { code: StatusCode.ERROR } : { code: StatusCode.UNSET },
  };
  if (parent) {
    span.parentSpanId = parent.parentSpanId;
    span.flags = parent.flags;
  }
  return span;
}
