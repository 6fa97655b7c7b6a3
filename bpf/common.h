/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * Shared by every Sonde BPF program: the versioned event header, the lost-events counter map
 * convention and the ring buffer helpers with adaptive wakeup.
 *
 * Include after vmlinux.h and <bpf/bpf_helpers.h>. User space mirrors the layout in
 * src/receivers/ebpf/libbpf/event-header.ts; change both together and bump SONDE_SCHEMA_VERSION.
 */
#ifndef SONDE_COMMON_H
#define SONDE_COMMON_H

/* Every record in a Sonde ring buffer starts with this 16-byte header. */
#define SONDE_EVENT_MAGIC 0x53DE
#define SONDE_SCHEMA_VERSION 1

/*
 * Event types, one registry for all programs so a type never means two things.
 *   1..31   TCP (bpf/tcp.h)
 *   32..63  HTTP (bpf/http.h)
 */
#define SONDE_EVENT_TYPE_TCP_FIRST 1
#define SONDE_EVENT_TYPE_HTTP_FIRST 32

struct sonde_event_header {
	__u16 magic;   /* SONDE_EVENT_MAGIC */
	__u8 version;  /* SONDE_SCHEMA_VERSION */
	__u8 type;     /* one of the SONDE_EVENT_* types */
	__u16 size;    /* whole record in bytes, header included */
	__u16 cpu;     /* CPU that produced the record (debugging aid) */
	__u64 ts_ns;   /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
};

/*
 * Lost events: each BPF object defines one per-CPU array `sonde_lost`, indexed by a program slot
 * that the object's header names (e.g. SONDE_TCP_SLOT_*). User space sums the CPUs and exports
 * sonde_ebpf_events_lost_total{program}. A slot is counted whenever bpf_ringbuf_reserve fails.
 */
#define SONDE_MAX_SLOTS 16

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SONDE_MAX_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} sonde_lost SEC(".maps");

/*
 * Adaptive wakeup: below this many unread bytes the record is committed without waking user
 * space (BPF_RB_NO_WAKEUP); user space polls on a short timer and picks those up. Above it the
 * reader is woken at once. A busy host therefore wakes Node per batch, not per event.
 * Set from user space before load (0 = always wake).
 */
const volatile __u64 sonde_wakeup_bytes = 32768;

static __always_inline void sonde_count_lost(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&sonde_lost, &slot);
	if (v)
		*v += 1; /* per-CPU value: no atomics needed */
}

/* Reserve a record and fill its header; counts a loss for `slot` when the ring is full. */
static __always_inline void *sonde_reserve(void *ring, __u32 size, __u8 type, __u32 slot)
{
	struct sonde_event_header *h = bpf_ringbuf_reserve(ring, size, 0);
	if (!h) {
		sonde_count_lost(slot);
		return 0;
	}
	h->magic = SONDE_EVENT_MAGIC;
	h->version = SONDE_SCHEMA_VERSION;
	h->type = type;
	h->size = size;
	h->cpu = bpf_get_smp_processor_id();
	h->ts_ns = bpf_ktime_get_ns();
	return h;
}

/*
 * The current process's name: its thread-group leader's comm, what /proc/<pid>/comm shows.
 * bpf_get_current_comm() would give the calling thread's name, which threads set for themselves
 * (Java "http-nio-8080-e", libuv workers): one process would appear, and be filtered, under as many
 * names as it has threads. Zero-filled to 16 bytes: the name is a hash-map key (comm_filter) and
 * user space compares it as four words. Needs <bpf/bpf_core_read.h> (CO-RE, any kernel with BTF).
 */
static __always_inline void sonde_process_comm(char *comm)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct task_struct *leader = BPF_CORE_READ(task, group_leader);
	__builtin_memset(comm, 0, 16);
	bpf_core_read_str(comm, 16, &leader->comm);
}

static __always_inline void sonde_submit(void *ring, void *record)
{
	__u64 flags = BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA) >= sonde_wakeup_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(record, flags);
}

#endif /* SONDE_COMMON_H */
