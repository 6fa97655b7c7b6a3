// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * HTTP/1.x on plain-text sockets from syscall tracepoints only (no kprobes, no fentry).
 *
 *   sent data:     sys_enter_write / writev / sendto / sendmsg   (buffer readable at entry)
 *   received data: sys_enter_read / readv / recvfrom / recvmsg saves the buffer per thread,
 *                  sys_exit_* inspects it once the byte count is known
 *   fd reuse:      sys_enter_close forgets the fd's state
 *
 * Per (tgid, fd) the LRU map `http_conns` remembers the connection's role (server or client,
 * fixed by its first message), whether a request is waiting for its response, whether any bytes
 * went the request's way since the last response began, and the request head (cut right after
 * its blank line: body bytes are erased from the copy before the program returns). A response is
 * only paired while a request is pending on that fd, and a request only recognised on an fd that
 * is not known to play the other role, so body bytes of large messages are never taken for new
 * messages. One record per exchange goes to the ring buffer when the response's status line is seen.
 *
 * Cheap early exits: the pid, process-name and cgroup filters are checked before any
 * user memory is read; only 16 bytes are read to classify a message; the connection tuple is
 * looked up (CO-RE walk task->files->fdt->fd[fd]->private_data->sk) once per request, and the
 * port filter is applied before a state entry is taken, so traffic scoped out cannot evict it.
 *
 * Nothing is lost silently (bpf/http.h SONDE_HTTP_SLOT_*): a record the ring cannot take is
 * counted in EXCHANGE; in UNPAIRED, a response that finds no request state (evicted from the LRU
 * map, or older than Sonde), a response right after request bytes that were not recognised as a
 * request, and a request pipelined behind a pending one without a body (counted when seen; one
 * behind a body is taken for body bytes: docs Limits), and a request still waiting for its response
 * after pending_timeout_ns when the next request on its fd replaces it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "common.h"
#include "http.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by user space before load. */
const volatile __u32 filter_flags = 0;
const volatile __u32 self_tgid = 0;                          /* never capture Sonde itself */
const volatile __u64 pending_timeout_ns = 10000000000ULL;    /* an unanswered request may be replaced after this */

#define AF_INET 2
#define AF_INET6 10
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define HTTP_MAX_IOV 4

#define SRC_PLAIN 0
#define SRC_IOV 1

struct conn_key {
	__u32 tgid;
	__u32 fd;
};

/* The connection behind an fd, read from the kernel's socket. */
struct tuple {
	__u8 family;
	__u8 pad[3];
	__u16 local_port;
	__u16 remote_port;
	__u8 local_addr[16];
	__u8 remote_addr[16];
};

struct http_conn {
	__u64 start_ns;
	__u64 sk;
	__u32 req_len;
	__u8 role;
	__u8 pending;
	__u8 hdr_done;  /* HEAD_OPEN, HEAD_ENDED or HEAD_CUT */
	__u8 req_seen;  /* request-direction bytes came since the last response began */
	__u8 has_body;  /* the pending request's method carries a body (POST, PUT, PATCH) or a tunnel (CONNECT) */
	__u8 pad[3];
	__u32 head_end; /* result of the head scan (read back from the map: keeps the verifier's states few) */
	struct tuple t;
	/* Twice the cap so that "offset < cap" plus "length <= cap" stays in bounds for the verifier. */
	__u8 req[HTTP_REQ_CAP * 2];
};

/* A read-family call between entry and exit. */
struct read_args {
	__u64 buf; /* plain buffer, or struct iovec array */
	__u32 fd;
	__u32 src; /* SRC_PLAIN or SRC_IOV */
	__u64 iovcnt;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} http_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct conn_key);
	__type(value, struct http_conn);
} http_conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct read_args);
} http_reads SEC(".maps");

#include "filter_maps.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u64);
	__type(value, __u8);
} cgroup_filter SEC(".maps");

