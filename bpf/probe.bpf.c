// SPDX-License-Identifier: GPL-2.0-only
/*
 * Minimal programs, one per hook type, used by `sonde doctor` and the start-up hook ladder to
 * learn what this kernel lets us load and attach. They do nothing when they run.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} probe_ring SEC(".maps");

SEC("fentry/tcp_v4_connect")
int BPF_PROG(probe_fentry, struct sock *sk)
{
	return 0;
}

SEC("kprobe/tcp_v4_connect")
int BPF_KPROBE(probe_kprobe, struct sock *sk)
{
	return 0;
}

SEC("tracepoint/sock/inet_sock_set_state")
int probe_tracepoint(void *ctx)
{
	return 0;
}

SEC("raw_tracepoint/inet_sock_set_state")
int probe_raw_tracepoint(void *ctx)
{
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(probe_uprobe)
{
	return 0;
}

SEC("tracepoint/sock/inet_sock_set_state")
int probe_ringbuf(void *ctx)
{
	/* never reached with data: the probe only checks that a ringbuf-using program loads */
	void *r = bpf_ringbuf_reserve(&probe_ring, 8, 0);
	if (r)
		bpf_ringbuf_discard(r, 0);
	return 0;
}
