// koffi declarations of the libbpf 1.1 API (libbpf.so.1) and the few libc calls the layer needs.
// Only what Sonde uses; nothing newer than 1.1 (no ring_buffer__ring / ring__consume).
// Loaded lazily: importing this module never touches the shared libraries.
import koffi, { type LibraryHandle, type TypeObject } from 'koffi';
import { SondeError } from '../../../errors/index.js';

/** A native pointer as koffi 3 hands it out (BigInt), or null for NULL. */
export type Ptr = bigint | null;

type Fn = (...args: any[]) => any;

export interface LibbpfBindings {
  // object
  bpf_object__open_file: Fn;
  bpf_object__open_mem: Fn;
  bpf_object__load: Fn;
  bpf_object__close: Fn;
  bpf_object__name: Fn;
  bpf_object__btf: Fn;
  bpf_object__find_program_by_name: Fn;
  bpf_object__find_map_by_name: Fn;
  bpf_object__next_program: Fn;
  bpf_object__next_map: Fn;
  // program
  bpf_program__name: Fn;
  bpf_program__section_name: Fn;
  bpf_program__set_autoload: Fn;
  bpf_program__autoload: Fn;
  bpf_program__fd: Fn;
  bpf_program__attach: Fn;
  bpf_program__attach_tracepoint: Fn;
  bpf_program__attach_raw_tracepoint: Fn;
  bpf_program__attach_kprobe: Fn;
  bpf_program__attach_trace: Fn;
  bpf_program__attach_uprobe_opts: Fn;
  bpf_link__destroy: Fn;
  // map
  bpf_map__name: Fn;
  bpf_map__fd: Fn;
  bpf_map__type: Fn;
  bpf_map__max_entries: Fn;
  bpf_map__set_max_entries: Fn;
  bpf_map__key_size: Fn;
  bpf_map__value_size: Fn;
  bpf_map__initial_value: Fn;
  bpf_map_update_elem: Fn;
  bpf_map_lookup_elem: Fn;
  bpf_map_delete_elem: Fn;
  bpf_obj_get_info_by_fd: Fn;
  // btf
  btf__find_by_name_kind: Fn;
  btf__type_by_id: Fn;
  btf__name_by_offset: Fn;
  // ring buffer (1.1 API; Sonde's reader maps the ring itself, see ring-reader.ts)
  ring_buffer__new: Fn;
  ring_buffer__free: Fn;
  ring_buffer__epoll_fd: Fn;
  ring_buffer__consume: Fn;
  // misc
  libbpf_num_possible_cpus: Fn;
  libbpf_set_print: Fn;
  libbpf_probe_bpf_prog_type: Fn;
  libbpf_probe_bpf_map_type: Fn;
  libbpf_strerror: Fn;
  libbpf_version_string: Fn;
  /** Prototype of libbpf_print_fn_t: (level, fmt, va_list). */
  printFnType: TypeObject;
  uprobeOptsType: TypeObject;
}

export interface LibcBindings {
  mmap: Fn;
  munmap: Fn;
  vsnprintf: Fn;
  mount: Fn;
  sysconf: Fn;
  getpid: Fn;
}

let libbpf: LibbpfBindings | undefined;
let libc: LibcBindings | undefined;

