// SPDX-License-Identifier: GPL-2.0-only
/*
 * Scope by pattern: agent cgroups named by a glob (agent_cgroups entries with '*' or '?').
 * A cgroup v2 directory made (or renamed) to a path that matches a pattern enters
 * ag_scope_roots here, in the kernel, before mkdir(2) returns: cgroup_mkdir runs under
 * cgroup_mutex, and so do writes to cgroup.procs and clone3(CLONE_INTO_CGROUP), so no task can
 * be in the new cgroup before its id is in the map: covered from its first instruction. The
 * agent walks the cgroups that existed before it after these programs are attached.
 *
 * Semantics (the agent's CgroupPattern has the same, proven by a shared table of cases): the
 * whole path relative to the cgroup2 mount; '*' any run of characters and '?' one character,
 * neither ever matching '/'; everything else literal. Renames are sticky: a matched cgroup
 * renamed to a non-matching name stays in scope (fail safe: a task cannot rename itself out).
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

/* The new cgroup's path: too big for the stack. */
struct scope_scratch {
	char path[AG_SCOPE_PATH_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scope_scratch);
} ag_scope_scratch SEC(".maps");

/* The classic iterative glob matcher, one step per bpf_loop iteration: remembers the last
 * '*' and, on a mismatch, lets it take one more character, unless that character is '/'
 * ('*' stays inside one path component, so an earlier '*' never needs another try). */
struct glob {
	const char *pat;
	const char *str;
	__u32 m, n;               /* pattern length; path end (index) */
	__u32 p, s;               /* positions */
	__u32 star, mark;         /* last '*' (NO_STAR: none) and the path position it took up to */
	int result;               /* -1 while undecided */
};

#define NO_STAR 0xffffffffu

static long glob_step(__u64 i, void *data)
{
	struct glob *g = data;
	if (g->s >= g->n) {
		/* path used up: only '*' may be left in the pattern */
		if (g->p < g->m && g->pat[g->p & (AG_SCOPE_PATTERN_LEN - 1)] == '*') {
			g->p++;
			return 0;
		}
		g->result = g->p == g->m;
		return 1;
	}
	char sc = g->str[g->s & (AG_SCOPE_PATH_LEN - 1)];
	char pc = g->p < g->m ? g->pat[g->p & (AG_SCOPE_PATTERN_LEN - 1)] : 0;
	if (g->p < g->m && pc == '*') {
		g->star = g->p++;
		g->mark = g->s;
		return 0;
	}
	if (g->p < g->m && (pc == sc || (pc == '?' && sc != '/'))) {
		g->p++;
		g->s++;
		return 0;
	}
	if (g->star != NO_STAR && g->str[g->mark & (AG_SCOPE_PATH_LEN - 1)] != '/') {
		g->s = ++g->mark;
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

/* A cgroup got a name (mkdir, rename): into ag_scope_roots if a pattern matches it. */
static __always_inline void named(struct cgroup *cgrp, const char *path)
{
	struct ag_config *cfg = ag_cfg();
	if (!cfg || !cfg->scope_patterns || !unified(cgrp))
		return;
	__u64 id = BPF_CORE_READ(cgrp, kn, id);
	if (bpf_map_lookup_elem(&ag_scope_roots, &id))
		return;   /* in scope already: a fixed root, or matched before (renames are sticky) */
	__u32 zero = 0;
	struct scope_scratch *sc = bpf_map_lookup_elem(&ag_scope_scratch, &zero);
	if (!sc)
		return;
	long len = bpf_probe_read_kernel_str(sc->path, sizeof(sc->path), path);
	if (len < 2 || len >= AG_SCOPE_PATH_LEN)
		return;   /* the root, unreadable, or longer than any path looked at */
	__u32 level = BPF_CORE_READ(cgrp, level);
	__u32 patterns = cfg->scope_patterns;
	for (__u32 i = 0; i < AG_SCOPE_PATTERNS; i++) {
		if (i >= patterns)
			break;
		struct ag_scope_pattern *pat = bpf_map_lookup_elem(&ag_scope_patterns, &i);
		if (!pat || pat->depth != level || !pat->len)
			continue;
		/* the kernel's path starts with '/': the pattern is matched from the character after it */
		struct glob g = { .pat = pat->text, .str = sc->path, .m = pat->len, .n = len - 1, .p = 0, .s = 1,
				  .star = NO_STAR, .mark = 0, .result = -1 };
		if (g.m >= AG_SCOPE_PATTERN_LEN)
			continue;
		bpf_loop(GLOB_STEPS, glob_step, &g, 0);
		if (g.result != 1)
			continue;
		__u32 value = i + 1;
		long err = bpf_map_update_elem(&ag_scope_roots, &id, &value, BPF_NOEXIST);
		if (err && err != -17 /* EEXIST: another CPU's rename was first */)
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

SEC("tp_btf/cgroup_rename")
int BPF_PROG(ag_cgroup_rename, struct cgroup *cgrp, const char *path)
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
