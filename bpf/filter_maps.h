/* In-kernel filter maps shared by Sonde's programs (tcp.bpf.c, http.bpf.c). User space fills them
 * before attach from the receiver's include/exclude config; values: 1 = include, 2 = exclude. */
#ifndef SONDE_FILTER_MAPS_H
#define SONDE_FILTER_MAPS_H

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u16);
	__type(value, __u8);
} port_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, char[16]);
	__type(value, __u8);
} comm_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} pid_filter SEC(".maps");

#endif
