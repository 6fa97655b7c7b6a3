// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * Ingest benchmark generator: writes real Sonde TCP events (struct sonde_tcp_event, bpf/tcp.h,
 * through the same sonde_reserve/sonde_submit helpers as bpf/tcp.bpf.c) into a ring buffer at
 * kernel speed. User space runs it with BPF_PROG_TEST_RUN (prog type `syscall`); one run emits
 * `count` events in a bpf_loop and returns how many it wrote (it stops early when the ring is full).
 *
 * The stream is deterministic from `seed`: 40% CONNECT, 10% ACCEPT, 45% CLOSE, 5% RETRANSMIT,
 * 16 processes, 32 servers (one IPv6), 2% refused connects, so aggregation hits a realistic,
 * bounded set of series.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "common.h"
#include "tcp.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 << 20); /* user space may resize before load */
} events SEC(".maps");

struct gen_args {
	__u32 count;
	__u32 seed;
};

struct gen_state {
	__u32 seq;
	__u32 made;
};

/* Server ports (a switch, not a static table: .rodata statics trip libbpf 1.1's BTF fix-up). */
static __always_inline __u16 server_port(__u32 i)
{
	switch (i & 7) {
	case 0: return 80;
	case 1: return 443;
	case 2: return 5432;
	case 3: return 6379;
	case 4: return 8080;
	case 5: return 9092;
	case 6: return 3306;
	default: return 11211;
	}
}

static long emit_one(__u64 i, struct gen_state *st)
{
	__u32 seq = st->seq + (__u32)i;
	__u32 h = seq * 2654435761u;
	__u32 kind = seq % 20;
	__u8 type = kind < 8 ? SONDE_EVENT_TCP_CONNECT
		  : kind < 10 ? SONDE_EVENT_TCP_ACCEPT
		  : kind < 19 ? SONDE_EVENT_TCP_CLOSE
			      : SONDE_EVENT_TCP_RETRANSMIT;
	struct sonde_tcp_event *e = sonde_reserve(&events, sizeof(*e), type, SONDE_TCP_SLOT_STATE);
	if (!e)
		return 1; /* ring full: stop */

	__u32 proc = (h >> 8) & 15;
	__u32 server = (h >> 16) & 31;
	__u16 port = server_port(server);
	__u8 inbound = type == SONDE_EVENT_TCP_ACCEPT || (type == SONDE_EVENT_TCP_CLOSE && (h & 1));

	__builtin_memset((char *)e + sizeof(e->hdr), 0, sizeof(*e) - sizeof(e->hdr));
	e->sock_id = 0xffff888000000000ull + (__u64)seq * 64;
	e->cgroup_id = 4242 + proc;
	e->pid = 200000 + proc;
	e->tid = e->pid;
	e->netns = 4026531840u;
	e->direction = inbound ? SONDE_TCP_DIR_INBOUND : SONDE_TCP_DIR_OUTBOUND;
	if (inbound) {
		e->local_port = port;
		e->remote_port = 32768 + (seq % 28000);
	} else {
		e->local_port = 32768 + (seq % 28000);
		e->remote_port = port;
	}
	switch (type) {
	case SONDE_EVENT_TCP_CONNECT:
		e->duration_ns = 30000 + (h % 200000);
		if (h % 50 == 0) {
			e->outcome = SONDE_TCP_OUTCOME_REFUSED;
			e->error = 111;
		}
		break;
	case SONDE_EVENT_TCP_ACCEPT:
		e->duration_ns = 5000 + (h % 20000);
		break;
	case SONDE_EVENT_TCP_CLOSE:
		e->duration_ns = 1000000ull + (__u64)(h % 4000000) * 1000;
		e->bytes_sent = h % 65536;
		e->bytes_received = (h >> 4) % 262144;
		e->retransmits = (h % 97) == 0;
		break;
	default:
		e->state = 1; /* TCP_ESTABLISHED */
		break;
	}
	/* Server on the remote side for outbound, local for inbound; server 31 is IPv6. */
	__u8 *srv = inbound ? e->local_addr : e->remote_addr;
	__u8 *peer = inbound ? e->remote_addr : e->local_addr;
	if (server == 31) {
		e->family = 10;
		srv[0] = 0xfd;
		srv[15] = (__u8)server;
		peer[0] = 0xfd;
		peer[15] = 0x99;
	} else {
		e->family = 2;
		srv[0] = 10;
		srv[2] = (__u8)server;
		srv[3] = 1;
		peer[0] = 10;
		peer[1] = 1;
		peer[3] = 2;
	}
	e->comm[0] = 's';
	e->comm[1] = 'v';
	e->comm[2] = 'c';
	e->comm[3] = '-';
	e->comm[4] = "0123456789abcdef"[proc];
	sonde_submit(&events, e);
	st->made++;
	return 0;
}

SEC("syscall")
int generate(struct gen_args *args)
{
	struct gen_state st = { .seq = args->seed, .made = 0 };
	bpf_loop(args->count, emit_one, &st, 0);
	return st.made;
}
