// A typed wrapper over libbpf's bpf_object: open (file or memory) -> configure (autoload,
// rodata, map sizes) -> load -> attach -> close. Closing is explicit; close() destroys every
// link the object's programs made, then the object (its maps and programs with it).
import koffi from 'koffi';
import type { Logger } from '../../../telemetry/logger.js';
import { SondeError } from '../../../errors/index.js';
import { BTF_KIND, getLibbpf, type LibbpfBindings, type Ptr } from './bindings.js';
import { attachError, bpfError, errnoName, loadError } from './errors.js';
import { markLibbpfLog, recentLibbpfLog, routeLibbpfLog } from './log.js';

export interface OpenOptions {
  /** Name for logs and errors (defaults to the file name). */
  name?: string;
  /** Receives libbpf's log (warn -> warn, info -> debug). */
  logger?: Logger;
}

type State = 'opened' | 'loaded' | 'closed';

/** Anything with an idempotent close(). */
export interface Closable {
  close(): void;
}

/** Closes things in reverse order of addition; one failure does not stop the rest. */
export class CloseGroup implements Closable {
  private items: Closable[] = [];
  add<T extends Closable>(item: T): T {
    this.items.push(item);
    return item;
  }
  close(): void {
    const items = this.items.reverse();
    this.items = [];
    let first: unknown;
    for (const item of items) {
      try {
        item.close();
      } catch (err) {
        first ??= err;
      }
    }
    if (first !== undefined) throw first;
  }
}

export class BpfLink implements Closable {
  private ptr: Ptr;
  constructor(
    private readonly lib: LibbpfBindings,
    ptr: bigint,
    readonly description: string,
    private readonly onClose: (link: BpfLink) => void,
  ) {
    this.ptr = ptr;
  }
  get closed(): boolean {
    return this.ptr === null;
  }
  close(): void {
    if (this.ptr === null) return;
    this.lib.bpf_link__destroy(this.ptr);
    this.ptr = null;
    this.onClose(this);
  }
}

export interface UprobeOptions {
  /** Function to resolve in the binary's symbol table (libbpf does the lookup). */
  funcName?: string;
  /** Offset in the binary (added to the function's address when funcName is given). */
  offset?: number;
  /** -1 (default): every process; otherwise only this pid. */
  pid?: number;
  retprobe?: boolean;
}

export class BpfProgram {
  constructor(
    private readonly obj: BpfObject,
    readonly ptr: bigint,
    readonly name: string,
    readonly sectionName: string,
  ) {}

  get autoload(): boolean {
    return this.obj.lib.bpf_program__autoload(this.ptr) as boolean;
  }
  set autoload(on: boolean) {
    this.obj.assertState('opened', `set autoload of ${this.name}`);
    const rc = this.obj.lib.bpf_program__set_autoload(this.ptr, on) as number;
    if (rc !== 0) throw bpfError('SONDE_BPF_LOAD_FAILED', `set autoload of ${this.name}: ${errnoName(rc)}`);
  }

  get fd(): number {
    return this.obj.lib.bpf_program__fd(this.ptr) as number;
  }

  /** The kernel's id of the loaded program (as `bpftool prog show id N` knows it); 0 when not loaded. */
  get id(): number {
    const fd = this.fd;
    if (fd < 0) return 0;
    const info = new Uint8Array(256); // struct bpf_prog_info: type (u32), then id (u32)
    const len = [info.byteLength];
    const rc = this.obj.lib.bpf_obj_get_info_by_fd(fd, info, len) as number;
    if (rc !== 0) return 0;
    return new DataView(info.buffer).getUint32(4, true);
  }

  /**
   * Runs the kernel skipped because of recursion protection (struct bpf_prog_info
   * recursion_misses, kernel 5.12+; 0 when unknown). A classic tracepoint/kprobe program is
   * skipped while any other such program runs on the CPU; a raw tracepoint only when it
   * interrupts itself. `info` is scratch space of at least 216 bytes (no allocation per call).
   */
  recursionMisses(info: Uint8Array = new Uint8Array(256)): number {
    const fd = this.fd;
    if (fd < 0) return 0;
    info.fill(0);
    const len = [info.byteLength];
    const rc = this.obj.lib.bpf_obj_get_info_by_fd(fd, info, len) as number;
    if (rc !== 0 || (len[0] ?? 0) < 216) return 0;
    return Number(new DataView(info.buffer, info.byteOffset).getBigUint64(208, true));
  }

  /** Attach as the section name says (libbpf's auto-attach). */
  attach(): BpfLink {
    const tracefs = this.sectionName.startsWith('tracepoint') || this.sectionName.startsWith('tp/') || this.sectionName.startsWith('kprobe');
    return this.link(() => this.obj.lib.bpf_program__attach(this.ptr), `${this.name} (${this.sectionName})`, tracefs);
  }

