/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * agentguard's kernel side observes exec, fork, exit, connect and NVIDIA device use of tasks
 * inside agent cgroups and writes one record per event into one ring buffer. This header is
 * what every hook file (process, connect, gpu, self_protection) includes: the maps more than
 * one of them uses, the scope check, the config and policy lookups, and the record writer
 * (reserve, fill_header, submit with the wakeup policy), so that every hook writes its record
 * the same way.
 *
 * Hook choice (docs/ENFORCEMENT.md): sched tracepoints and cgroup hooks cost nothing
 * outside agent cgroups; syscall tracepoints cost every task a slow path, so the agent
 * attaches them only when needed (sys_enter_ioctl when NVIDIA devices or stand-ins exist,
 * and not at all where the kernel accepts lsm/file_ioctl; the syscall outcomes when asked or
 * already paid for).
 *
 * Each *.bpf.c is compiled on its own and `bpftool gen object` links them into one object
 * (bpf/Makefile). The maps below are therefore defined __weak: every file that includes this
 * header carries the same definition, and libbpf's static linker keeps one of them (it checks
 * that the definitions match, as in the kernel selftests' linked_maps), so each map exists
 * once in the linked object, under its own name. Each file declares the same LICENSE too:
 * the linker keeps one of identical "license" sections.
 */
#ifndef AGENTGUARD_HOOKS_BPF_H
#define AGENTGUARD_HOOKS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "agentguard.h"

/* Kernel constants that vmlinux.h does not carry (it has types and enums, not #defines); those
 * the records carry (address families, TCP states) are agentguard.h's AG_AF_*, AG_TCP_*. */
#define S_IFMT         00170000
#define S_IFCHR        0020000
#define BPF_DEVCG_DEV_BLOCK 1
#define BPF_DEVCG_DEV_CHAR 2
#define SIGHUP         1
#define SIGKILL        9
#define SIGCHLD        17
#define EPERM          1

/* ---- maps shared by the hook files ---------------------------------------------- */

/* Every record, from every hook on every CPU -> the agent's consumer thread. Size set by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} ag_ring SEC(".maps") __weak;

/* Agent cgroup roots (cgroup id -> 0 for a fixed root, pattern index + 1 for one matched by
 * pattern); written by the agent at start and reload, and by scope.bpf.c at cgroup mkdir and
 * rename. Sized for a node's worth of pattern-matched workloads (pods, jobs, scopes). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u32);
} ag_scope_roots SEC(".maps") __weak;

/* Single entry: struct ag_config, written by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ag_config);
} ag_config SEC(".maps") __weak;

/* Single entry: 1 while the agent's reader is parked (idle, in a long wait that needs a
 * wakeup); written only by the consumer thread, read by wakeup_flags(). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} ag_reader SEC(".maps") __weak;

/* Emitted/lost record counters per CPU (enum ag_counter): counted by reserve/submit, read by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, AG_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} ag_counters SEC(".maps") __weak;

/* Policies of both generations; index = generation * AG_MAX_POLICIES + policy. Agent-written. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * AG_MAX_POLICIES);
	__type(key, __u32);
	__type(value, struct ag_policy);
} ag_policies SEC(".maps") __weak;

/* Cgroups that have a policy of their own (generation, cgroup id) -> policy index. Agent-written. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * AG_MAX_POLICIES);
	__type(key, struct ag_policy_root_key);
	__type(value, __u32);
} ag_policy_roots SEC(".maps") __weak;

/* Watched tasks (struct ag_task_scope), set at exec, fork and moves into scope, and by the
 * agent at start (pidfd keys) for tasks that were there before it: membership follows the task. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct ag_task_scope);
} ag_tasks SEC(".maps") __weak;

/* Single entry: how many tasks have gone on outside the agent cgroups still watched (monitor
 * mode, or waiting for the agent's kill); written by the scope hooks. While it is 0, tasks
 * outside the agent cgroups skip the task-storage lookup: they pay what they paid before. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} ag_followed SEC(".maps") __weak;

/* Record budgets per agent cgroup (struct ag_cgroup_budget); key 0, the overflow bucket, is
 * created by the agent. Read by the agent for "events lost" violations. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct ag_cgroup_budget);
} ag_budgets SEC(".maps") __weak;

/* Tunnel processes (tgid -> enum ag_tunnel): marked at the exec of a tunnel program (process.bpf.c),
 * judged by the daemon, copied to children at fork, deleted at exit; read by the connect hooks.
 * A full map leaves a new tunnel unmarked: sized for every process of the agent cgroups at once. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} ag_tunnel_pids SEC(".maps") __weak;

/* ---- helpers ------------------------------------------------------------------- */