/* The exchange record is built here (too large for the stack), then copied into the ring with
 * only the request bytes it holds: a typical record is ~200 bytes, not 624, so the same ring
 * rides out about three times as many exchanges. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct http_event);
} http_scratch SEC(".maps");

/* A zeroed http_conn, too large for the stack, used to create map entries. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct http_conn);
} http_zero SEC(".maps");

static __always_inline int filter_rejects(void *map, void *key, __u32 include_flag)
{
	__u8 *v = bpf_map_lookup_elem(map, key);
	if (v && *v == SONDE_HTTP_FILTER_EXCLUDE)
		return 1;
	if ((filter_flags & include_flag) && !(v && *v == SONDE_HTTP_FILTER_INCLUDE))
		return 1;
	return 0;
}

/* Process and cgroup filters: everything that can be decided before touching user memory. */
static __always_inline int wanted(__u32 tgid)
{
	if (tgid == self_tgid)
		return 0;
	if (!(filter_flags & SONDE_HTTP_FILTER_ACTIVE))
		return 1;
	if (filter_rejects(&pid_filter, &tgid, SONDE_HTTP_FILTER_PID_INCLUDE))
		return 0;
	if (filter_flags & SONDE_HTTP_FILTER_CGROUP_INCLUDE) {
		/* the task's cgroup v2 or any of its ancestors must be listed */
		int found = 0;
		for (int level = 0; level < 16; level++) {
			__u64 cg = bpf_get_current_ancestor_cgroup_id(level);
			if (!cg)
				break;
			if (bpf_map_lookup_elem(&cgroup_filter, &cg)) {
				found = 1;
				break;
			}
		}
		if (!found)
			return 0;
	}
	char comm[16];
	sonde_process_comm(comm); /* the process's name (common.h), not the calling thread's */
	if (filter_rejects(&comm_filter, comm, SONDE_HTTP_FILTER_COMM_INCLUDE))
		return 0;
	return 1;
}

#define KIND_OTHER 0
#define KIND_REQUEST 1
#define KIND_RESPONSE 2

#define METHOD_NONE 0
#define METHOD_PLAIN 1 /* GET, HEAD, DELETE, OPTIONS, TRACE: no body */
#define METHOD_BODY 2  /* POST, PUT, PATCH carry a body; CONNECT turns the connection into a tunnel */

/* Eight bytes as one little-endian number, whatever the host's byte order (pattern: PAT8). */
static __always_inline __u64 bytes8(const char *p)
{
	return (__u64)(__u8)p[0] | (__u64)(__u8)p[1] << 8 | (__u64)(__u8)p[2] << 16 | (__u64)(__u8)p[3] << 24 |
	       (__u64)(__u8)p[4] << 32 | (__u64)(__u8)p[5] << 40 | (__u64)(__u8)p[6] << 48 | (__u64)(__u8)p[7] << 56;
}
#define PAT8(a, b, c, d, e, f, g, h)                                                                   \
	((__u64)(a) | (__u64)(b) << 8 | (__u64)(c) << 16 | (__u64)(d) << 24 | (__u64)(e) << 32 |         \
	 (__u64)(f) << 40 | (__u64)(g) << 48 | (__u64)(h) << 56)
#define LOW_BYTES(n) ((n) >= 8 ? ~0ULL : (1ULL << ((n) * 8)) - 1)

/*
 * p holds len (>= 4) bytes of a message start, zero-padded to 8. Recognises a method and its
 * space, or, when len is shorter than that, a prefix of them of at least 4 bytes ("POST" alone:
 * the rest follows in the next read or write). Masked 64-bit compares: no indexed loads, few
 * branches for the verifier.
 */
