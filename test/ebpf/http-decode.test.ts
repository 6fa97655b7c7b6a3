import { describe, expect, it } from 'vitest';
import { decodeHttpEvent } from '../../src/receivers/ebpf/http/decoder.js';
import * as L from '../../src/receivers/ebpf/http/event-layout.js';
import { parseRequestHead, splitHost } from '../../src/receivers/ebpf/http/request-head.js';
import { parseTraceParent } from '../../src/receivers/ebpf/http/traceparent.js';
import { buildRecord } from './http-record.js';

const none = new Set<string>();
const head = (s: string, keep = none) => parseRequestHead(Buffer.from(s, 'latin1'), Buffer.byteLength(s, 'latin1'), keep);

describe('http event decoder', () => {
  it('decodes every field at its offset', () => {
    // Fields the decoder passes through unchanged, written into the record and expected back.
    const verbatim = { role: L.ROLE_CLIENT, status: 404, startNs: 10n, endNs: 25n, tgid: 99, pid: 100, fd: 12, localPort: 40000, remotePort: 80, comm: 'curl' };
    const r = buildRecord({
      ...verbatim,
      local: [10, 0, 0, 1],
      remote: [192, 168, 1, 9],
      request: 'DELETE /a/b?x=1 HTTP/1.0\r\nHost: example.com\r\n\r\n',
    });
    const d = decodeHttpEvent(r.view, r.offset, r.length);
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    const e = d.exchange;
    expect(e).toMatchObject({
      ...verbatim,
      localAddress: '10.0.0.1',
      remoteAddress: '192.168.1.9',
      truncated: false,
    });
    expect(e.request).toEqual({ method: 'DELETE', path: '/a/b', query: 'x=1', protocolVersion: '1.0', host: 'example.com', traceparent: undefined, headers: undefined });
  });

  it('formats IPv6 and unmaps IPv4-mapped addresses', () => {
    const loop6 = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const mapped = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1];
    const r = buildRecord({ family: L.AF_INET6, local: loop6, remote: mapped });
    const d = decodeHttpEvent(r.view, r.offset, r.length);
    expect(d.ok && d.exchange.localAddress).toBe('::1');
    expect(d.ok && d.exchange.remoteAddress).toBe('127.0.0.1');
    const r2 = buildRecord({ family: L.AF_INET6, local: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2] });
    const d2 = decodeHttpEvent(r2.view, r2.offset, r2.length);
    expect(d2.ok && d2.exchange.localAddress).toBe('2001:db8::1:0:0:2');
  });

  it.each([
    ['unknown_version', { version: 2 }],
    ['unknown_type', { type: 1 }],
    ['bad_magic', { magic: 0x1234 }],
    ['bad_size', { size: 100 }],
    ['bad_size', { reqLen: 600 }],
    ['bad_role', { role: 0 }],
    ['bad_family', { family: 1 }],
    ['bad_times', { startNs: 50n, endNs: 10n }],
    ['bad_request_line', { request: 'GARBAGE\r\n\r\n' }],
    ['bad_request_line', { request: 'GET /x HTTP/2.0\r\n\r\n' }],
  ] as const)('rejects %s without throwing (%o)', (reason, fields) => {
    const r = buildRecord(fields);
    const d = decodeHttpEvent(r.view, r.offset, r.length);
    expect(d).toEqual({ ok: false, reason });
  });

  it('decodes a variable-length record (fixed part + req_len bytes), as the kernel sends them', () => {
    const head = 'GET /short HTTP/1.1\r\nHost: a\r\n\r\n';
    const r = buildRecord({ request: head, size: L.OFF_REQ + head.length });
    const d = decodeHttpEvent(r.view, r.offset, L.OFF_REQ + head.length);
    expect(d.ok && d.exchange.request.path).toBe('/short');
    // req_len pointing past the record's end, or a size beyond the largest record: refused
    const past = buildRecord({ request: head, size: L.OFF_REQ + head.length, reqLen: head.length + 1 });
    expect(decodeHttpEvent(past.view, past.offset, L.OFF_REQ + head.length)).toEqual({ ok: false, reason: 'bad_size' });
    const big = buildRecord({ size: L.HTTP_EVENT_SIZE + 8 });
    expect(decodeHttpEvent(big.view, big.offset, L.HTTP_EVENT_SIZE + 8)).toEqual({ ok: false, reason: 'bad_size' });
  });

  it('rejects a record shorter than its declared size', () => {
    const r = buildRecord();
    expect(decodeHttpEvent(r.view, r.offset, r.length - 1)).toEqual({ ok: false, reason: 'bad_size' });
    expect(decodeHttpEvent(r.view, r.offset, 8)).toEqual({ ok: false, reason: 'short_record' });
  });

  it('survives random bytes', () => {
    const buf = new Uint8Array(L.HTTP_EVENT_SIZE);
    let seed = 1;
    for (let round = 0; round < 500; round++) {
      for (let i = 0; i < buf.length; i++) buf[i] = (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
      // keep a valid header half of the time so the body checks get exercised
      if (round % 2 === 0) {
        buf[0] = 0xde; buf[1] = 0x53; buf[2] = 1; buf[3] = 32; buf[4] = L.HTTP_EVENT_SIZE & 0xff; buf[5] = L.HTTP_EVENT_SIZE >> 8;
      }
      const d = decodeHttpEvent(new DataView(buf.buffer), 0, buf.length);
      expect(typeof d.ok).toBe('boolean');
    }
  });
});

