// SPDX-License-Identifier: GPL-2.0-only
/*
 * Sonde TCP connection lifecycle.
 *
 * The state machine comes from the sock:inet_sock_set_state tracepoint. Only transitions that
 * run inside connect() (CLOSE -> SYN_SENT) know the process; SYN_SENT -> ESTABLISHED runs in
 * softirq. So the owner (pid, process name, cgroup) is remembered per socket when the connect
 * starts and read back at the later transitions. Which hook remembers it is the "ladder" chosen
 * by user space (connect_hook): fentry or kprobe on tcp_v{4,6}_connect where the kernel allows,
 * else the CLOSE -> SYN_SENT transition itself. Inbound owners come from accept()/accept4() exits.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "common.h"
#include "tcp.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define SOCK_STREAM 1
#define RCV_SHUTDOWN 1

#define ECONNRESET 104
#define ENETUNREACH 101
#define ETIMEDOUT 110
#define ECONNREFUSED 111
#define EHOSTUNREACH 113

char LICENSE[] SEC("license") = "GPL";

/* Set by user space before load. */
const volatile __u8 connect_hook = SONDE_TCP_HOOK_TRACEPOINT;
const volatile __u32 filter_flags = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22); /* user space sets the configured size before load */
} tcp_events SEC(".maps");

/* What we know about a socket between its transitions. */
struct sock_info {
	__u64 start_ns;       /* SYN_SENT (outbound) or ESTABLISHED (inbound) */
	__u64 established_ns; /* 0 until the handshake completes */
	__u64 cgroup_id;
	__u32 pid;
	__u32 tid;
	char comm[16];
	__u8 direction;
	__u8 has_owner;
	__u16 local_port; /* as seen when established: the socket's may be 0 by the time it closes */
	__u8 pad[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536); /* user space sets tcp.max_connections before load */
	__type(key, __u64);
	__type(value, struct sock_info);
} tcp_socks SEC(".maps");

#include "filter_maps.h"

/* Stable prefix of the tcp:tcp_retransmit_skb record (same on every kernel since 4.16). */
struct sonde_tp_retransmit {
	__u64 common;
	const void *skbaddr;
	const void *skaddr;
	int state;
};

static __always_inline int filter_rejects(void *map, void *key, __u32 include_flag)
{
	__u8 *v = bpf_map_lookup_elem(map, key);
	if (v && *v == SONDE_FILTER_EXCLUDE)
		return 1;
	if ((filter_flags & include_flag) && !(v && *v == SONDE_FILTER_INCLUDE))
		return 1;
	return 0;
}

/* server_port: remote port for outbound, local port for inbound. */
static __always_inline int allowed(struct sock_info *info, __u16 server_port)
{
	if (!(filter_flags & SONDE_TCP_FILTER_ACTIVE))
		return 1;
	if (filter_rejects(&port_filter, &server_port, SONDE_TCP_FILTER_PORT_INCLUDE))
		return 0;
	if (filter_rejects(&pid_filter, &info->pid, SONDE_TCP_FILTER_PID_INCLUDE))
		return 0;
	if (filter_rejects(&comm_filter, info->comm, SONDE_TCP_FILTER_COMM_INCLUDE))
		return 0;
	return 1;
}

static __always_inline void owner_from_current(struct sock_info *info)
{
	__u64 id = bpf_get_current_pid_tgid();
	info->pid = id >> 32;
	info->tid = (__u32)id;
	info->cgroup_id = bpf_get_current_cgroup_id();
	sonde_process_comm(info->comm); /* the process's name, not the thread's */
	info->has_owner = 1;
}

static __always_inline void remember_connect(struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct sock_info info = {};
	owner_from_current(&info);
	info.start_ns = bpf_ktime_get_ns();
	info.direction = SONDE_TCP_DIR_OUTBOUND;
	bpf_map_update_elem(&tcp_socks, &key, &info, BPF_ANY);
}