static __always_inline int method_kind(const char *p, __u32 len)
{
	__u64 w = bytes8(p);
	__u64 have = len >= 8 ? ~0ULL : (1ULL << (len * 8)) - 1;
#define IS(n, a, b, c, d, e, f, g, h) (((w ^ PAT8(a, b, c, d, e, f, g, h)) & have & LOW_BYTES(n)) == 0)
	if (IS(4, 'G', 'E', 'T', ' ', 0, 0, 0, 0) || IS(5, 'H', 'E', 'A', 'D', ' ', 0, 0, 0) ||
	    IS(7, 'D', 'E', 'L', 'E', 'T', 'E', ' ', 0) || IS(8, 'O', 'P', 'T', 'I', 'O', 'N', 'S', ' ') ||
	    IS(6, 'T', 'R', 'A', 'C', 'E', ' ', 0, 0))
		return METHOD_PLAIN;
	if (IS(5, 'P', 'O', 'S', 'T', ' ', 0, 0, 0) || IS(4, 'P', 'U', 'T', ' ', 0, 0, 0, 0) ||
	    IS(6, 'P', 'A', 'T', 'C', 'H', ' ', 0, 0) || IS(8, 'C', 'O', 'N', 'N', 'E', 'C', 'T', ' '))
		return METHOD_BODY;
#undef IS
	return METHOD_NONE;
}

static __always_inline int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Reads up to 16 bytes at ptr and classifies them. *status receives a response's code, *method a
 * request's METHOD_* kind. A request is recognised from its first 4 bytes on (a head may arrive
 * in small pieces); a response needs its 12-byte status prefix ("HTTP/1.1 200") in the first piece.
 */
static __always_inline int classify(const void *ptr, __u64 len, __u16 *status, int *method)
{
	char p[16] = {};
	if (len < 4)
		return KIND_OTHER;
	__u32 n = len < sizeof(p) ? (__u32)len : sizeof(p);
	if (n > sizeof(p))
		n = sizeof(p);
	if (bpf_probe_read_user(p, n, ptr))
		return KIND_OTHER;
	if (len >= 12 && p[0] == 'H' && p[1] == 'T' && p[2] == 'T' && p[3] == 'P' && p[4] == '/' && p[5] == '1' &&
	    p[6] == '.' && p[8] == ' ' && is_digit(p[9]) && is_digit(p[10]) && is_digit(p[11])) {
		*status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
		return KIND_RESPONSE;
	}
	*method = method_kind(p, n);
	return *method != METHOD_NONE ? KIND_REQUEST : KIND_OTHER;
}

/* The first segment of the data: the buffer itself, or the first non-empty iovec. */
static __always_inline int first_segment(__u64 buf, __u32 src, __u64 iovcnt, __u64 total,
					 const void **ptr, __u64 *len)
{
	if (src == SRC_PLAIN) {
		*ptr = (const void *)buf;
		*len = total;
		return 0;
	}
	struct iovec iov;
#pragma unroll
	for (int i = 0; i < 2; i++) {
		if (i >= iovcnt)
			return -1;
		if (bpf_probe_read_user(&iov, sizeof(iov), (const void *)(buf + i * sizeof(iov))))
			return -1;
		if (iov.iov_len == 0)
			continue;
		*ptr = iov.iov_base;
		*len = iov.iov_len < total ? iov.iov_len : total;
		return 0;
	}
	return -1;
}

static __always_inline void append(struct http_conn *c, const void *ptr, __u64 len)
{
	__u32 off = c->req_len;
	if (off >= HTTP_REQ_CAP || len == 0)
		return;
	__u32 n = HTTP_REQ_CAP - off;
	if (len < n)
		n = len;
	off &= HTTP_REQ_CAP - 1;
	if (n > HTTP_REQ_CAP)
		n = HTTP_REQ_CAP;
	bpf_probe_read_user(&c->req[off], n, ptr);
	c->req_len = off + n;
}

#define HEAD_OPEN 0  /* the head's blank line has not been seen yet */
#define HEAD_ENDED 1 /* the blank line was seen: c->req holds the whole head and nothing after it */
#define HEAD_CUT 2   /* HTTP_REQ_CAP bytes were copied without reaching the blank line */

#define ONES8 0x0101010101010101ULL
#define HIGHS8 0x8080808080808080ULL