describe('request head parser', () => {
  it('reads method, path, version, Host and traceparent, and drops the query from the path', () => {
    const h = head('GET /users/123?token=secret HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: x\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\nBODY');
    expect(h).toMatchObject({ method: 'GET', path: '/users/123', query: 'token=secret', protocolVersion: '1.1', host: '127.0.0.1:8080', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
    expect(h?.headers).toBeUndefined();
  });

  it('keeps only the headers asked for, and never reads past the blank line', () => {
    const h = head('POST /x HTTP/1.1\r\nX-Request-Id: abc\r\nCookie: s=1\r\n\r\nX-Request-Id: body\r\n', new Set(['x-request-id']));
    expect(h?.headers).toEqual({ 'x-request-id': 'abc' });
  });

  it('ignores a header line cut by the prefix cap', () => {
    const h = head('GET / HTTP/1.1\r\nHost: a\r\ntraceparent: 00-0af7651916cd43dd84');
    expect(h?.traceparent).toBeUndefined();
    expect(h?.host).toBe('a');
  });

  it('accepts a request line longer than the copied prefix only when the copy was cut', () => {
    const long = `GET /search?q=${'x'.repeat(600)} HTTP/1.1\r\n\r\n`;
    const cut = Buffer.from(long.slice(0, 512), 'latin1');
    expect(parseRequestHead(cut, 512, none, true)).toMatchObject({ method: 'GET', path: '/search', protocolVersion: undefined });
    expect(parseRequestHead(cut, 512, none, false)).toBeUndefined();
    expect(head('GET /no-version\r\n\r\n')).toBeUndefined();
    const r = buildRecord({ request: long, flags: L.FLAG_REQ_TRUNCATED });
    const d = decodeHttpEvent(r.view, r.offset, r.length);
    expect(d.ok && d.exchange.request.path).toBe('/search');
    expect(d.ok && d.exchange.truncated).toBe(true);
  });

  it('takes the path of an absolute-form target', () => {
    expect(head('GET http://example.com/p?q HTTP/1.1\r\n\r\n')).toMatchObject({ path: '/p', query: 'q' });
  });

  it('splits Host values', () => {
    expect(splitHost('127.0.0.1:8080')).toEqual({ address: '127.0.0.1', port: 8080 });
    expect(splitHost('[::1]:81')).toEqual({ address: '::1', port: 81 });
    expect(splitHost('example.com')).toEqual({ address: 'example.com', port: undefined });
  });
});

describe('traceparent', () => {
  it('accepts a valid header and rejects malformed ones', () => {
    expect(parseTraceParent('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')).toEqual({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      parentSpanId: 'b7ad6b7169203331',
      flags: 1,
    });
    expect(parseTraceParent('00-00000000000000000000000000000000-b7ad6b7169203331-01')).toBeUndefined();
    expect(parseTraceParent('00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01')).toBeUndefined();
    expect(parseTraceParent('ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')).toBeUndefined();
    expect(parseTraceParent('00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01')).toBeUndefined();
    expect(parseTraceParent('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra')).toBeUndefined();
    expect(parseTraceParent('01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra')).toMatchObject({ flags: 1 });
  });
});
