// Byte offsets of `struct http_event` (bpf/http.h). Change both files together.
// The 16-byte header (magic, version, type, size, cpu, ts) is common.h's sonde_event_header.

export const HTTP_EVENT_TYPE_EXCHANGE = 32;
export const HTTP_REQ_CAP = 512;
/** Largest record; a record is OFF_REQ + req_len bytes long (the kernel sends no unused tail). */
export const HTTP_EVENT_SIZE = 112 + HTTP_REQ_CAP;

export const HDR_MAGIC = 0; // u16
export const HDR_VERSION = 2; // u8
export const HDR_TYPE = 3; // u8
export const HDR_SIZE = 4; // u16
export const EVENT_MAGIC = 0x53de;
export const SCHEMA_VERSION = 1;

export const OFF_START_NS = 16; // u64
export const OFF_END_NS = 24; // u64
export const OFF_CGROUP_ID = 32; // u64
export const OFF_TGID = 40; // u32
export const OFF_PID = 44; // u32
export const OFF_FD = 48; // u32
export const OFF_STATUS = 52; // u16
export const OFF_ROLE = 54; // u8
export const OFF_FAMILY = 55; // u8
export const OFF_LOCAL_ADDR = 56; // 16 bytes
export const OFF_REMOTE_ADDR = 72; // 16 bytes
export const OFF_LOCAL_PORT = 88; // u16
export const OFF_REMOTE_PORT = 90; // u16
export const OFF_REQ_LEN = 92; // u16
export const OFF_FLAGS = 94; // u16
export const OFF_COMM = 96; // 16 bytes, NUL-padded
export const OFF_REQ = 112; // HTTP_REQ_CAP bytes

export const ROLE_SERVER = 1;
export const ROLE_CLIENT = 2;
export const FLAG_REQ_TRUNCATED = 1;

export const AF_INET = 2;
export const AF_INET6 = 10;

/** Program name used in sonde_ebpf_events_total / _lost_total. */
export const HTTP_PROGRAM = 'http';
/**
 * The `program` label for runs of http.bpf.o's syscall tracepoints that the kernel skipped
 * (recursion_misses: another kprobe/tracepoint BPF program was running on that CPU). An upper
 * bound on exchange ends missed that way.
 */
export const HTTP_MISSED_LABEL = 'http_missed';

/** Slot of http.bpf.o in its `sonde_lost` per-CPU array. */
export const HTTP_LOST_SLOT_EXCHANGE = 0;
/**
 * The `program` label of sonde_ebpf_events_lost_total for each `sonde_lost` slot of http.bpf.o
 * (bpf/http.h SONDE_HTTP_SLOT_*, same order). An exchange the kernel saw end and did not hand over
 * is counted in exactly one of them.
 */
export const HTTP_LOST_SLOTS = [
  HTTP_PROGRAM, // the record did not fit in the ring buffer
  'http_unpaired', // an exchange that cannot be paired: state evicted, request before start or not recognised, pipelined, or replaced unanswered after pending_timeout
] as const;
/** The `program` label of sonde_ebpf_events_lost_total for records user space refused to decode. */
export const HTTP_DECODER_LABEL = `${HTTP_PROGRAM}_decoder`;

/** Filter flag bits (bpf/http.h SONDE_HTTP_FILTER_*). */
export const FILTER_PORT_INCLUDE = 1 << 0;
export const FILTER_COMM_INCLUDE = 1 << 1;
export const FILTER_PID_INCLUDE = 1 << 2;
export const FILTER_ACTIVE = 1 << 3;
export const FILTER_CGROUP_INCLUDE = 1 << 4;