/* 0x80 in each byte of w that equals ch, 0 in the others (exact: no carry crosses a byte). */
static __always_inline __u64 bytes_equal(__u64 w, __u8 ch)
{
	__u64 x = w ^ (ONES8 * ch);
	return ~(((x & ~HIGHS8) + ~HIGHS8) | x) & HIGHS8;
}

/* Index of the lowest byte of m (not 0) that has its high bit set. */
static __always_inline __u32 first_marked_byte(__u64 m)
{
	__u32 b = 0;
	if (!(m & 0xffffffffULL)) {
		b += 4;
		m >>= 32;
	}
	if (!(m & 0xffffULL)) {
		b += 2;
		m >>= 16;
	}
	if (!(m & 0xffULL))
		b += 1;
	return b;
}

/*
 * Looks for the blank line ("\n\n" or "\n\r\n") that ends the head in c->req[0, req_len),
 * eight bytes per step (a byte-wise loop costs the verifier too much). Whatever follows it in the
 * copy (the request's body, or the next request of a pipelining client) is erased and not counted
 * in req_len: only the head is kept and reaches the ring. Behind a request without a body, bytes
 * after the head are the next request: pipelined.
 */
static __always_inline void end_head(struct http_conn *c)
{
	__u32 len = c->req_len;
	if (len > HTTP_REQ_CAP)
		len = HTTP_REQ_CAP;
	__u64 prev_lf = 0, prev_cr = 0;
	c->head_end = 0;
#pragma clang loop unroll(disable)
	for (__u32 j = 0; j < HTTP_REQ_CAP / 8; j++) {
		__u32 at = j * 8;
		if (at >= len)
			break;
		__u64 w;
		__builtin_memcpy(&w, &c->req[at], sizeof(w));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		w = __builtin_bswap64(w); /* byte k of the copy in bits 8k..8k+7 */
#endif
		__u64 lf = bytes_equal(w, '\n');
		__u64 cr = bytes_equal(w, '\r');
		/* a '\n' whose previous byte is '\n', or whose previous two are "\n\r" */
		__u64 lf1 = lf << 8 | prev_lf >> 56;
		__u64 cr1 = cr << 8 | prev_cr >> 56;
		__u64 lf2 = lf << 16 | prev_lf >> 48;
		__u64 hit = lf & (lf1 | (cr1 & lf2));
		if (len - at < 8)
			hit &= (1ULL << ((len - at) * 8)) - 1; /* bytes past req_len are stale */
		if (hit) {
			c->head_end = at + first_marked_byte(hit) + 1; /* read back below */
			break;
		}
		prev_lf = lf;
		prev_cr = cr;
	}
	/* Fresh (volatile) loads from the map: the loop's registers, whose ranges differ per exit
	 * step, are dead from here, so the verifier explores what follows once, not once per step
	 * (887k instructions verified instead of 34k otherwise). */
	len = *(volatile __u32 *)&c->req_len;
	if (len > HTTP_REQ_CAP)
		len = HTTP_REQ_CAP;
	__u32 end = *(volatile __u32 *)&c->head_end;
	if (end == 0 || end > len) {
		if (len >= HTTP_REQ_CAP)
			c->hdr_done = HEAD_CUT;
		return;
	}
	c->hdr_done = HEAD_ENDED;
	if (end == len)
		return;
	end &= HTTP_REQ_CAP - 1; /* end < len <= HTTP_REQ_CAP */
	__u32 rest = (len - end) & (HTTP_REQ_CAP - 1); /* exact: end >= 2 */
	if (!c->has_body && rest >= 4) {
		/* The next request arrived with this one (pipelining): its response cannot be told
		 * from body bytes of this one's response, so it is counted now as unpaired. */
		char p[8] = {};
		bpf_probe_read_kernel(p, sizeof(p), &c->req[end]);
		if (method_kind(p, rest) != METHOD_NONE)
			sonde_count_lost(SONDE_HTTP_SLOT_UNPAIRED);
	}
	__u32 zero = 0;
	struct http_conn *z = bpf_map_lookup_elem(&http_zero, &zero);
	if (z)
		bpf_probe_read_kernel(&c->req[end], rest, z->req);
	c->req_len = end;
}