  attachTracepoint(category: string, name: string): BpfLink {
    return this.link(() => this.obj.lib.bpf_program__attach_tracepoint(this.ptr, category, name), `tracepoint ${category}:${name}`, true);
  }

  attachRawTracepoint(name: string): BpfLink {
    return this.link(() => this.obj.lib.bpf_program__attach_raw_tracepoint(this.ptr, name), `raw tracepoint ${name}`, false);
  }

  attachKprobe(func: string, retprobe = false): BpfLink {
    return this.link(() => this.obj.lib.bpf_program__attach_kprobe(this.ptr, retprobe, func), `${retprobe ? 'kretprobe' : 'kprobe'} ${func}`, true);
  }

  /** fentry / fexit / fmod_ret / tp_btf: the target is in the section name. */
  attachTrace(): BpfLink {
    return this.link(() => this.obj.lib.bpf_program__attach_trace(this.ptr), `trace ${this.sectionName}`, false);
  }

  attachUprobe(binaryPath: string, options: UprobeOptions = {}): BpfLink {
    const lib = this.obj.lib;
    const opts = {
      sz: lib.uprobeOptsType.size,
      ref_ctr_offset: 0,
      bpf_cookie: 0,
      retprobe: options.retprobe ?? false,
      func_name: options.funcName ?? null,
    };
    const what = `${options.retprobe ? 'uretprobe' : 'uprobe'} ${binaryPath}:${options.funcName ?? ''}+${options.offset ?? 0}`;
    return this.link(() => lib.bpf_program__attach_uprobe_opts(this.ptr, options.pid ?? -1, binaryPath, options.offset ?? 0, opts), what, false);
  }

  private link(call: () => Ptr, what: string, tracefs: boolean): BpfLink {
    this.obj.assertState('loaded', `attach ${what}`);
    markLibbpfLog();
    koffi.errno(0);
    const ptr = call();
    if (ptr === null || ptr === 0n) {
      const err = attachError(`${this.obj.name}/${this.name} to ${what}`, koffi.errno() || 22, tracefs);
      this.obj.logger?.debug({ program: this.name, libbpf: recentLibbpfLog() }, 'attach failed');
      throw err;
    }
    return this.obj.trackLink(new BpfLink(this.obj.lib, ptr, what, (l) => this.obj.untrackLink(l)));
  }
}

export class BpfMap {
  constructor(
    private readonly obj: BpfObject,
    readonly ptr: bigint,
    readonly name: string,
  ) {}

  get fd(): number {
    return this.obj.lib.bpf_map__fd(this.ptr) as number;
  }
  get type(): number {
    return this.obj.lib.bpf_map__type(this.ptr) as number;
  }
  get maxEntries(): number {
    return this.obj.lib.bpf_map__max_entries(this.ptr) as number;
  }
  get keySize(): number {
    return this.obj.lib.bpf_map__key_size(this.ptr) as number;
  }
  get valueSize(): number {
    return this.obj.lib.bpf_map__value_size(this.ptr) as number;
  }

  /** Before load only. For a ring buffer this is its size in bytes (a power of two, >= page size). */
  setMaxEntries(n: number): void {
    this.obj.assertState('opened', `resize map ${this.name}`);
    const rc = this.obj.lib.bpf_map__set_max_entries(this.ptr, n) as number;
    if (rc !== 0) throw bpfError('SONDE_BPF_MAP_FAILED', `set max_entries of ${this.name} to ${n}: ${errnoName(rc)}`);
  }

  update(key: Uint8Array, value: Uint8Array, flags = 0): void {
    this.obj.assertState('loaded', `update map ${this.name}`);
    const rc = this.obj.lib.bpf_map_update_elem(this.fd, key, value, flags) as number;
    if (rc !== 0) throw bpfError('SONDE_BPF_MAP_FAILED', `update of map ${this.name}: ${errnoName(rc)}`);
  }

  /** Fills `out` (valueSize bytes, or valueSize rounded to 8 x possible CPUs for per-CPU maps); false when absent. */
  lookup(key: Uint8Array, out: Uint8Array): boolean {
    this.obj.assertState('loaded', `look up map ${this.name}`);
    const rc = this.obj.lib.bpf_map_lookup_elem(this.fd, key, out) as number;
    if (rc === 0) return true;
    const errno = koffi.errno();
    if (rc === -2 || errno === 2) return false;
    throw bpfError('SONDE_BPF_MAP_FAILED', `lookup in map ${this.name}: ${errnoName(rc)}`);
  }