static __always_inline struct ag_config *ag_cfg(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&ag_config, &zero);
}

static __always_inline void count(__u32 counter)
{
	__u64 *value = bpf_map_lookup_elem(&ag_counters, &counter);
	if (value)
		*value += 1;   /* per-CPU: no atomics needed */
}

/* The agent cgroup current sits in, or 0 when it is outside every agent cgroup root.
 * Decided before any ring space is reserved: one helper call and one hash lookup per
 * configured root level. The agent cgroup is the root's child that holds current (one
 * workload each where the root is a parent of workloads), or the root itself: the unit
 * of a record budget. */
static __always_inline __u64 cgroup_scope_key(void)
{
	struct ag_config *cfg = ag_cfg();
	if (!cfg)
		return 0;
	__u64 levels = cfg->scope_levels;
	for (int level = 0; level <= AG_MAX_SCOPE_LEVEL; level++) {
		if (!levels)
			break;
		if (levels & 1) {
			__u64 id = bpf_get_current_ancestor_cgroup_id(level);
			if (id && bpf_map_lookup_elem(&ag_scope_roots, &id)) {
				__u64 child = bpf_get_current_ancestor_cgroup_id(level + 1);
				return child ? child : id;
			}
		}
		levels >>= 1;
	}
	return 0;
}

/* Is a cgroup inside (or below) an agent cgroup root? For cgroups other than current's. */
static __always_inline bool cgroup_in_scope(struct cgroup *cg)
{
	struct ag_config *cfg = ag_cfg();
	if (!cfg || !cg)
		return false;
	int depth = BPF_CORE_READ(cg, level);
	__u64 levels = cfg->scope_levels;
	for (int level = 0; level <= AG_MAX_SCOPE_LEVEL; level++) {
		if (!levels || level > depth)
			break;
		if (levels & 1) {
			struct cgroup *ancestor = NULL;
			bpf_probe_read_kernel(&ancestor, sizeof(ancestor), &cg->ancestors[level]);
			__u64 id = ancestor ? BPF_CORE_READ(ancestor, kn, id) : 0;
			if (id && bpf_map_lookup_elem(&ag_scope_roots, &id))
				return true;
		}
		levels >>= 1;
	}
	return false;
}

/* For the cgroup programs: is current outside the agent cgroups? Without patterns every cgroup
 * program sits on a root and sees only its subtree (false, no lookup); with patterns they sit
 * where a pattern's literal part ends, above the matched roots, and return at once for the
 * sibling cgroups no pattern matched (one scope lookup per root level). */
static __always_inline bool cgroup_prog_outside(void)
{
	struct ag_config *cfg = ag_cfg();
	return cfg && cfg->scope_patterns && !cgroup_scope_key();
}

/* Has any task gone on outside the agent cgroups still watched? */
static __always_inline bool any_followed_outside(void)
{
	__u32 zero = 0;
	__u64 *followed = bpf_map_lookup_elem(&ag_followed, &zero);
	return followed && *followed;
}

/* The membership of a task, or of its thread group: a thread the kernel made without a fork
 * (io_uring workers) or one that predates its process's move in carries none of its own. */
static __always_inline struct ag_task_scope *task_membership(struct task_struct *task)
{
	struct ag_task_scope *ts = bpf_task_storage_get(&ag_tasks, task, 0, 0);
	return ts ? ts : bpf_task_storage_get(&ag_tasks, task->group_leader, 0, 0);
}

/* The agent cgroup a task outside the agent cgroups is still watched for, or 0. */
static __always_inline __u64 followed_outside_key(struct task_struct *task)
{
	if (!any_followed_outside())
		return 0;
	struct ag_task_scope *ts = bpf_task_storage_get(&ag_tasks, task, 0, 0);
	return ts ? ts->origin_cgroup_id : 0;
}

