// Reads a BPF_MAP_TYPE_RINGBUF map straight from its mmap'd pages, on the main thread, without
// ever blocking the event loop.
//
// - Wake-up: libuv polls the map fd (koffi.node.poll, i.e. epoll inside the event loop, no
//   thread); the kernel makes it readable when a producer asks for a wake-up. Producers use
//   adaptive wakeup (bpf/common.h), so a timer (pollIntervalMs) picks up records committed
//   without one.
// - Consumption: records are read in batches of at most maxBatch; when more remain the rest is
//   taken on the next turn (setImmediate), so timers and I/O keep running in between.
// - No per-record allocation: the handler gets one DataView over the whole data area plus the
//   record's offset and length. The data area is mapped twice in a row by the kernel, so a record
//   that wraps around the end is still contiguous. The view is only valid during the call.
//
// libbpf 1.1 has no accessor for the ring's mapping (ring_buffer__ring is 1.3+), and a JS
// callback inside ring_buffer__consume costs 2-4x more per event, so the ring is mapped here.
import koffi from 'koffi';
import { getLibc } from './bindings.js';
import { bpfError, errnoName } from './errors.js';

export type RecordHandler = (view: DataView, offset: number, length: number) => void;

export interface RingReaderOptions {
  /** The ring buffer map's fd (BpfMap.fd after load). */
  mapFd: number;
  /** The map's max_entries: its data size in bytes (a power of two). */
  size: number;
  handler: RecordHandler;
  /** How often to look for records committed without a wake-up. Default 100 ms. */
  pollIntervalMs?: number;
  /** Records per event-loop turn before yielding. Default 4096. */
  maxBatch?: number;
  /** Called when the handler throws (the record is skipped, reading goes on). */
  onHandlerError?: (err: unknown) => void;
}

export interface RingReaderStats {
  records: number;
  batches: number;
  wakeups: number;
  handlerErrors: number;
}

const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
const SC_PAGESIZE = 30;
const BUSY_BIT = 0x80000000;
const DISCARD_BIT = 0x40000000;
const LEN_MASK = 0x3fffffff;
const HEADER = 8;
const MAP_FAILED = 0xffffffffffffffffn;

export class RingReader {
  readonly stats: RingReaderStats = { records: 0, batches: 0, wakeups: 0, handlerErrors: 0 };
  private readonly size: number;
  private readonly pageSize: number;
  private consumerPtr: bigint | null = null;
  private producerPtr: bigint | null = null;
  private readonly consumerPos: BigUint64Array;
  private readonly producerPos: BigUint64Array;
  private readonly headers: Uint32Array;
  private readonly data: DataView;
  private cons: number;
  private poll: ReturnType<typeof koffi.node.poll> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private continuation: NodeJS.Immediate | undefined;
  private closed = false;
  private readonly handler: RecordHandler;
  private readonly maxBatch: number;
  private readonly pollIntervalMs: number;
  private readonly onHandlerError: ((err: unknown) => void) | undefined;

  constructor(options: RingReaderOptions) {
    const { size } = options;
    if (!Number.isInteger(size) || size <= 0 || (size & (size - 1)) !== 0) {
      throw bpfError('SONDE_BPF_MAP_FAILED', `ring buffer size ${size} is not a power of two`);
    }
    this.size = size;
    this.handler = options.handler;
    this.maxBatch = options.maxBatch ?? 4096;
    this.pollIntervalMs = options.pollIntervalMs ?? 100;
    this.onHandlerError = options.onHandlerError;
    const libc = getLibc();
    this.pageSize = Number(libc.sysconf(SC_PAGESIZE));

    // Page 0: consumer position (ours to write). Then the producer page and the data, twice.
    koffi.errno(0);
    const cons = libc.mmap(null, this.pageSize, PROT_READ | PROT_WRITE, MAP_SHARED, options.mapFd, 0) as bigint | null;
    if (cons === null || cons === MAP_FAILED) throw bpfError('SONDE_BPF_MAP_FAILED', `mmap of ring buffer consumer page failed: ${errnoName(koffi.errno())}`);
    this.consumerPtr = cons;
    const prodLen = this.pageSize + 2 * size;
    const prod = libc.mmap(null, prodLen, PROT_READ, MAP_SHARED, options.mapFd, this.pageSize) as bigint | null;
    if (prod === null || prod === MAP_FAILED) {
      libc.munmap(cons, this.pageSize);
      this.consumerPtr = null;
      throw bpfError('SONDE_BPF_MAP_FAILED', `mmap of ring buffer data failed: ${errnoName(koffi.errno())}`);
    }
    this.producerPtr = prod;

    this.consumerPos = new BigUint64Array(koffi.view(cons, this.pageSize), 0, 1);
    const prodBuf = koffi.view(prod, prodLen);
    this.producerPos = new BigUint64Array(prodBuf, 0, 1);
    this.headers = new Uint32Array(prodBuf, this.pageSize, (2 * size) / 4);
    this.data = new DataView(prodBuf, this.pageSize, 2 * size);
    this.cons = Number(Atomics.load(this.consumerPos, 0));
    this.mapFd = options.mapFd;
  }

