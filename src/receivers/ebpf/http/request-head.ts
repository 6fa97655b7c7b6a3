// Parses the request head prefix the kernel copied: request line, Host, traceparent, and any
// header the user asked to keep. Bodies are never looked at: parsing stops at the blank line.

export interface RequestHead {
  method: string;
  /** Path without the query string. */
  path: string;
  /** The query string without '?', or undefined when there is none. */
  query: string | undefined;
  /** "1.0" or "1.1"; undefined when the request line was longer than the copied prefix. */
  protocolVersion: string | undefined;
  host: string | undefined;
  traceparent: string | undefined;
  /** Lowercase header name -> value, only for the names asked for. */
  headers: Record<string, string> | undefined;
}

const METHODS = new Set(['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'PATCH', 'OPTIONS', 'CONNECT', 'TRACE']);

/** Case-insensitive match of head[from, from+name.length) against a lowercase name. */
function nameIs(head: string, from: number, to: number, name: string): boolean {
  if (to - from !== name.length) return false;
  for (let i = 0; i < name.length; i++) {
    let c = head.charCodeAt(from + i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== name.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Returns undefined when the bytes do not start with a well-formed HTTP/1.x request line.
 * `keepHeaders` lists lowercase header names to return in `headers` (empty: none). `truncated`
 * says the kernel's copy was cut at its cap, so a request line without an end is acceptable.
 */
export function parseRequestHead(bytes: Uint8Array, length: number, keepHeaders: ReadonlySet<string>, truncated = false): RequestHead | undefined {
  // One string for the whole prefix (latin1: one char per byte); the pieces below are slices of it.
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, length).toString('latin1');
  const first = head.indexOf('\n');
  // A request line cut by the prefix cap is still usable when the target is complete.
  let lineStop = first < 0 ? length : first;
  if (lineStop > 0 && head.charCodeAt(lineStop - 1) === 13) lineStop--;
  const sp1 = head.indexOf(' ');
  if (sp1 <= 0 || sp1 >= lineStop) return undefined;
  const method = head.slice(0, sp1);
  if (!METHODS.has(method)) return undefined;
  let sp2 = head.indexOf(' ', sp1 + 1);
  if (sp2 >= lineStop) sp2 = -1;
  let version: string | undefined;
  if (sp2 >= 0) {
    version = head.slice(sp2 + 1, lineStop);
    if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0') return undefined;
  } else if (first >= 0 || !truncated) {
    return undefined; // a complete line without a version is not HTTP/1.x
  }
  // A line longer than the prefix (long query string): the target is what was copied.
  const target = head.slice(sp1 + 1, sp2 >= 0 ? sp2 : lineStop);
  if (target.length === 0) return undefined;

  let pathAndQuery: string;
  const c0 = target.charCodeAt(0);
  if (c0 === 47 /* / */ || target === '*') {
    pathAndQuery = target;
  } else if (/^https?:\/\//i.test(target)) {
    // absolute-form (forward proxies): keep only the path
    const slash = target.indexOf('/', target.indexOf('//') + 2);
    pathAndQuery = slash < 0 ? '/' : target.slice(slash);
  } else if (method === 'CONNECT') {
    pathAndQuery = target; // authority-form
  } else {
    return undefined;
  }
  const q = pathAndQuery.indexOf('?');
  const hash = pathAndQuery.indexOf('#');
  const pathEnd = q >= 0 ? q : hash >= 0 ? hash : pathAndQuery.length;
  const path = pathEnd === pathAndQuery.length ? pathAndQuery : pathAndQuery.slice(0, pathEnd);
  const query = q >= 0 ? pathAndQuery.slice(q + 1, hash > q ? hash : undefined) : undefined;

  const result: RequestHead = {
    method,
    path,
    query,
    protocolVersion: version === undefined ? undefined : version === 'HTTP/1.1' ? '1.1' : '1.0',
    host: undefined,
    traceparent: undefined,
    headers: undefined,
  };
  if (first < 0) return result;

  // Header lines: only complete ones (ending in LF) count; stop at the blank line.
  const keep = keepHeaders.size > 0;
  let pos = first + 1;
  while (pos < length) {
    const eol = head.indexOf('\n', pos);
    if (eol < 0) break;
    let stop = eol;
    if (stop > pos && head.charCodeAt(stop - 1) === 13) stop--;
    if (stop === pos) break; // end of the head
    const colon = head.indexOf(':', pos);
    if (colon > pos && colon < stop) {
      if (nameIs(head, pos, colon, 'host')) result.host = head.slice(colon + 1, stop).trim();
      else if (nameIs(head, pos, colon, 'traceparent')) result.traceparent = head.slice(colon + 1, stop).trim();
      if (keep) {
        const name = head.slice(pos, colon).toLowerCase();
        if (keepHeaders.has(name)) (result.headers ??= {})[name] = head.slice(colon + 1, stop).trim();
      }
    }
    pos = eol + 1;
  }
  return result;
}

/** Splits a Host header value into host and port ("[::1]:8080", "example.com", "1.2.3.4:80"). */
export function splitHost(host: string): { address: string; port: number | undefined } {
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    if (close < 0) return { address: host, port: undefined };
    const port = host[close + 1] === ':' ? Number(host.slice(close + 2)) : undefined;
    return { address: host.slice(1, close), port: port !== undefined && Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined };
  }
  const colon = host.lastIndexOf(':');
  if (colon < 0 || host.indexOf(':') !== colon) return { address: host, port: undefined };
  const port = Number(host.slice(colon + 1));
  return { address: host.slice(0, colon), port: Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined };
}