/* As cgroup_scope_key, for tracing programs: a task that left the agent cgroups in monitor
 * mode is still watched, under the cgroup it left (task storage; cgroup programs cannot
 * read it and need not: they run only inside the cgroups they are attached to). The gate is
 * tested before current is fetched: outside tasks pay one array lookup. */
static __always_inline __u64 task_scope_key(void)
{
	__u64 key = cgroup_scope_key();
	if (key || !any_followed_outside())
		return key;
	struct ag_task_scope *ts = bpf_task_storage_get(&ag_tasks, bpf_get_current_task_btf(), 0, 0);
	return ts ? ts->origin_cgroup_id : 0;
}

/* Is current watched? (tracing programs) */
static __always_inline bool in_scope(void)
{
	return task_scope_key() != 0;
}

/* BATCHED: wake the reader once, when this record makes the ring cross a quarter full (a
 * busy reader needs no wakeup, a polling one reads on its timer); a race between CPUs can
 * miss the crossing, which the timer covers. A parked reader (idle for a while, in a long
 * wait) is woken the kernel's way: the first record after a quiet spell pays one wakeup. */
static __always_inline __u64 wakeup_flags(__u32 record_size)
{
	struct ag_config *cfg = ag_cfg();
	if (!cfg || cfg->ringbuf_wakeup != AG_WAKEUP_BATCHED)
		return 0;
	__u32 zero = 0;
	__u32 *parked = bpf_map_lookup_elem(&ag_reader, &zero);
	if (!parked || *parked)
		return 0;
	__u64 pending = bpf_ringbuf_query(&ag_ring, BPF_RB_AVAIL_DATA);
	__u64 quarter = bpf_ringbuf_query(&ag_ring, BPF_RB_RING_SIZE) / 4;
	return pending >= quarter && pending - record_size < quarter ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* The policy slot of current: the deepest policy root above its cgroup, else the default
 * policy (index 0), in the generation in force. */
static __always_inline __u32 policy_slot(struct ag_config *cfg)
{
	__u32 generation = cfg->generation & 1;
	__u64 levels = cfg->policy_levels;
	__u32 found = 0;
	struct ag_policy_root_key key = { .generation = generation };
	for (int level = 0; level <= AG_MAX_SCOPE_LEVEL; level++) {
		if (!levels)
			break;
		if (levels & 1) {
			key.cgroup_id = bpf_get_current_ancestor_cgroup_id(level);
			__u32 *index = key.cgroup_id ? bpf_map_lookup_elem(&ag_policy_roots, &key) : NULL;
			if (index)
				found = *index;   /* deeper levels come later and win */
		}
		levels >>= 1;
	}
	return generation * AG_MAX_POLICIES + (found & (AG_MAX_POLICIES - 1));
}

static __always_inline struct ag_policy *policy_of(__u32 slot)
{
	return bpf_map_lookup_elem(&ag_policies, &slot);
}

/* ALLOWED, DENIED (enforce) or WOULD_BLOCK (monitor) for a policy that objects. */
static __always_inline __u32 objection(struct ag_policy *pol)
{
	return pol->flags & AG_POLICY_ENFORCE ? AG_VERDICT_DENIED : AG_VERDICT_WOULD_BLOCK;
}

static __always_inline void fill_header(struct ag_header *h, __u16 type, __u16 size)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 uid_gid = bpf_get_current_uid_gid();

	h->type = type;
	h->size = size;
	h->cpu = bpf_get_smp_processor_id();
	h->ktime_ns = bpf_ktime_get_ns();
	h->cgroup_id = bpf_get_current_cgroup_id();
	h->pid = pid_tgid >> 32;
	h->tid = (__u32)pid_tgid;
	h->ppid = BPF_CORE_READ(task, real_parent, tgid);
	h->uid = (__u32)uid_gid;
	h->gid = uid_gid >> 32;
	h->reserved = 0;
	bpf_get_current_comm(h->comm, sizeof(h->comm));
}

/* The budget records of an agent cgroup are charged to; the overflow bucket (0) when the map
 * is full, so that minting cgroups cannot buy a fresh budget each. */
