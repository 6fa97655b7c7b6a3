// The libbpf layer: typed access to libbpf 1.1 through koffi. See /work/notes/ebpf-layer.md.
export { BpfObject, BpfProgram, BpfMap, BpfLink, CloseGroup, possibleCpus, type Closable, type OpenOptions, type UprobeOptions } from './bpf-object.js';
export { RingReader, type RecordHandler, type RingReaderOptions, type RingReaderStats } from './ring-reader.js';
export { LostCounter } from './lost-counter.js';
export { MissedRunsCounter, type MissedRunsGroup } from './missed-runs-counter.js';
export { checkHeader, sizeTable, type SizeTable, MonotonicClock, EVENT_HEADER_SIZE, EVENT_MAGIC, SCHEMA_VERSION, HEADER_OFFSETS, type RejectReason } from './event-header.js';
export { bpfError, attachError, loadError, BPF_HINTS, type BpfErrorCode } from './errors.js';
export { ensureTracefs, readCapabilities, hasBtf, tracefsMounted, bpffsMounted, CAPABILITY_BITS, type CapabilityName } from './host.js';
export { routeLibbpfLog } from './log.js';
export { BPF_MAP_TYPE, BPF_PROG_TYPE } from './bindings.js';