/** The libbpf functions, loading libbpf.so.1 on first use. Throws SONDE_BPF_LIBBPF_MISSING. */
export function getLibbpf(): LibbpfBindings {
  if (libbpf) return libbpf;
  let lib: LibraryHandle;
  try {
    lib = koffi.load('libbpf.so.1');
  } catch (err) {
    throw new SondeError('SONDE_BPF_LIBBPF_MISSING', `libbpf.so.1 could not be loaded: ${(err as Error).message}`, {
      hint: 'Install libbpf 1.1 or newer (Debian/Ubuntu: apt-get install libbpf1).',
      cause: err,
    });
  }
  koffi.opaque('bpf_object');
  koffi.opaque('bpf_program');
  koffi.opaque('bpf_map');
  koffi.opaque('bpf_link');
  koffi.opaque('btf');
  koffi.opaque('ring_buffer');
  koffi.struct('sonde_bpf_object_open_opts', { sz: 'size_t', object_name: 'const char *' });
  const printFnType = koffi.proto('int sonde_libbpf_print_fn(int level, const char *fmt, void *args)');
  const sampleFnType = koffi.proto('int sonde_ring_sample_fn(void *ctx, void *data, size_t size)');
  // struct bpf_uprobe_opts as of libbpf 1.1 (sz first, as every libbpf opts struct).
  const uprobeOptsType = koffi.struct('sonde_bpf_uprobe_opts', {
    sz: 'size_t',
    ref_ctr_offset: 'size_t',
    bpf_cookie: 'uint64_t',
    retprobe: 'bool',
    func_name: 'const char *',
  });

  libbpf = {
    bpf_object__open_file: lib.func('bpf_object *bpf_object__open_file(const char *path, const sonde_bpf_object_open_opts *opts)'),
    bpf_object__open_mem: lib.func('bpf_object *bpf_object__open_mem(const void *buf, size_t size, const sonde_bpf_object_open_opts *opts)'),
    bpf_object__load: lib.func('int bpf_object__load(bpf_object *obj)'),
    bpf_object__close: lib.func('void bpf_object__close(bpf_object *obj)'),
    bpf_object__name: lib.func('const char *bpf_object__name(bpf_object *obj)'),
    bpf_object__btf: lib.func('btf *bpf_object__btf(bpf_object *obj)'),
    bpf_object__find_program_by_name: lib.func('bpf_program *bpf_object__find_program_by_name(bpf_object *obj, const char *name)'),
    bpf_object__find_map_by_name: lib.func('bpf_map *bpf_object__find_map_by_name(bpf_object *obj, const char *name)'),
    bpf_object__next_program: lib.func('bpf_program *bpf_object__next_program(bpf_object *obj, bpf_program *prev)'),
    bpf_object__next_map: lib.func('bpf_map *bpf_object__next_map(bpf_object *obj, bpf_map *prev)'),

    bpf_program__name: lib.func('const char *bpf_program__name(bpf_program *prog)'),
    bpf_program__section_name: lib.func('const char *bpf_program__section_name(bpf_program *prog)'),
    bpf_program__set_autoload: lib.func('int bpf_program__set_autoload(bpf_program *prog, bool autoload)'),
    bpf_program__autoload: lib.func('bool bpf_program__autoload(bpf_program *prog)'),
    bpf_program__fd: lib.func('int bpf_program__fd(bpf_program *prog)'),
    bpf_program__attach: lib.func('bpf_link *bpf_program__attach(bpf_program *prog)'),
    bpf_program__attach_tracepoint: lib.func('bpf_link *bpf_program__attach_tracepoint(bpf_program *prog, const char *category, const char *name)'),
    bpf_program__attach_raw_tracepoint: lib.func('bpf_link *bpf_program__attach_raw_tracepoint(bpf_program *prog, const char *name)'),
    bpf_program__attach_kprobe: lib.func('bpf_link *bpf_program__attach_kprobe(bpf_program *prog, bool retprobe, const char *func)'),
    bpf_program__attach_trace: lib.func('bpf_link *bpf_program__attach_trace(bpf_program *prog)'),
    bpf_program__attach_uprobe_opts: lib.func('bpf_link *bpf_program__attach_uprobe_opts(bpf_program *prog, int pid, const char *path, size_t offset, const sonde_bpf_uprobe_opts *opts)'),
    bpf_link__destroy: lib.func('int bpf_link__destroy(bpf_link *link)'),

    bpf_map__name: lib.func('const char *bpf_map__name(bpf_map *map)'),
    bpf_map__fd: lib.func('int bpf_map__fd(bpf_map *map)'),
    bpf_map__type: lib.func('int bpf_map__type(bpf_map *map)'),
    bpf_map__max_entries: lib.func('uint32_t bpf_map__max_entries(bpf_map *map)'),
    bpf_map__set_max_entries: lib.func('int bpf_map__set_max_entries(bpf_map *map, uint32_t max_entries)'),
    bpf_map__key_size: lib.func('uint32_t bpf_map__key_size(bpf_map *map)'),
    bpf_map__value_size: lib.func('uint32_t bpf_map__value_size(bpf_map *map)'),
    bpf_map__initial_value: lib.func('void *bpf_map__initial_value(bpf_map *map, _Out_ size_t *size)'),
    bpf_map_update_elem: lib.func('int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags)'),
    bpf_map_lookup_elem: lib.func('int bpf_map_lookup_elem(int fd, const void *key, _Out_ void *value)'),
    bpf_map_delete_elem: lib.func('int bpf_map_delete_elem(int fd, const void *key)'),
    bpf_obj_get_info_by_fd: lib.func('int bpf_obj_get_info_by_fd(int fd, _Out_ uint8_t *info, _Inout_ uint32_t *len)'),

    btf__find_by_name_kind: lib.func('int32_t btf__find_by_name_kind(btf *btf, const char *name, uint32_t kind)'),
    btf__type_by_id: lib.func('void *btf__type_by_id(btf *btf, uint32_t id)'),
    btf__name_by_offset: lib.func('const char *btf__name_by_offset(btf *btf, uint32_t offset)'),

    ring_buffer__new: lib.func('ring_buffer *ring_buffer__new(int map_fd, sonde_ring_sample_fn *cb, void *ctx, void *opts)'),
    ring_buffer__free: lib.func('void ring_buffer__free(ring_buffer *rb)'),
    ring_buffer__epoll_fd: lib.func('int ring_buffer__epoll_fd(ring_buffer *rb)'),
    ring_buffer__consume: lib.func('int ring_buffer__consume(ring_buffer *rb)'),

    libbpf_num_possible_cpus: lib.func('int libbpf_num_possible_cpus(void)'),
    libbpf_set_print: lib.func('void *libbpf_set_print(sonde_libbpf_print_fn *fn)'),
    libbpf_probe_bpf_prog_type: lib.func('int libbpf_probe_bpf_prog_type(int type, const void *opts)'),
    libbpf_probe_bpf_map_type: lib.func('int libbpf_probe_bpf_map_type(int type, const void *opts)'),
    libbpf_strerror: lib.func('int libbpf_strerror(int err, _Out_ uint8_t *buf, size_t size)'),
    libbpf_version_string: lib.func('const char *libbpf_version_string(void)'),
    printFnType,
    uprobeOptsType,
  };
  void sampleFnType;
  return libbpf;
}

/** The libc functions the layer needs (mmap of ring buffers, vsnprintf for libbpf's log, mount). */
export function getLibc(): LibcBindings {
  if (libc) return libc;
  const lib = koffi.load('libc.so.6');
  libc = {
    mmap: lib.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)'),
    munmap: lib.func('int munmap(void *addr, size_t length)'),
    vsnprintf: lib.func('int vsnprintf(_Out_ uint8_t *buf, size_t size, const char *fmt, void *args)'),
    mount: lib.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const void *data)'),
    sysconf: lib.func('long sysconf(int name)'),
    getpid: lib.func('int getpid(void)'),
  };
  return libc;
}

/** BPF map and program type numbers from uapi/linux/bpf.h that Sonde refers to. */
export const BPF_MAP_TYPE = { HASH: 1, ARRAY: 2, PERCPU_ARRAY: 6, LRU_HASH: 9, RINGBUF: 27 } as const;
export const BPF_PROG_TYPE = { KPROBE: 2, TRACEPOINT: 5, RAW_TRACEPOINT: 17, TRACING: 26 } as const;
export const BTF_KIND = { VAR: 14, DATASEC: 15 } as const;