static __always_inline void fill_socket(struct sonde_tcp_event *e, struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	e->sock_id = (__u64)sk;
	e->family = family;
	e->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->remote_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	e->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	if (family == AF_INET) {
		bpf_core_read(e->local_addr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(e->remote_addr, 4, &sk->__sk_common.skc_daddr);
	} else {
		bpf_core_read(e->local_addr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(e->remote_addr, 16, &sk->__sk_common.skc_v6_daddr);
	}
}

static __always_inline void fill_owner(struct sonde_tcp_event *e, struct sock_info *info)
{
	e->pid = info->pid;
	e->tid = info->tid;
	e->cgroup_id = info->cgroup_id;
	e->direction = info->direction;
	__builtin_memcpy(e->comm, info->comm, sizeof(e->comm));
}

static __always_inline struct sonde_tcp_event *reserve_tcp(__u8 type, __u32 slot)
{
	struct sonde_tcp_event *e = sonde_reserve(&tcp_events, sizeof(*e), type, slot);
	if (e)
		__builtin_memset((char *)e + sizeof(e->hdr), 0, sizeof(*e) - sizeof(e->hdr));
	return e;
}

static __always_inline __u8 outcome_of(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return SONDE_TCP_OUTCOME_REFUSED;
	case ETIMEDOUT:
		return SONDE_TCP_OUTCOME_TIMEOUT;
	case ECONNRESET:
		return SONDE_TCP_OUTCOME_RESET;
	case EHOSTUNREACH:
	case ENETUNREACH:
		return SONDE_TCP_OUTCOME_UNREACHABLE;
	default:
		return SONDE_TCP_OUTCOME_ERROR;
	}
}

static __always_inline void emit_connect(struct sock *sk, struct sock_info *info, __u64 now, __u8 outcome, int err)
{
	struct sonde_tcp_event *e = reserve_tcp(SONDE_EVENT_TCP_CONNECT, SONDE_TCP_SLOT_STATE);
	if (!e)
		return;
	fill_socket(e, sk);
	fill_owner(e, info);
	info->local_port = e->local_port;
	e->duration_ns = now - info->start_ns;
	e->outcome = outcome;
	e->error = err;
	sonde_submit(&tcp_events, e);
}

static __always_inline void emit_close(struct sock *sk, struct sock_info *info, __u64 now)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	struct sonde_tcp_event *e = reserve_tcp(SONDE_EVENT_TCP_CLOSE, SONDE_TCP_SLOT_STATE);
	if (!e)
		return;
	fill_socket(e, sk);
	fill_owner(e, info);
	/* A socket handed over to TIME_WAIT has given its port to the timewait sock already. */
	if (!e->local_port)
		e->local_port = info->local_port;
	e->duration_ns = now - info->established_ns;
	/*
	 * Payload bytes: bytes_sent counts data segments including retransmissions (bytes_acked would
	 * also count the SYN and FIN sequence numbers); bytes_received advances with rcv_nxt, which
	 * also steps over a received FIN (then RCV_SHUTDOWN is set: tcp_done() has not run yet here).
	 */
	e->bytes_sent = BPF_CORE_READ(tp, bytes_sent) - BPF_CORE_READ(tp, bytes_retrans);
	__u64 received = BPF_CORE_READ(tp, bytes_received);
	__u8 shutdown = BPF_CORE_READ(sk, sk_shutdown);
	if ((shutdown & RCV_SHUTDOWN) && received > 0)
		received -= 1;
	e->bytes_received = received;
	e->retransmits = BPF_CORE_READ(tp, total_retrans);
	e->error = BPF_CORE_READ(sk, sk_err);
	sonde_submit(&tcp_events, e);
}

/*
 * One state transition. Runs from the raw tracepoint where the kernel allows it (user space
 * prefers it): a classic tracepoint program is skipped by the kernel whenever ANY other
 * kprobe/tracepoint BPF program is running on that CPU (bpf_prog_active), e.g. when the timer
 * softirq that times a connect out interrupts another tool's syscall probe, and the event is
 * gone. A raw tracepoint is only skipped when it interrupts itself. Both kinds count their
 * skipped runs in the program's recursion_misses, which user space reports as lost.
 */
