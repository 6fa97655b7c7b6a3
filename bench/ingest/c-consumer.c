// SPDX-License-Identifier: Apache-2.0
/*
 * The limit for bench:ingest: a minimal libbpf consumer of the generator's ring buffer.
 *   c-consumer GEN_OBJ EVENTS CYCLES RING_BYTES SEED
 * Each cycle fills the ring with EVENTS real Sonde TCP events (gen.bpf.c, BPF_PROG_TEST_RUN),
 * then drains it with ring_buffer__consume(), timing only the drain. The callback does the least
 * a real consumer must: check the header's magic and read the type and size. One JSON line per
 * cycle: {"events":N,"cpu_ns":N,"wall_ns":N,"fill_ns":N,"made":N,"bad":N}.
 * Build: cc -O2 -o c-consumer c-consumer.c -lbpf
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

struct gen_args {
	uint32_t count;
	uint32_t seed;
};

struct tally {
	uint64_t events;
	uint64_t bad;
	uint64_t sum;
};

static int on_record(void *ctx, void *data, size_t size)
{
	struct tally *t = ctx;
	const uint8_t *p = data;
	uint16_t magic;
	uint16_t len;
	memcpy(&magic, p, 2);
	memcpy(&len, p + 4, 2);
	if (size < 16 || magic != 0x53DE || len != size) {
		t->bad++;
		return 0;
	}
	t->sum += p[3] + len;
	t->events++;
	return 0;
}

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: %s GEN_OBJ EVENTS CYCLES RING_BYTES SEED\n", argv[0]);
		return 2;
	}
	const char *path = argv[1];
	uint32_t events = (uint32_t)strtoul(argv[2], NULL, 10);
	int cycles = atoi(argv[3]);
	uint32_t ring_bytes = (uint32_t)strtoul(argv[4], NULL, 10);
	uint32_t seed = (uint32_t)strtoul(argv[5], NULL, 10);

	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	if (!obj) {
		fprintf(stderr, "c-consumer: open %s: %s\n", path, strerror(errno));
		return 1;
	}
	struct bpf_map *map = bpf_object__find_map_by_name(obj, "events");
	struct bpf_program *prog = bpf_object__find_program_by_name(obj, "generate");
	if (!map || !prog || bpf_map__set_max_entries(map, ring_bytes) != 0) {
		fprintf(stderr, "c-consumer: generator object lacks map 'events' or program 'generate'\n");
		return 1;
	}
	int err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, "c-consumer: load: %s\n", strerror(-err));
		return 1;
	}
	struct tally tally = { 0 };
	struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(map), on_record, &tally, NULL);
	if (!rb) {
		fprintf(stderr, "c-consumer: ring_buffer__new: %s\n", strerror(errno));
		return 1;
	}
	for (int c = 0; c < cycles; c++) {
		struct gen_args args = { .count = events, .seed = seed + (uint32_t)c * events };
		LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &args, .ctx_size_in = sizeof(args));
		uint64_t f0 = now_ns(CLOCK_MONOTONIC);
		err = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);
		uint64_t f1 = now_ns(CLOCK_MONOTONIC);
		if (err) {
			fprintf(stderr, "c-consumer: BPF_PROG_TEST_RUN: %s\n", strerror(-err));
			return 1;
		}
		tally.events = 0;
		tally.bad = 0;
		uint64_t c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID), w0 = now_ns(CLOCK_MONOTONIC);
		while (ring_buffer__consume(rb) > 0)
			;
		uint64_t c1 = now_ns(CLOCK_PROCESS_CPUTIME_ID), w1 = now_ns(CLOCK_MONOTONIC);
		printf("{\"events\":%llu,\"cpu_ns\":%llu,\"wall_ns\":%llu,\"fill_ns\":%llu,\"made\":%u,\"bad\":%llu,\"sum\":%llu}\n",
		       (unsigned long long)tally.events, (unsigned long long)(c1 - c0), (unsigned long long)(w1 - w0),
		       (unsigned long long)(f1 - f0), opts.retval, (unsigned long long)tally.bad,
		       (unsigned long long)tally.sum);
		fflush(stdout);
	}
	ring_buffer__free(rb);
	bpf_object__close(obj);
	return 0;
}