static __always_inline struct ag_cgroup_budget *budget_of(__u64 key)
{
	struct ag_cgroup_budget *b = bpf_map_lookup_elem(&ag_budgets, &key);
	if (b)
		return b;
	struct ag_cgroup_budget fresh = {};
	bpf_map_update_elem(&ag_budgets, &key, &fresh, BPF_NOEXIST);
	b = bpf_map_lookup_elem(&ag_budgets, &key);
	if (b)
		return b;
	__u64 overflow = 0;
	return bpf_map_lookup_elem(&ag_budgets, &overflow);
}

static __always_inline void ring_full(struct ag_cgroup_budget *b)
{
	count(AG_CNT_LOST);
	if (b)
		__sync_fetch_and_add(&b->dropped_ring, 1);
}

/* How a record is admitted to the ring (admit()). */
enum ag_record_class {
	AG_RECORD_ORDINARY = 0,   /* the cgroup's ordinary budget; leaves the reserve free */
	AG_RECORD_PRIORITY = 1,   /* denials, would-blocks, scope, tamper: own budget, the whole ring */
	AG_RECORD_KILL     = 2,   /* a kill the kernel made: no budget (each costs the agent a process), the whole ring */
};

/*
 * May a record of this agent cgroup take ring space? Ordinary records are limited per agent
 * cgroup (records_per_second) and leave ring_reserve_bytes free; priority records have their
 * own per-cgroup limit and may use the whole ring, so a flood of ordinary records cannot
 * crowd them out; the record of a kill is never held to a budget, so that a flood of
 * denials cannot hide one. A drop is counted, per CPU and per agent cgroup; the agent turns
 * the latter into "events lost" violations. Enforcement never depends on the answer: callers
 * decide before they ask.
 */
static __always_inline bool admit(struct ag_cgroup_budget *b, __u64 size, __u32 class)
{
	struct ag_config *cfg = ag_cfg();
	if (!cfg || !b || class == AG_RECORD_KILL)
		return true;
	bool priority = class == AG_RECORD_PRIORITY;
	__u64 now = bpf_ktime_get_ns();
	if (now - b->window_start_ns >= 1000000000ull) {
		b->window_start_ns = now;   /* racing CPUs may both reset: a few records more, never fewer */
		b->normal = 0;
		b->priority = 0;
	}
	__u32 limit = priority ? cfg->priority_per_second : cfg->records_per_second;
	if (limit && __sync_fetch_and_add(priority ? &b->priority : &b->normal, 1) >= limit) {
		__sync_fetch_and_add(&b->dropped_rate, 1);
		count(AG_CNT_RATE_LIMITED);
		return false;
	}
	if (!priority && cfg->ring_reserve_bytes) {
		__u64 pending = bpf_ringbuf_query(&ag_ring, BPF_RB_AVAIL_DATA);
		__u64 ring = bpf_ringbuf_query(&ag_ring, BPF_RB_RING_SIZE);
		if (pending + size + cfg->ring_reserve_bytes > ring) {
			ring_full(b);
			return false;
		}
	}
	return true;
}

/* Ring space for a record of agent cgroup key (see admit), or NULL: dropped and counted. */
static __always_inline void *reserve(__u64 size, __u64 key, __u32 class)
{
	struct ag_cgroup_budget *b = budget_of(key);
	if (!admit(b, size, class))
		return NULL;
	void *rec = bpf_ringbuf_reserve(&ag_ring, size, 0);
	if (!rec)
		ring_full(b);
	return rec;
}

static __always_inline void submit(void *rec)
{
	count(AG_CNT_EMITTED);
	bpf_ringbuf_submit(rec, wakeup_flags(((struct ag_header *)rec)->size));
}

/* A record built elsewhere (per-CPU scratch: too big for the stack, or built before the
 * decision to send it), copied into the ring under the same budget as reserve(). */
static __always_inline void emit(void *rec, __u64 size, struct ag_cgroup_budget *b)
{
	if (bpf_ringbuf_output(&ag_ring, rec, size, wakeup_flags(size)) != 0)
		ring_full(b);
	else
		count(AG_CNT_EMITTED);
}

static __always_inline void output(void *rec, __u64 size, __u64 key, __u32 class)
{
	struct ag_cgroup_budget *b = budget_of(key);
	if (admit(b, size, class))
		emit(rec, size, b);
}

#endif /* AGENTGUARD_HOOKS_BPF_H */
