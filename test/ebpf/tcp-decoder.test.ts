// The TCP record decoder on hand-built records: fields at their offsets, and every kind of
// garbage refused with a reason instead of thrown.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TCP_EVENT_SIZE, createTcpEvent, decodeTcpEvent, formatAddress, OFF } from '../../src/receivers/ebpf/tcp/tcp-event.js';
import { readCapabilities } from '../../src/receivers/ebpf/libbpf/host.js';
import { buildRecord } from './tcp-records.js';

describe('decodeTcpEvent', () => {
  it('reads every field at its fixed offset, also inside a larger view', () => {
    const view = new DataView(new ArrayBuffer(64 + TCP_EVENT_SIZE));
    buildRecord({ type: 3, pid: 777, family: 2, direction: 2, localPort: 8080, remotePort: 51000, durationNs: 2_500_000_000, bytesSent: 2 ** 40 + 5, bytesReceived: 42 }, view, 64);
    const ev = createTcpEvent();
    expect(decodeTcpEvent(view, 64, TCP_EVENT_SIZE, ev)).toBeNull();
    expect(ev).toMatchObject({ type: 3, pid: 777, family: 2, direction: 2, localPort: 8080, remotePort: 51000, durationNs: 2_500_000_000, bytesSent: 2 ** 40 + 5, bytesReceived: 42, offset: 64 });
  });

  it('refuses short records, wrong magic, unknown versions, types and sizes, and bad fields', () => {
    const ev = createTcpEvent();
    expect(decodeTcpEvent(buildRecord({ type: 1 }), 0, 8, ev)).toBe('short');
    expect(decodeTcpEvent(buildRecord({ type: 1, magic: 0x1234 }), 0, TCP_EVENT_SIZE, ev)).toBe('magic');
    expect(decodeTcpEvent(buildRecord({ type: 1, version: 2 }), 0, TCP_EVENT_SIZE, ev)).toBe('version');
    expect(decodeTcpEvent(buildRecord({ type: 9 }), 0, TCP_EVENT_SIZE, ev)).toBe('type');
    expect(decodeTcpEvent(buildRecord({ type: 1, size: 100 }), 0, TCP_EVENT_SIZE, ev)).toBe('size');
    expect(decodeTcpEvent(buildRecord({ type: 1 }), 0, 100, ev)).toBe('size');
    expect(decodeTcpEvent(buildRecord({ type: 1, family: 7 as 2 }), 0, TCP_EVENT_SIZE, ev)).toBe('field');
    expect(decodeTcpEvent(buildRecord({ type: 1, outcome: 6 }), 0, TCP_EVENT_SIZE, ev)).toBe('field');
  });

  it('never throws on arbitrary bytes', () => {
    const ev = createTcpEvent();
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), fc.nat(300), (bytes, len) => {
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        const r = decodeTcpEvent(view, 0, Math.min(len, bytes.byteLength), ev);
        expect(r === null || typeof r === 'string').toBe(true);
      }),
    );
  });

  it('formats IPv4, IPv6 (RFC 5952) and IPv4-mapped addresses', () => {
    const v = new DataView(new ArrayBuffer(16));
    [127, 0, 0, 1].forEach((b, i) => v.setUint8(i, b));
    expect(formatAddress(v, 0, 2)).toBe('127.0.0.1');
    const v6 = new DataView(new ArrayBuffer(16));
    v6.setUint8(15, 1);
    expect(formatAddress(v6, 0, 10)).toBe('::1');
    const doc = new DataView(new ArrayBuffer(16));
    [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10].forEach((b, i) => doc.setUint8(i, b));
    expect(formatAddress(doc, 0, 10)).toBe('2001:db8::10');
    const mapped = new DataView(new ArrayBuffer(16));
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3].forEach((b, i) => mapped.setUint8(i, b));
    expect(formatAddress(mapped, 0, 10)).toBe('10.1.2.3');
    expect(OFF.comm).toBe(112);
  });
});

describe('readCapabilities', () => {
  it('reads CAP_BPF, CAP_PERFMON, CAP_DAC_READ_SEARCH, CAP_NET_ADMIN and CAP_SYS_ADMIN from CapEff', () => {
    expect(readCapabilities('CapEff:\t000001fffeffffff\n')).toEqual({ CAP_BPF: true, CAP_PERFMON: true, CAP_DAC_READ_SEARCH: true, CAP_NET_ADMIN: true, CAP_SYS_ADMIN: true });
    expect(readCapabilities('CapEff:\t0000000000000000\n')).toEqual({ CAP_BPF: false, CAP_PERFMON: false, CAP_DAC_READ_SEARCH: false, CAP_NET_ADMIN: false, CAP_SYS_ADMIN: false });
    // CAP_BPF (39) + CAP_PERFMON (38) + CAP_NET_ADMIN (12) only
    expect(readCapabilities(`CapEff:\t${((1n << 39n) | (1n << 38n) | (1n << 12n)).toString(16)}\n`)).toEqual({ CAP_BPF: true, CAP_PERFMON: true, CAP_DAC_READ_SEARCH: false, CAP_NET_ADMIN: true, CAP_SYS_ADMIN: false });
  });
});