  delete(key: Uint8Array): boolean {
    this.obj.assertState('loaded', `delete from map ${this.name}`);
    return (this.obj.lib.bpf_map_delete_elem(this.fd, key) as number) === 0;
  }
}

/** Variable of a `.rodata` section (a `const volatile` global in the BPF C source). */
interface RodataVar {
  offset: number;
  size: number;
}

export class BpfObject implements Closable {
  readonly lib: LibbpfBindings;
  readonly logger: Logger | undefined;
  private ptr: Ptr;
  private state: State = 'opened';
  private readonly links = new Set<BpfLink>();

  private constructor(lib: LibbpfBindings, ptr: bigint, readonly name: string, logger: Logger | undefined) {
    this.lib = lib;
    this.ptr = ptr;
    this.logger = logger;
  }

  static openFile(path: string, options: OpenOptions = {}): BpfObject {
    const lib = prepare(options);
    const name = options.name ?? path.split('/').pop()!;
    koffi.errno(0);
    const ptr = lib.bpf_object__open_file(path, openOpts(name)) as Ptr;
    if (ptr === null || ptr === 0n) {
      const errno = koffi.errno();
      throw bpfError('SONDE_BPF_LOAD_FAILED', `opening BPF object ${path} failed: ${errnoName(errno || 22)}`, undefined,
        errno === 2 ? 'The compiled object is missing: run `npm run build:bpf` (needs clang, llvm, libbpf-dev).' : undefined);
    }
    return new BpfObject(lib, ptr, name, options.logger);
  }

  static openMemory(bytes: Uint8Array, options: OpenOptions & { name: string }): BpfObject {
    const lib = prepare(options);
    koffi.errno(0);
    const ptr = lib.bpf_object__open_mem(bytes, bytes.byteLength, openOpts(options.name)) as Ptr;
    if (ptr === null || ptr === 0n) {
      throw bpfError('SONDE_BPF_LOAD_FAILED', `opening BPF object ${options.name} from memory failed: ${errnoName(koffi.errno() || 22)}`);
    }
    return new BpfObject(lib, ptr, options.name, options.logger);
  }

  get loaded(): boolean {
    return this.state === 'loaded';
  }
  get closed(): boolean {
    return this.state === 'closed';
  }

  assertState(want: State, what: string): void {
    if (this.state !== want) {
      throw bpfError('SONDE_BPF_LOAD_FAILED', `cannot ${what}: BPF object ${this.name} is ${this.state}, not ${want}`);
    }
  }

  programs(): BpfProgram[] {
    const out: BpfProgram[] = [];
    let p: Ptr = null;
    while ((p = this.lib.bpf_object__next_program(this.handle(), p) as Ptr) !== null && p !== 0n) {
      out.push(new BpfProgram(this, p, this.lib.bpf_program__name(p) as string, this.lib.bpf_program__section_name(p) as string));
    }
    return out;
  }

  program(name: string): BpfProgram {
    const p = this.lib.bpf_object__find_program_by_name(this.handle(), name) as Ptr;
    if (p === null || p === 0n) throw bpfError('SONDE_BPF_LOAD_FAILED', `BPF object ${this.name} has no program ${name}`);
    return new BpfProgram(this, p, name, this.lib.bpf_program__section_name(p) as string);
  }

  maps(): BpfMap[] {
    const out: BpfMap[] = [];
    let m: Ptr = null;
    while ((m = this.lib.bpf_object__next_map(this.handle(), m) as Ptr) !== null && m !== 0n) {
      out.push(new BpfMap(this, m, this.lib.bpf_map__name(m) as string));
    }
    return out;
  }

  map(name: string): BpfMap {
    const m = this.lib.bpf_object__find_map_by_name(this.handle(), name) as Ptr;
    if (m === null || m === 0n) throw bpfError('SONDE_BPF_MAP_FAILED', `BPF object ${this.name} has no map ${name}`);
    return new BpfMap(this, m, name);
  }

  /** The `const volatile` globals of the object, by name (from its BTF `.rodata` datasec). */
  rodataVariables(): Map<string, RodataVar> {
    const btf = this.lib.bpf_object__btf(this.handle()) as Ptr;
    const out = new Map<string, RodataVar>();
    if (btf === null || btf === 0n) return out;
    const id = this.lib.btf__find_by_name_kind(btf, '.rodata', BTF_KIND.DATASEC) as number;
    if (id <= 0) return out;
    const t = this.lib.btf__type_by_id(btf, id) as bigint;
    const head = new DataView(koffi.view(t, 12));
    const vlen = head.getUint32(4, true) & 0xffff;
    const secinfo = new DataView(koffi.view(t + 12n, vlen * 12));
    for (let i = 0; i < vlen; i++) {
      const varType = secinfo.getUint32(i * 12, true);
      const offset = secinfo.getUint32(i * 12 + 4, true);
      const size = secinfo.getUint32(i * 12 + 8, true);
      const vt = this.lib.btf__type_by_id(btf, varType) as bigint;
      const nameOff = new DataView(koffi.view(vt, 4)).getUint32(0, true);
      const name = this.lib.btf__name_by_offset(btf, nameOff) as string | null;
      if (name) out.set(name, { offset, size });
    }
    return out;
  }

