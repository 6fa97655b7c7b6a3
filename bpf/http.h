/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * HTTP/1.x capture: the record shared by bpf/http.bpf.c and user space
 * (src/receivers/ebpf/http/event-layout.ts mirrors every offset; change both together and bump
 * SONDE_HTTP_EVENT_VERSION there and SONDE_SCHEMA_VERSION in common.h when the header changes).
 *
 * One record per request/response pair, paired in the kernel: the request's first bytes
 * (request line, Host, traceparent; bodies are never looked for) travel with the timing of both
 * ends and the connection tuple.
 */
#ifndef SONDE_HTTP_H
#define SONDE_HTTP_H

#define SONDE_EVENT_HTTP_EXCHANGE 32 /* in the HTTP range of common.h */

/*
 * Lost-counter slots of http.bpf.o (index into sonde_lost; user space names them in
 * src/receivers/ebpf/http/event-layout.ts). An exchange the kernel side saw end (its response's
 * status line) and does not report is counted in one of them, never dropped silently:
 *   EXCHANGE  the exchange record did not fit in the ring buffer
 *   UNPAIRED  an exchange that cannot be paired: a response on a captured socket with no request
 *             state for its fd (evicted from http_conns: max_connections too small for the
 *             host's connections; or the request came before Sonde started); a response right
 *             after request bytes that were not recognised as a request (a method not listed, a
 *             first read or write of fewer than 4 bytes); a request pipelined behind a pending
 *             one without a body, counted when it is seen (docs: Limits); a
 *             request left without response for longer than pending_timeout_ns, counted when
 *             the next request on its fd replaces it
 * A request whose connection closes before any response is not counted.
 */
#define SONDE_HTTP_SLOT_EXCHANGE 0
#define SONDE_HTTP_SLOT_UNPAIRED 1

/* Bytes of the request head carried per record. Must be a power of two (verifier masks). */
#define HTTP_REQ_CAP 512

#define HTTP_ROLE_NONE 0
#define HTTP_ROLE_SERVER 1 /* this process read the request and wrote the response */
#define HTTP_ROLE_CLIENT 2 /* this process wrote the request and read the response */

#define HTTP_FLAG_REQ_TRUNCATED 1 /* the request head did not fit in HTTP_REQ_CAP */

/*
 * Every field at a fixed offset (comments), little-endian as the host. A record is variable
 * length: 112 bytes plus the req_len bytes of req it carries (hdr.size = 112 + req_len, at most
 * 624), so the ring holds no unused request buffer.
 */
struct http_event {
	struct sonde_event_header hdr; /*   0: 16 bytes, type SONDE_EVENT_HTTP_EXCHANGE */
	__u64 start_ns;                /*  16: request seen (server: read returned; client: write entered) */
	__u64 end_ns;                  /*  24: response seen (server: write entered; client: read returned) */
	__u64 cgroup_id;               /*  32 */
	__u32 tgid;                    /*  40 */
	__u32 pid;                     /*  44: thread that saw the response */
	__u32 fd;                      /*  48 */
	__u16 status;                  /*  52: response status code */
	__u8 role;                     /*  54: HTTP_ROLE_SERVER or HTTP_ROLE_CLIENT */
	__u8 family;                   /*  55: AF_INET (2) or AF_INET6 (10) */
	__u8 local_addr[16];           /*  56: IPv4 in the first 4 bytes, network order */
	__u8 remote_addr[16];          /*  72 */
	__u16 local_port;              /*  88: host order */
	__u16 remote_port;             /*  90: host order */
	__u16 req_len;                 /*  92: valid bytes in req */
	__u16 flags;                   /*  94: HTTP_FLAG_* */
	char comm[16];                 /*  96: process (thread group leader's) command name */
	__u8 req[HTTP_REQ_CAP];        /* 112: request head prefix, up to its blank line (never body bytes) */
};

/*
 * Filter flags (const volatile filter_flags), the same bits and map conventions as bpf/tcp.h so
 * one user-space filter writer serves both objects: maps port_filter (u16 server port),
 * comm_filter (char[16]), pid_filter (u32 tgid) hold SONDE_FILTER_INCLUDE (1) or EXCLUDE (2).
 */
#define SONDE_HTTP_FILTER_PORT_INCLUDE (1 << 0)
#define SONDE_HTTP_FILTER_COMM_INCLUDE (1 << 1)
#define SONDE_HTTP_FILTER_PID_INCLUDE (1 << 2)
#define SONDE_HTTP_FILTER_ACTIVE (1 << 3)
#define SONDE_HTTP_FILTER_CGROUP_INCLUDE (1 << 4) /* only tasks in (or below) a cgroup v2 id present in cgroup_filter */

#define SONDE_HTTP_FILTER_INCLUDE 1
#define SONDE_HTTP_FILTER_EXCLUDE 2

#endif /* SONDE_HTTP_H */
