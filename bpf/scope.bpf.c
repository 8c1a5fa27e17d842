// SPDX-License-Identifier: GPL-2.0-only
/*
 * Scope by pattern: agent cgroups named by a glob (agent_cgroups entries with '*' or '?').
 * A cgroup v2 directory made at a path that matches a pattern enters
 * ag_scope_roots here, in the kernel, before mkdir(2) returns: cgroup_mkdir runs under
 * cgroup_mutex, and so do writes to cgroup.procs and clone3(CLONE_INTO_CGROUP), so no task can
 * be in the new cgroup before its id is in the map: covered from its first instruction. The
 * agent walks the cgroups that existed before it after these programs are attached.
 *
 * Semantics (the agent's CgroupPattern has the same, proven by a shared table of cases): the
 * whole path relative to the cgroup2 mount; '*' any run of characters and '?' one character,
 * neither ever matching '/'; everything else literal. cgroup v2 has no rename (EPERM; only
 * v1 hierarchies have one), so a cgroup's name, and whether it matched, holds until rmdir.
 */
#include "hooks.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* The compiled patterns (struct ag_scope_pattern), agent-written; ag_config.scope_patterns in use. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, AG_SCOPE_PATTERNS);
	__type(key, __u32);
	__type(value, struct ag_scope_pattern);
} ag_scope_patterns SEC(".maps");

/* The classic iterative glob matcher, one step per bpf_loop iteration: remembers the last
 * '*' and, on a mismatch, lets it take one more character, unless that character is '/'
 * ('*' stays inside one path component, so an earlier '*' never needs another try). Its state
 * lives in a per-CPU map value, not on the stack: the verifier then sees each position as
 * any number (bounded by masks) and checks the step once, instead of once per position. */
#define NO_STAR 0xffffffffu

struct glob {
	char path[AG_SCOPE_PATH_LEN];     /* the new cgroup's path, as the kernel gives it ("/a/b") */
	char pat[AG_SCOPE_PATTERN_LEN];   /* the pattern being tried */
	__u32 m, n;               /* pattern length; path end (index) */
	__u32 p, s;               /* positions */
	__u32 star, mark;         /* last '*' (NO_STAR: none) and the path position it took up to */
	int result;               /* -1 while undecided */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct glob);
} ag_scope_scratch SEC(".maps");

static long glob_step(__u64 i, void *unused)
{
	__u32 zero = 0;
	struct glob *g = bpf_map_lookup_elem(&ag_scope_scratch, &zero);
	if (!g)
		return 1;
	__u32 p = g->p, s = g->s, m = g->m;
	if (s >= g->n) {
		/* path used up: only '*' may be left in the pattern */
		if (p < m && g->pat[p & (AG_SCOPE_PATTERN_LEN - 1)] == '*') {
			g->p = p + 1;
			return 0;
		}
		g->result = p == m;
		return 1;
	}
	char sc = g->path[s & (AG_SCOPE_PATH_LEN - 1)];
	char pc = p < m ? g->pat[p & (AG_SCOPE_PATTERN_LEN - 1)] : 0;
	if (p < m && pc == '*') {
		g->star = p;
		g->p = p + 1;
		g->mark = s;
		return 0;
	}
	if (p < m && (pc == sc || (pc == '?' && sc != '/'))) {
		g->p = p + 1;
		g->s = s + 1;
		return 0;
	}
	if (g->star != NO_STAR && g->path[g->mark & (AG_SCOPE_PATH_LEN - 1)] != '/') {
		g->mark++;
		g->s = g->mark;
		g->p = g->star + 1;
		return 0;
	}
	g->result = 0;
	return 1;
}

/* Enough steps for any pattern and path: each path position is retried at most once per pattern position. */
#define GLOB_STEPS ((AG_SCOPE_PATH_LEN + 1) * (AG_SCOPE_PATTERN_LEN + 1))

/* Is cgrp a cgroup v2 directory? Hybrid hosts fire these tracepoints for v1 hierarchies too;
 * the default (v2) hierarchy is hierarchy 0. */
static __always_inline bool unified(struct cgroup *cgrp)
{
	return BPF_CORE_READ(cgrp, root, hierarchy_id) == 0;
}

/* A new cgroup: into ag_scope_roots if a pattern matches its path. */
static __always_inline void named(struct cgroup *cgrp, const char *path)
{
	struct ag_config *cfg = ag_cfg();
	if (!cfg || !cfg->scope_patterns || !unified(cgrp))
		return;
	__u64 id = BPF_CORE_READ(cgrp, kn, id);
	if (bpf_map_lookup_elem(&ag_scope_roots, &id))
		return;   /* in scope already (the start-up walk got there first) */
	__u32 zero = 0;
	struct glob *g = bpf_map_lookup_elem(&ag_scope_scratch, &zero);
	if (!g)
		return;
	long len = bpf_probe_read_kernel_str(g->path, sizeof(g->path), path);
	if (len < 2 || len >= AG_SCOPE_PATH_LEN)
		return;   /* the root, unreadable, or longer than any path looked at */
	__u32 level = BPF_CORE_READ(cgrp, level);
	__u32 patterns = cfg->scope_patterns;
	for (__u32 i = 0; i < AG_SCOPE_PATTERNS; i++) {
		if (i >= patterns)
			break;
		struct ag_scope_pattern *pat = bpf_map_lookup_elem(&ag_scope_patterns, &i);
		if (!pat || pat->depth != level || !pat->len || pat->len >= AG_SCOPE_PATTERN_LEN)
			continue;
		if (bpf_probe_read_kernel(g->pat, sizeof(g->pat), pat->text))
			continue;
		/* the kernel's path starts with '/': the pattern is matched from the character after it */
		g->m = pat->len;
		g->n = len - 1;
		g->p = 0;
		g->s = 1;
		g->star = NO_STAR;
		g->mark = 0;
		g->result = -1;
		bpf_loop(GLOB_STEPS, glob_step, NULL, 0);
		if (g->result != 1)
			continue;
		__u32 value = i + 1;
		long err = bpf_map_update_elem(&ag_scope_roots, &id, &value, BPF_NOEXIST);
		if (err && err != -17 /* EEXIST: the start-up walk was first */)
			count(AG_CNT_SCOPE_FULL);
		return;
	}
}

SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(ag_cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
	named(cgrp, path);
	return 0;
}

/* A matched cgroup removed: its entry goes, so that churn does not fill the map. */
SEC("tp_btf/cgroup_rmdir")
int BPF_PROG(ag_cgroup_rmdir, struct cgroup *cgrp, const char *path)
{
	if (!unified(cgrp))
		return 0;
	__u64 id = BPF_CORE_READ(cgrp, kn, id);
	__u32 *value = bpf_map_lookup_elem(&ag_scope_roots, &id);
	if (value && *value)
		bpf_map_delete_elem(&ag_scope_roots, &id);
	return 0;
}