  /**
   * Sets `const volatile` globals before load. Numbers/bigints are written little-endian in the
   * variable's size; a Uint8Array must fit the variable (the rest is zeroed).
   */
  setRodata(values: Record<string, number | bigint | boolean | Uint8Array>): void {
    this.assertState('opened', 'set rodata');
    const vars = this.rodataVariables();
    const map = this.map('.rodata');
    const size = [0];
    const base = this.lib.bpf_map__initial_value(map.ptr, size) as Ptr;
    if (base === null || base === 0n) throw bpfError('SONDE_BPF_MAP_FAILED', `BPF object ${this.name} has no .rodata data`);
    const dv = new DataView(koffi.view(base, size[0]!));
    for (const [name, value] of Object.entries(values)) {
      const v = vars.get(name);
      if (!v) throw bpfError('SONDE_BPF_MAP_FAILED', `BPF object ${this.name} has no const volatile variable ${name}`);
      if (value instanceof Uint8Array) {
        if (value.byteLength > v.size) throw bpfError('SONDE_BPF_MAP_FAILED', `value for ${name} is ${value.byteLength} bytes, variable holds ${v.size}`);
        for (let i = 0; i < v.size; i++) dv.setUint8(v.offset + i, i < value.byteLength ? value[i]! : 0);
        continue;
      }
      const n = typeof value === 'boolean' ? (value ? 1 : 0) : value;
      switch (v.size) {
        case 1: dv.setUint8(v.offset, Number(n)); break;
        case 2: dv.setUint16(v.offset, Number(n), true); break;
        case 4: dv.setUint32(v.offset, Number(n) >>> 0, true); break;
        case 8: dv.setBigUint64(v.offset, BigInt(n), true); break;
        default: throw bpfError('SONDE_BPF_MAP_FAILED', `variable ${name} is ${v.size} bytes: pass a Uint8Array`);
      }
    }
  }

  /** Loads every program whose autoload is on, and creates the maps. */
  load(): void {
    this.assertState('opened', 'load');
    markLibbpfLog();
    const rc = this.lib.bpf_object__load(this.handle()) as number;
    if (rc !== 0) {
      const err = loadError(this.name, rc);
      const lines = recentLibbpfLog(8);
      this.logger?.debug({ object: this.name, libbpf: lines }, 'BPF object load failed');
      const detail = lines.length > 0 ? `\n  libbpf: ${lines.join('\n  libbpf: ')}` : '';
      throw new SondeError(err.code, `${err.message}${detail}`, { hint: err.hint, cause: err.cause });
    }
    this.state = 'loaded';
  }

  /** @internal */
  trackLink(link: BpfLink): BpfLink {
    this.links.add(link);
    return link;
  }
  /** @internal */
  untrackLink(link: BpfLink): void {
    this.links.delete(link);
  }

  /** Destroys the links, then the object (programs and maps). Idempotent. */
  close(): void {
    if (this.state === 'closed' || this.ptr === null) return;
    for (const link of [...this.links]) link.close();
    this.lib.bpf_object__close(this.ptr);
    this.ptr = null;
    this.state = 'closed';
  }

  private handle(): bigint {
    if (this.ptr === null) throw bpfError('SONDE_BPF_LOAD_FAILED', `BPF object ${this.name} is closed`);
    return this.ptr;
  }
}

/** struct bpf_object_open_opts, only its first two fields (libbpf accepts a shorter sz). */
function openOpts(name: string): Record<string, unknown> {
  return { sz: 16, object_name: name };
}

function prepare(options: OpenOptions): LibbpfBindings {
  const lib = getLibbpf();
  routeLibbpfLog(options.logger);
  return lib;
}

/** Number of possible CPUs (the stride of per-CPU map values). */
export function possibleCpus(): number {
  const n = getLibbpf().libbpf_num_possible_cpus() as number;
  if (n <= 0) throw bpfError('SONDE_BPF_NOT_SUPPORTED', `cannot read the number of possible CPUs: ${errnoName(n)}`);
  return n;
}