static __always_inline int on_state(struct sock *sk, int oldstate, int newstate, __u16 server_port)
{
	__u64 key = (__u64)sk;
	__u64 now = bpf_ktime_get_ns();
	struct sock_info *info;

	if (oldstate == TCP_CLOSE && newstate == TCP_SYN_SENT) {
		if (connect_hook == SONDE_TCP_HOOK_TRACEPOINT) {
			remember_connect(sk); /* runs inside connect(): current is the owner */
		} else {
			info = bpf_map_lookup_elem(&tcp_socks, &key);
			if (info)
				info->start_ns = now; /* the SYN leaves now; time the handshake from here */
		}
		return 0;
	}

	if (oldstate == TCP_SYN_SENT) {
		info = bpf_map_lookup_elem(&tcp_socks, &key);
		if (!info) {
			/*
			 * A connect outcome with no owner state: the entry was evicted from the LRU
			 * socket map (more connections in flight than tcp.max_connections) or the connect
			 * began before Sonde. Not reportable as such: count it (scoped by the port filter; pid and
			 * process filters cannot be applied without the owner).
			 */
			if (newstate != TCP_ESTABLISHED && newstate != TCP_CLOSE)
				return 0;
			/* Only the port filter can still be applied (the owner is unknown). */
			if ((filter_flags & SONDE_TCP_FILTER_ACTIVE) &&
			    filter_rejects(&port_filter, &server_port, SONDE_TCP_FILTER_PORT_INCLUDE))
				return 0;
			sonde_count_lost(SONDE_TCP_SLOT_EVICTED);
			return 0;
		}
		if (!allowed(info, server_port)) {
			bpf_map_delete_elem(&tcp_socks, &key);
			return 0;
		}
		if (newstate == TCP_ESTABLISHED) {
			info->established_ns = now;
			emit_connect(sk, info, now, SONDE_TCP_OUTCOME_SUCCESS, 0);
		} else if (newstate == TCP_CLOSE) {
			int err = BPF_CORE_READ(sk, sk_err);
			emit_connect(sk, info, now, outcome_of(err), err);
			bpf_map_delete_elem(&tcp_socks, &key);
		}
		return 0;
	}

	if (oldstate == TCP_SYN_RECV && newstate == TCP_ESTABLISHED) {
		struct sock_info fresh = {};
		fresh.start_ns = now;
		fresh.established_ns = now;
		fresh.direction = SONDE_TCP_DIR_INBOUND;
		/* accept() may already have created the entry; keep its owner then */
		if (bpf_map_update_elem(&tcp_socks, &key, &fresh, BPF_NOEXIST) != 0) {
			info = bpf_map_lookup_elem(&tcp_socks, &key);
			if (info && !info->established_ns)
				info->established_ns = now;
		}
		return 0;
	}

	if (newstate == TCP_CLOSE) {
		info = bpf_map_lookup_elem(&tcp_socks, &key);
		if (!info)
			return 0;
		if (info->has_owner && info->established_ns)
			emit_close(sk, info, now);
		bpf_map_delete_elem(&tcp_socks, &key);
	}
	return 0;
}

SEC("?raw_tracepoint/inet_sock_set_state") /* "?": loaded only when user space picks it */
int sonde_tcp_state_raw(struct bpf_raw_tracepoint_args *ctx)
{
	/* TP_PROTO(const struct sock *sk, const int oldstate, const int newstate) */
	struct sock *sk = (struct sock *)ctx->args[0];
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	__u16 dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	return on_state(sk, (int)ctx->args[1], (int)ctx->args[2], dport);
}

SEC("tracepoint/sock/inet_sock_set_state")
int sonde_tcp_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	return on_state((struct sock *)ctx->skaddr, ctx->oldstate, ctx->newstate, ctx->dport);
}