/* Appends the data (all iovecs, up to the cap), then keeps only the head (end_head). */
static __always_inline void append_data(struct http_conn *c, __u64 buf, __u32 src, __u64 iovcnt, __u64 total)
{
	if (src == SRC_PLAIN) {
		append(c, (const void *)buf, total);
	} else {
		struct iovec iov;
		__u64 left = total;
#pragma unroll
		for (int i = 0; i < HTTP_MAX_IOV; i++) {
			if (i >= iovcnt || left == 0)
				break;
			if (bpf_probe_read_user(&iov, sizeof(iov), (const void *)(buf + i * sizeof(iov))))
				break;
			__u64 n = iov.iov_len < left ? iov.iov_len : left;
			append(c, iov.iov_base, n);
			left -= n;
		}
	}
	end_head(c);
}

/* CO-RE walk task->files->fdt->fd[fd]->private_data (struct socket)->sk; 0 if not a socket. */
static __always_inline struct sock *fd_sock(__u32 fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = 0;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return 0;
	umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return 0;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	return BPF_CORE_READ(sock, sk);
}

/* Reads the connection tuple of fd. Returns the struct sock pointer, 0 if not an inet socket. */
static __always_inline __u64 read_tuple(__u32 fd, struct tuple *t)
{
	struct sock *sk = fd_sock(fd);
	if (!sk)
		return 0;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	__builtin_memset(t, 0, sizeof(*t));
	if (family == AF_INET) {
		bpf_core_read(t->local_addr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(t->remote_addr, 4, &sk->__sk_common.skc_daddr);
	} else if (family == AF_INET6) {
		bpf_core_read(t->local_addr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(t->remote_addr, 16, &sk->__sk_common.skc_v6_daddr);
	} else {
		return 0;
	}
	t->family = family;
	t->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
	t->remote_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	return (__u64)sk;
}

/* The server's port: ours when we serve, the peer's when we are the client. */
static __always_inline int port_wanted(struct tuple *t, __u8 role)
{
	if (!(filter_flags & SONDE_HTTP_FILTER_ACTIVE))
		return 1;
	__u16 port = role == HTTP_ROLE_SERVER ? t->local_port : t->remote_port;
	return !filter_rejects(&port_filter, &port, SONDE_HTTP_FILTER_PORT_INCLUDE);
}

/* A request starts on this fd, seen in `role`. Returns the entry to copy its head into, or 0. */
static __always_inline struct http_conn *start_request(struct conn_key *key, __u8 role, int method)
{
	__u64 now = bpf_ktime_get_ns();
	struct http_conn *c = bpf_map_lookup_elem(&http_conns, key);
	if (c) {
		if (c->role != role && c->role != HTTP_ROLE_NONE) {
			/* Body bytes of a message in the other direction, unless the fd now holds
			 * another socket (a close we did not see, dup2). */
			if ((__u64)fd_sock(key->fd) == c->sk)
				return 0;
			c->role = HTTP_ROLE_NONE;
			c->pending = 0;
		}
		/* A request while another waits for its response: keep the pending one. After a
		 * head that ended (blank line seen) of a request without a body this is the next
		 * request of a pipelining client: its response cannot be told from body bytes of the
		 * pending one's, so it is counted now as unpaired. Otherwise it is body bytes that
		 * look like a request (also after a head cut at HTTP_REQ_CAP: no end was seen). */
		if (c->pending) {
			if (now - c->start_ns < pending_timeout_ns) {
				c->req_seen = 1;
				if (c->hdr_done == HEAD_ENDED && !c->has_body)
					sonde_count_lost(SONDE_HTTP_SLOT_UNPAIRED);
				return 0;
			}
			/* Waiting longer than pending_timeout: its response is taken as never coming
			 * (or not recognised). The new request replaces it; the request dropped
			 * unanswered is counted, not lost silently. */
			sonde_count_lost(SONDE_HTTP_SLOT_UNPAIRED);
		}
	}
	/* Filter on the server port BEFORE taking a state entry: traffic the user scoped out
	 * must not evict the state of the traffic they asked for. */
	struct tuple t;
	__u64 sk = read_tuple(key->fd, &t);
	if (!sk || !port_wanted(&t, role)) {
		if (c)
			bpf_map_delete_elem(&http_conns, key);
		return 0;
	}
	if (!c) {
		__u32 zero = 0;
		struct http_conn *z = bpf_map_lookup_elem(&http_zero, &zero);
		if (!z)
			return 0;
		/* A full map evicts its least recently used entry; if that one had a request
		 * pending, its response is counted as UNPAIRED when it arrives. */
		bpf_map_update_elem(&http_conns, key, z, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&http_conns, key);
		if (!c)
			return 0;
	}
	c->sk = sk;
	c->t = t;
	c->role = role;
	c->pending = 1;
	c->req_seen = 1;
	c->has_body = method == METHOD_BODY;
	c->hdr_done = HEAD_OPEN;
	c->req_len = 0;
	c->start_ns = now;
	return c;
}

/* The response's status line arrived on this fd: emit the exchange if a request is pending. */
static __always_inline void finish_request(struct conn_key *key, __u8 role, __u16 status)
{
	if (status < 200)
		return; /* 1xx interim response: the final one follows */
	struct http_conn *c = bpf_map_lookup_elem(&http_conns, key);
	if (!c) {
		/* A response with no request state on an inet socket we would capture: an
		 * exchange we cannot report. Count it (not on files or pipes, not on ports
		 * filtered out). */
		struct tuple t;
		if (read_tuple(key->fd, &t) && port_wanted(&t, role))
			sonde_count_lost(SONDE_HTTP_SLOT_UNPAIRED);
		return;
	}
	if (c->role != role)
		return; /* body bytes of a request that look like a status line */
	if (!c->pending) {
		/* No request waits. Right after request-direction bytes this is the answer to a
		 * request that was not recognised (a method not listed, a first read of fewer than
		 * 4 bytes): an exchange we cannot report, counted. Otherwise it is body bytes of the
		 * response already reported (a body read in pieces may start with anything), or the
		 * answer to a pipelined request, counted when that request was seen. */
		if (c->req_seen) {
			c->req_seen = 0;
			sonde_count_lost(SONDE_HTTP_SLOT_UNPAIRED);
		}
		return;
	}
	c->pending = 0;
	c->req_seen = 0;

	__u32 zero = 0;
	struct http_event *e = bpf_map_lookup_elem(&http_scratch, &zero);
	if (!e) {
		sonde_count_lost(SONDE_HTTP_SLOT_EXCHANGE); /* cannot happen: a per-CPU array slot */
		return;
	}
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	e->hdr.magic = SONDE_EVENT_MAGIC;
	e->hdr.version = SONDE_SCHEMA_VERSION;
	e->hdr.type = SONDE_EVENT_HTTP_EXCHANGE;
	e->hdr.cpu = bpf_get_smp_processor_id();
	e->hdr.ts_ns = bpf_ktime_get_ns();
	e->start_ns = c->start_ns;
	e->end_ns = e->hdr.ts_ns;
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->tgid = pid_tgid >> 32;
	e->pid = (__u32)pid_tgid;
	e->fd = key->fd;
	e->status = status;
	e->role = role;
	e->family = c->t.family;
	__builtin_memcpy(e->local_addr, c->t.local_addr, 16);
	__builtin_memcpy(e->remote_addr, c->t.remote_addr, 16);
	e->local_port = c->t.local_port;
	e->remote_port = c->t.remote_port;
	__u32 len = c->req_len;
	if (len > HTTP_REQ_CAP)
		len = HTTP_REQ_CAP;
	e->req_len = len;
	e->flags = c->hdr_done == HEAD_CUT ? HTTP_FLAG_REQ_TRUNCATED : 0;
	sonde_process_comm(e->comm);
	bpf_probe_read_kernel(e->req, HTTP_REQ_CAP, c->req);
	c->req_len = 0;
	/* The record ends with the request bytes: its size says how many (hdr.size as well). */
	__u32 size = offsetof(struct http_event, req) + len;
	if (size > sizeof(*e))
		size = sizeof(*e);
	e->hdr.size = size;
	__u64 flags = BPF_RB_NO_WAKEUP; /* adaptive wakeup, as sonde_submit (common.h) */
	if (bpf_ringbuf_query(&http_events, BPF_RB_AVAIL_DATA) >= sonde_wakeup_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	if (bpf_ringbuf_output(&http_events, e, size, flags))
		sonde_count_lost(SONDE_HTTP_SLOT_EXCHANGE);
}

/* Data moving through fd: dir_read = 1 for received bytes, 0 for sent bytes. */
static __always_inline void on_data(__u32 tgid, __u32 fd, int dir_read,
				    __u64 buf, __u32 src, __u64 iovcnt, __u64 total)
{
	const void *ptr = 0;
	__u64 len = 0;
	__u16 status = 0;
	int method = METHOD_NONE;
	struct conn_key key = { .tgid = tgid, .fd = fd };

	if (first_segment(buf, src, iovcnt, total, &ptr, &len))
		return;
	int kind = classify(ptr, len, &status, &method);
	__u8 req_role = dir_read ? HTTP_ROLE_SERVER : HTTP_ROLE_CLIENT;
	__u8 resp_role = dir_read ? HTTP_ROLE_CLIENT : HTTP_ROLE_SERVER;

	if (kind == KIND_RESPONSE) {
		finish_request(&key, resp_role, status);
		return;
	}
	struct http_conn *c;
	if (kind == KIND_REQUEST) {
		c = start_request(&key, req_role, method);
	} else {
		/* In the request direction: the rest of a head split over several calls, a body,
		 * or a request that was not recognised (its response is then counted unpaired). */
		c = bpf_map_lookup_elem(&http_conns, &key);
		if (!c || c->role != req_role)
			return;
		c->req_seen = 1;
		if (!c->pending || c->hdr_done != HEAD_OPEN)
			return;
	}
	/* one call site: the head copy and scan are verified once per program */
	if (c)
		append_data(c, buf, src, iovcnt, total);
}

/* ---- sent data: syscall entry ---------------------------------------------------------- */

static __always_inline int on_send(struct trace_event_raw_sys_enter *ctx, __u32 src)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (!wanted(tgid))
		return 0;
	__u32 fd = (__u32)ctx->args[0];
	__u64 buf = ctx->args[1];
	__u64 count = ctx->args[2];
	__u64 total = count;
	if (src == SRC_IOV) {
		/* writev: sum the iovec lengths we will look at */
		struct iovec iov;
		total = 0;
#pragma unroll
		for (int i = 0; i < HTTP_MAX_IOV; i++) {
			if (i >= count)
				break;
			if (bpf_probe_read_user(&iov, sizeof(iov), (const void *)(buf + i * sizeof(iov))))
				break;
			total += iov.iov_len;
		}
	}
	on_data(tgid, fd, 0, buf, src, count, total);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_write")
int http_enter_write(struct trace_event_raw_sys_enter *ctx)
{
	return on_send(ctx, SRC_PLAIN);
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int http_enter_sendto(struct trace_event_raw_sys_enter *ctx)
{
	return on_send(ctx, SRC_PLAIN);
}

SEC("tracepoint/syscalls/sys_enter_writev")
int http_enter_writev(struct trace_event_raw_sys_enter *ctx)
{
	return on_send(ctx, SRC_IOV);
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int http_enter_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (!wanted(tgid))
		return 0;
	struct user_msghdr msg;
	if (bpf_probe_read_user(&msg, sizeof(msg), (const void *)ctx->args[1]))
		return 0;
	__u64 buf = (__u64)msg.msg_iov;
	__u64 count = msg.msg_iovlen;
	struct iovec iov;
	__u64 total = 0;
#pragma unroll
	for (int i = 0; i < HTTP_MAX_IOV; i++) {
		if (i >= count)
			break;
		if (bpf_probe_read_user(&iov, sizeof(iov), (const void *)(buf + i * sizeof(iov))))
			break;
		total += iov.iov_len;
	}
	on_data(tgid, (__u32)ctx->args[0], 0, buf, SRC_IOV, count, total);
	return 0;
}

/* ---- received data: remember the buffer at entry, inspect at exit ----------------------- */

static __always_inline int save_read(struct trace_event_raw_sys_enter *ctx, __u32 src, int is_msg)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!wanted(pid_tgid >> 32))
		return 0;
	struct read_args a = { .fd = (__u32)ctx->args[0], .src = src };
	if (is_msg) {
		struct user_msghdr msg;
		if (bpf_probe_read_user(&msg, sizeof(msg), (const void *)ctx->args[1]))
			return 0;
		a.buf = (__u64)msg.msg_iov;
		a.iovcnt = msg.msg_iovlen;
	} else {
		a.buf = ctx->args[1];
		a.iovcnt = src == SRC_IOV ? ctx->args[2] : 1;
	}
	bpf_map_update_elem(&http_reads, &pid_tgid, &a, BPF_ANY);
	return 0;
}

static __always_inline int on_read_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct read_args *a = bpf_map_lookup_elem(&http_reads, &pid_tgid);
	if (!a)
		return 0;
	struct read_args args = *a;
	bpf_map_delete_elem(&http_reads, &pid_tgid);
	long ret = ctx->ret;
	if (ret <= 0)
		return 0;
	on_data(pid_tgid >> 32, args.fd, 1, args.buf, args.src, args.iovcnt, (__u64)ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_read")
int http_enter_read(struct trace_event_raw_sys_enter *ctx)
{
	return save_read(ctx, SRC_PLAIN, 0);
}

SEC("tracepoint/syscalls/sys_enter_recvfrom")
int http_enter_recvfrom(struct trace_event_raw_sys_enter *ctx)
{
	return save_read(ctx, SRC_PLAIN, 0);
}

SEC("tracepoint/syscalls/sys_enter_readv")
int http_enter_readv(struct trace_event_raw_sys_enter *ctx)
{
	return save_read(ctx, SRC_IOV, 0);
}

SEC("tracepoint/syscalls/sys_enter_recvmsg")
int http_enter_recvmsg(struct trace_event_raw_sys_enter *ctx)
{
	return save_read(ctx, SRC_IOV, 1);
}

SEC("tracepoint/syscalls/sys_exit_read")
int http_exit_read(struct trace_event_raw_sys_exit *ctx)
{
	return on_read_exit(ctx);
}

SEC("tracepoint/syscalls/sys_exit_recvfrom")
int http_exit_recvfrom(struct trace_event_raw_sys_exit *ctx)
{
	return on_read_exit(ctx);
}

SEC("tracepoint/syscalls/sys_exit_readv")
int http_exit_readv(struct trace_event_raw_sys_exit *ctx)
{
	return on_read_exit(ctx);
}

SEC("tracepoint/syscalls/sys_exit_recvmsg")
int http_exit_recvmsg(struct trace_event_raw_sys_exit *ctx)
{
	return on_read_exit(ctx);
}

/* ---- fd reuse ---------------------------------------------------------------------------- */

SEC("tracepoint/syscalls/sys_enter_close")
int http_enter_close(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (!wanted(tgid))
		return 0;
	struct conn_key key = { .tgid = tgid, .fd = (__u32)ctx->args[0] };
	bpf_map_delete_elem(&http_conns, &key);
	return 0;
}
