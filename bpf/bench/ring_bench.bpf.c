// SPDX-License-Identifier: GPL-2.0-only
/*
 * The ring benchmark's producer (scripts/bench-ring.sh, docs/BENCHMARKS.md), never shipped:
 * bpf/Makefile links it with the agent's own hook files into agentguard-bench.bpf.o, next to
 * the agent's object and not in the jar, so that the benchmark runs against the agent's ring,
 * maps and record writer. It hooks sys_enter_getpgid, a cheap syscall no hook traces, to make
 * getpgid(n) from an in-scope task write n records the way the hooks do (reserve, header,
 * submit with the wakeup policy): a producer faster than one syscall per record, so that the
 * readers' own ceiling shows. Records are GPU-ioctl-sized, or header-only (64 bytes) when bit
 * 32 of the argument is set; the payload is left as reserved. '?' turns autoload off: the
 * benchmark readers load this program alone.
 */
#include "../hooks.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define AG_BENCH_HEADER_ONLY (1ULL << 32)

static long bench_emit_ioctl(__u64 index, void *key)
{
	struct ag_gpu_ioctl *g = reserve(sizeof(*g), *(__u64 *)key, AG_RECORD_ORDINARY);
	if (!g)
		return 0;   /* ring full: counted, and the burst goes on so that losses show */
	fill_header(&g->h, AG_REC_GPU_IOCTL, sizeof(*g));
	submit(g);
	return 0;
}

static long bench_emit_header(__u64 index, void *key)
{
	struct ag_header *h = reserve(sizeof(*h), *(__u64 *)key, AG_RECORD_ORDINARY);
	if (!h)
		return 0;
	fill_header(h, AG_REC_GPU_IOCTL, sizeof(*h));
	submit(h);
	return 0;
}

SEC("?tracepoint/syscalls/sys_enter_getpgid")
int ag_bench_emit(struct trace_event_raw_sys_enter *ctx)
{
	__u64 key = cgroup_scope_key();
	if (!key)
		return 0;
	__u64 arg = ctx->args[0];
	__u32 n = (__u32)arg < (1 << 23) ? (__u32)arg : (1 << 23);
	if (arg & AG_BENCH_HEADER_ONLY)
		bpf_loop(n, bench_emit_header, &key, 0);
	else
		bpf_loop(n, bench_emit_ioctl, &key, 0);
	return 0;
}