/* Inbound: the process that accept()s a connection owns it. */
static __always_inline int on_accept_exit(long fd)
{
	if (fd < 0)
		return 0;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	unsigned int max_fds = BPF_CORE_READ(fdt, max_fds);
	if (fd >= max_fds)
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = 0;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	if (!f)
		return 0;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	if (!sock || BPF_CORE_READ(sock, type) != SOCK_STREAM)
		return 0;
	struct sock *sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return 0;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;

	__u64 key = (__u64)sk;
	__u64 now = bpf_ktime_get_ns();
	struct sock_info *info = bpf_map_lookup_elem(&tcp_socks, &key);
	if (!info) {
		/* accepted before we saw the handshake (or Sonde started in between) */
		struct sock_info fresh = {};
		fresh.start_ns = now;
		fresh.established_ns = now;
		fresh.direction = SONDE_TCP_DIR_INBOUND;
		bpf_map_update_elem(&tcp_socks, &key, &fresh, BPF_ANY);
		info = bpf_map_lookup_elem(&tcp_socks, &key);
		if (!info)
			return 0;
	}
	if (info->has_owner)
		return 0;
	owner_from_current(info);
	info->direction = SONDE_TCP_DIR_INBOUND;
	__u16 server_port = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (!allowed(info, server_port)) {
		bpf_map_delete_elem(&tcp_socks, &key);
		return 0;
	}

	struct sonde_tcp_event *e = reserve_tcp(SONDE_EVENT_TCP_ACCEPT, SONDE_TCP_SLOT_ACCEPT);
	if (!e)
		return 0;
	fill_socket(e, sk);
	fill_owner(e, info);
	info->local_port = e->local_port;
	e->duration_ns = info->established_ns ? now - info->established_ns : 0;
	e->outcome = SONDE_TCP_OUTCOME_SUCCESS;
	sonde_submit(&tcp_events, e);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int sonde_tcp_accept4_exit(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int sonde_tcp_accept_exit(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept_exit(ctx->ret);
}

static __always_inline int on_retransmit(struct sock *sk, int state)
{
	__u64 key = (__u64)sk;
	struct sock_info *info = bpf_map_lookup_elem(&tcp_socks, &key);
	if (filter_flags & SONDE_TCP_FILTER_ACTIVE) {
		if (!(info && info->has_owner))
			return 0; /* unknown owner: a filter cannot vouch for it */
		/* The same rules as the connect and accept events, before any ring space is taken. */
		__u16 server_port = info->direction == SONDE_TCP_DIR_INBOUND
			? BPF_CORE_READ(sk, __sk_common.skc_num)
			: bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
		if (!allowed(info, server_port))
			return 0;
	}
	struct sonde_tcp_event *e = reserve_tcp(SONDE_EVENT_TCP_RETRANSMIT, SONDE_TCP_SLOT_RETRANSMIT);
	if (!e)
		return 0;
	fill_socket(e, sk);
	if (info)
		fill_owner(e, info);
	e->state = state;
	sonde_submit(&tcp_events, e);
	return 0;
}

SEC("?raw_tracepoint/tcp_retransmit_skb")
int sonde_tcp_retransmit_raw(struct bpf_raw_tracepoint_args *ctx)
{
	/* TP_PROTO(const struct sock *sk, const struct sk_buff *skb, ...) */
	struct sock *sk = (struct sock *)ctx->args[0];
	return on_retransmit(sk, BPF_CORE_READ(sk, __sk_common.skc_state));
}

SEC("tracepoint/tcp/tcp_retransmit_skb")
int sonde_tcp_retransmit(struct sonde_tp_retransmit *ctx)
{
	return on_retransmit((struct sock *)ctx->skaddr, ctx->state);
}

/* Ladder rungs 1 and 2: remember the owner at connect() entry. Loaded only when chosen. */
SEC("fentry/tcp_v4_connect")
int BPF_PROG(sonde_tcp_fentry_v4_connect, struct sock *sk)
{
	remember_connect(sk);
	return 0;
}

SEC("fentry/tcp_v6_connect")
int BPF_PROG(sonde_tcp_fentry_v6_connect, struct sock *sk)
{
	remember_connect(sk);
	return 0;
}

SEC("kprobe/tcp_v4_connect")
int BPF_KPROBE(sonde_tcp_kprobe_v4_connect, struct sock *sk)
{
	remember_connect(sk);
	return 0;
}

SEC("kprobe/tcp_v6_connect")
int BPF_KPROBE(sonde_tcp_kprobe_v6_connect, struct sock *sk)
{
	remember_connect(sk);
	return 0;
}