  private readonly mapFd: number;

  /** Starts waiting for the kernel's wake-ups and the straggler timer. */
  start(): void {
    if (this.closed || this.poll) return;
    // Spurious calls are harmless (e.g. right after an fd number is reused): we just read early.
    this.poll = koffi.node.poll(this.mapFd, { readable: true }, () => {
      this.stats.wakeups++;
      this.schedule();
    });
    this.timer = setInterval(() => this.schedule(), this.pollIntervalMs);
    this.timer.unref();
  }

  /** Bytes written by producers and not yet consumed. */
  pending(): number {
    if (this.closed) return 0;
    return Number(Atomics.load(this.producerPos, 0)) - this.cons;
  }

  /**
   * Consumes up to `max` records now, synchronously; returns how many were handed to the handler.
   * Stops early at a record still being written (busy).
   */
  consume(max = this.maxBatch): number {
    if (this.closed) return 0;
    const size = this.size;
    const headers = this.headers;
    const data = this.data;
    const handler = this.handler;
    let cons = this.cons;
    let prod = Number(Atomics.load(this.producerPos, 0));
    let n = 0;
    while (cons < prod && n < max) {
      const off = cons % size;
      const hdr = Atomics.load(headers, off >>> 2);
      if ((hdr & BUSY_BIT) !== 0) break;
      const len = hdr & LEN_MASK;
      cons += (len + HEADER + 7) & ~7;
      if ((hdr & DISCARD_BIT) === 0) {
        n++;
        try {
          handler(data, off + HEADER, len);
        } catch (err) {
          this.stats.handlerErrors++;
          this.onHandlerError?.(err);
        }
      }
      if (cons >= prod) prod = Number(Atomics.load(this.producerPos, 0));
    }
    if (cons !== this.cons) {
      this.cons = cons;
      Atomics.store(this.consumerPos, 0, BigInt(cons)); // frees the space for producers
    }
    if (n > 0) {
      this.stats.records += n;
      this.stats.batches++;
    }
    return n;
  }

  private schedule(): void {
    if (this.closed || this.continuation) return;
    const n = this.consume();
    if (n >= this.maxBatch && this.pending() > 0) {
      // More is waiting: continue on the next turn so the event loop keeps breathing.
      this.continuation = setImmediate(() => {
        this.continuation = undefined;
        this.schedule();
      });
    }
  }

  /** Stops waiting, cancels pending work and unmaps the ring. Idempotent; call before closing the map. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.poll) {
      this.poll.stop();
      this.poll.close();
      this.poll = undefined;
    }
    if (this.timer) clearInterval(this.timer);
    if (this.continuation) clearImmediate(this.continuation);
    this.timer = undefined;
    this.continuation = undefined;
    const libc = getLibc();
    if (this.producerPtr !== null) libc.munmap(this.producerPtr, this.pageSize + 2 * this.size);
    if (this.consumerPtr !== null) libc.munmap(this.consumerPtr, this.pageSize);
    this.producerPtr = null;
    this.consumerPtr = null;
  }
}
