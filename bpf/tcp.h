/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * TCP connection lifecycle events (bpf/tcp.bpf.c). User space decodes them at the fixed offsets
 * in src/receivers/ebpf/tcp/tcp-event.ts; change both together and bump SONDE_SCHEMA_VERSION.
 */
#ifndef SONDE_TCP_H
#define SONDE_TCP_H

/* Event types (see the registry in common.h). */
#define SONDE_EVENT_TCP_CONNECT 1    /* outbound handshake finished: success or failure */
#define SONDE_EVENT_TCP_ACCEPT 2     /* inbound connection taken by accept()/accept4() */
#define SONDE_EVENT_TCP_CLOSE 3      /* connection closed: lifetime and bytes each way */
#define SONDE_EVENT_TCP_RETRANSMIT 4 /* one segment retransmitted */

/* Lost-event slots in sonde_lost: ring full per program, then state-loss reasons. */
#define SONDE_TCP_SLOT_STATE 0      /* sock:inet_sock_set_state */
#define SONDE_TCP_SLOT_ACCEPT 1     /* syscalls:sys_exit_accept / accept4 */
#define SONDE_TCP_SLOT_RETRANSMIT 2 /* tcp:tcp_retransmit_skb */
#define SONDE_TCP_SLOT_EVICTED 3    /* connect outcome with no socket state (LRU eviction, or older than Sonde) */

#define SONDE_TCP_DIR_OUTBOUND 1
#define SONDE_TCP_DIR_INBOUND 2

/* Connect outcomes, from sk_err at the SYN_SENT -> CLOSE transition. */
#define SONDE_TCP_OUTCOME_SUCCESS 0
#define SONDE_TCP_OUTCOME_REFUSED 1
#define SONDE_TCP_OUTCOME_TIMEOUT 2
#define SONDE_TCP_OUTCOME_RESET 3
#define SONDE_TCP_OUTCOME_UNREACHABLE 4
#define SONDE_TCP_OUTCOME_ERROR 5

/* Which hook remembers the connecting process (the ladder, chosen in user space by probing). */
#define SONDE_TCP_HOOK_FENTRY 1
#define SONDE_TCP_HOOK_KPROBE 2
#define SONDE_TCP_HOOK_TRACEPOINT 3

/* Filter flags (const volatile filter_flags). */
#define SONDE_TCP_FILTER_PORT_INCLUDE (1 << 0) /* only ports present in port_filter with value 1 */
#define SONDE_TCP_FILTER_COMM_INCLUDE (1 << 1) /* only process names (leader comm) in comm_filter with value 1 */
#define SONDE_TCP_FILTER_PID_INCLUDE (1 << 2)  /* only pids present in pid_filter with value 1 */
#define SONDE_TCP_FILTER_ACTIVE (1 << 3)       /* any filter map has entries (exclusions included) */

#define SONDE_FILTER_INCLUDE 1
#define SONDE_FILTER_EXCLUDE 2

/* One layout for every TCP event type: 136 bytes, fields at fixed offsets. */
struct sonde_tcp_event {
	struct sonde_event_header hdr; /*   0 */
	__u64 sock_id;                 /*  16 kernel socket address, an opaque id */
	__u64 cgroup_id;               /*  24 */
	__u64 duration_ns;             /*  32 CONNECT: handshake; CLOSE: lifetime; ACCEPT: established->accept */
	__u64 bytes_sent;              /*  40 CLOSE: tcp_sock.bytes_acked */
	__u64 bytes_received;          /*  48 CLOSE: tcp_sock.bytes_received */
	__u32 pid;                     /*  56 tgid, the process */
	__u32 tid;                     /*  60 thread */
	__u32 netns;                   /*  64 network namespace inode */
	__u16 local_port;              /*  68 host byte order */
	__u16 remote_port;             /*  70 host byte order */
	__u16 family;                  /*  72 AF_INET (2) or AF_INET6 (10) */
	__u8 direction;                /*  74 SONDE_TCP_DIR_* */
	__u8 outcome;                  /*  75 SONDE_TCP_OUTCOME_* (CONNECT) */
	__s32 error;                   /*  76 sk_err at the transition */
	__u8 local_addr[16];           /*  80 IPv4 in the first 4 bytes */
	__u8 remote_addr[16];          /*  96 */
	char comm[16];                 /* 112 process name: the thread-group leader's comm, zero-filled */
	__u32 retransmits;             /* 128 CLOSE: tcp_sock.total_retrans */
	__u32 state;                   /* 132 RETRANSMIT: TCP state */
};

#endif /* SONDE_TCP_H */
