// SPDX-License-Identifier: GPL-2.0-only
/*
 * agentguard's kernel side: observe exec, fork, exit, connect and NVIDIA device use of
 * tasks inside agent cgroups and write one record per event into one ring buffer.
 *
 * Hook choice (shared/reference/kernel.md): sched tracepoints and cgroup hooks cost
 * nothing outside agent cgroups; the only syscall tracepoint (sys_enter_ioctl) is
 * attached by the agent only when NVIDIA devices or stand-ins exist, and replaced by
 * lsm/file_ioctl where the kernel accepts LSM programs.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "agentguard.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_UNIX        1
#define AF_INET        2
#define AF_INET6       10
#define S_IFMT         00170000
#define S_IFCHR        0020000
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT   2
#define TCP_CLOSE      7
#define BPF_DEVCG_DEV_CHAR 2
#define SIGKILL        9
#define SIGCHLD        17
#define EPERM          1

/* ---- maps ---------------------------------------------------------------------- */

/* All records, all CPUs -> the agent's consumer thread. Size set by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} ag_ring SEC(".maps");

/* Agent cgroup roots (cgroup id -> unused); written by the agent at start and reload. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u64);
	__type(value, __u32);
} ag_scope_roots SEC(".maps");

/* Single entry: struct ag_config, written by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ag_config);
} ag_config SEC(".maps");

/* Single entry: 1 while the agent's reader is parked (idle, in a long wait that needs a
 * wakeup); written only by the consumer thread. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} ag_reader SEC(".maps");

/* Emitted/lost record counters per CPU (enum ag_counter); read by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, AG_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} ag_counters SEC(".maps");

/* NVIDIA device numbers and declared stand-ins -> role; written by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct ag_device_key);
	__type(value, struct ag_device_role_value);
} ag_devices SEC(".maps");

/* TCP sockets of agent tasks awaiting their handshake outcome (cookie -> unused). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u8);
} ag_tcp_pending SEC(".maps");

/* execve(at) calls of agent tasks in flight (tid -> user pointers), to report failures. */
struct exec_call {
	__u64 filename;
	__u64 argv;
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct exec_call);
} ag_exec_calls SEC(".maps");

/* connect() calls of agent tasks in flight (tid -> socket cookie), for the return value. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u64);
} ag_connect_calls SEC(".maps");

/* Policies of both generations; index = generation * AG_MAX_POLICIES + policy. Agent-written. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * AG_MAX_POLICIES);
	__type(key, __u32);
	__type(value, struct ag_policy);
} ag_policies SEC(".maps");

/* Cgroups that have a policy of their own (generation, cgroup id) -> policy index. Agent-written. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * AG_MAX_POLICIES);
	__type(key, struct ag_policy_root_key);
	__type(value, __u32);
} ag_policy_roots SEC(".maps");

/* Egress networks per policy slot -> port/protocol rules. Agent-written; actions add entries. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ag_egress_key);
	__type(value, struct ag_egress_value);
} ag_egress SEC(".maps");

/* Denied program names per policy slot. Agent-written. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct ag_exec_name_key);
	__type(value, __u8);
} ag_exec_deny_names SEC(".maps");

/* Denied program paths per policy slot. Agent-written. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct ag_exec_path_key);
	__type(value, __u8);
} ag_exec_deny_paths SEC(".maps");

/* Executables (file system, inode) allowed to create GPU compute contexts, per policy slot. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct ag_exe_key);
	__type(value, __u8);
} ag_compute_exes SEC(".maps");

/* Scratch for building an exec path key (too big for the BPF stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ag_exec_path_key);
} ag_path_scratch SEC(".maps");

/* Scratch for the variable-size exec record (too big for the BPF stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ag_exec);
} ag_exec_scratch SEC(".maps");

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

/* Is current inside (or below) an agent cgroup root? Decided before any ring space is
 * reserved: one helper call and one hash lookup per configured root level. */
static __always_inline bool in_scope(void)
{
	struct ag_config *cfg = ag_cfg();
	if (!cfg)
		return false;
	__u64 levels = cfg->scope_levels;
	for (int level = 0; level <= AG_MAX_SCOPE_LEVEL; level++) {
		if (!levels)
			break;
		if (levels & 1) {
			__u64 id = bpf_get_current_ancestor_cgroup_id(level);
			if (id && bpf_map_lookup_elem(&ag_scope_roots, &id))
				return true;
		}
		levels >>= 1;
	}
	return false;
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

static __always_inline void *reserve(__u64 size)
{
	void *rec = bpf_ringbuf_reserve(&ag_ring, size, 0);
	if (!rec)
		count(AG_CNT_LOST);
	return rec;
}

static __always_inline void submit(void *rec)
{
	count(AG_CNT_EMITTED);
	bpf_ringbuf_submit(rec, wakeup_flags(((struct ag_header *)rec)->size));
}

/* ---- exec / fork / exit -------------------------------------------------------- */

/* n: bpf_probe_read_*_str's result for the filename (NUL included, or < 0). */
static __always_inline void exec_filename_read(struct ag_exec *e, long n)
{
	if (n < 1) {
		n = 1;
		e->filename[0] = 0;
	}
	if (n >= AG_PATH_MAX)
		e->flags |= AG_EXEC_FILENAME_TRUNCATED;
	e->filename_len = n - 1;
}

/* Sends the exec record with only the argv bytes used (variable size: ringbuf_output). */
static __always_inline void exec_output(struct ag_exec *e, __u64 args_len)
{
	e->args_len = args_len;
	__u64 size = offsetof(struct ag_exec, args) + args_len;
	fill_header(&e->h, AG_REC_EXEC, size);
	if (size > sizeof(*e))   /* for the verifier: bounds the output size */
		return;
	if (bpf_ringbuf_output(&ag_ring, e, size, wakeup_flags(size)) != 0)
		count(AG_CNT_LOST);
	else
		count(AG_CNT_EMITTED);
}

/* Exec policy: a denied program is killed here, after the point of no return and before
 * it runs a single instruction (the pending SIGKILL is taken on the way to user space). */
static __always_inline __u16 exec_policy(struct ag_config *cfg, const char *filename)
{
	__u32 slot = policy_slot(cfg);
	struct ag_policy *pol = policy_of(slot);
	if (!pol)
		return 0;
	struct ag_exec_name_key name = { .policy = slot };
	bpf_get_current_comm(name.name, sizeof(name.name));
	bool denied = bpf_map_lookup_elem(&ag_exec_deny_names, &name) != NULL;
	if (!denied) {
		__u32 zero = 0;
		struct ag_exec_path_key *path = bpf_map_lookup_elem(&ag_path_scratch, &zero);
		if (path) {
			__builtin_memset(path, 0, sizeof(*path));
			path->policy = slot;
			bpf_probe_read_kernel_str(path->path, sizeof(path->path), filename);
			denied = bpf_map_lookup_elem(&ag_exec_deny_paths, path) != NULL;
		}
	}
	if (!denied)
		return 0;
	if (objection(pol) == AG_VERDICT_DENIED) {
		bpf_send_signal(SIGKILL);
		return AG_EXEC_DENIED;
	}
	return AG_EXEC_WOULD_BLOCK;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(ag_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	if (!in_scope())
		return 0;

	__u32 zero = 0;
	struct ag_exec *e = bpf_map_lookup_elem(&ag_exec_scratch, &zero);
	struct ag_config *cfg = ag_cfg();
	if (!e || !cfg)
		return 0;

	e->old_pid = old_pid;
	e->flags = 0;
	e->error = 0;
	exec_filename_read(e, bpf_probe_read_kernel_str(e->filename, sizeof(e->filename),
						       BPF_CORE_READ(bprm, filename)));
	e->flags |= exec_policy(cfg, e->filename);

	__u64 arg_start = BPF_CORE_READ(task, mm, arg_start);
	__u64 arg_end = BPF_CORE_READ(task, mm, arg_end);
	__u64 total = arg_end > arg_start ? arg_end - arg_start : 0;
	__u64 len = total;
	__u32 max_len = cfg->max_args_bytes;
	if (len > max_len)
		len = max_len;
	if (len > AG_ARGS_MAX)
		len = AG_ARGS_MAX;
	e->args_total_len = total > 0xffffffffu ? 0xffffffffu : total;
	if (total > len)
		e->flags |= AG_EXEC_ARGS_TRUNCATED;
	if (len > 0 && bpf_probe_read_user(e->args, len, (void *)arg_start) != 0) {
		e->flags |= AG_EXEC_ARGS_UNREADABLE;
		len = 0;
	}
	exec_output(e, len);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(ag_fork, struct task_struct *parent, struct task_struct *child)
{
	/* Threads share the parent's tgid: lineage needs processes only. */
	if (child->tgid == parent->tgid || !in_scope())
		return 0;
	struct ag_fork *f = reserve(sizeof(*f));
	if (!f)
		return 0;
	fill_header(&f->h, AG_REC_FORK, sizeof(*f));
	f->child_pid = child->tgid;
	f->reserved = 0;
	submit(f);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(ag_exit, struct task_struct *task, bool group_dead)
{
	/* One record per process: when its last thread exits. */
	if (!group_dead || !in_scope())
		return 0;
	struct ag_exit *x = reserve(sizeof(*x));
	if (!x)
		return 0;
	fill_header(&x->h, AG_REC_EXIT, sizeof(*x));
	x->exit_code = task->exit_code;
	x->reserved = 0;
	x->start_ns = BPF_CORE_READ(task, group_leader, start_time);   /* the process, not this thread */
	submit(x);
	return 0;
}

/* ---- connect ------------------------------------------------------------------- */

/* With syscall outcomes on, sys_exit_connect reports connect()'s return value. */
static __always_inline void track_connect_call(struct ag_connect *c)
{
	struct ag_config *cfg = ag_cfg();
	if (!cfg || !cfg->syscall_outcomes)
		return;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	if (bpf_map_update_elem(&ag_connect_calls, &tid, &c->sock_cookie, BPF_ANY) == 0)
		c->flags |= AG_CONNECT_RESULT_FOLLOWS;
}

/* Egress verdict for a destination: the longest matching network of the policy decides,
 * by its first port/protocol entry that matches; no entry or no network: the default. */
static __always_inline __u32 egress_verdict(__u32 slot, struct ag_policy *pol, const __u8 addr[16],
					     __u16 protocol, __u16 port)
{
	struct ag_egress_key key = { .prefixlen = 32 + 128, .policy = slot };
	__builtin_memcpy(key.addr, addr, 16);
	struct ag_egress_value *v = bpf_map_lookup_elem(&ag_egress, &key);
	if (v) {
		for (int i = 0; i < AG_EGRESS_RULES; i++) {
			if (i >= v->count)
				break;
			struct ag_egress_rule *r = &v->rules[i];
			if ((r->protocol == 0 || r->protocol == protocol) && port >= r->port_lo && port <= r->port_hi)
				return r->action == AG_EGRESS_DENY ? objection(pol) : AG_VERDICT_ALLOWED;
		}
	}
	return pol->flags & AG_POLICY_EGRESS_DEFAULT_DENY ? objection(pol) : AG_VERDICT_ALLOWED;
}

static __always_inline void destination(struct bpf_sock_addr *ctx, __u16 family, __u8 addr[16])
{
	__builtin_memset(addr, 0, 16);
	if (family == AF_INET) {
		__u32 ip4 = ctx->user_ip4;
		addr[10] = 0xff;
		addr[11] = 0xff;
		__builtin_memcpy(addr + 12, &ip4, 4);
	} else {
		__u32 ip6[4] = { ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3] };
		__builtin_memcpy(addr, ip6, 16);
	}
}

/* An IPv4/IPv6 connect or send record; dest as from destination(). */
static __always_inline void fill_inet_connect(struct ag_connect *c, struct bpf_sock_addr *ctx, __u16 family,
					      const __u8 dest[16], __u32 verdict, __u32 flags)
{
	fill_header(&c->h, AG_REC_CONNECT, sizeof(*c));
	__builtin_memset(c->addr, 0, sizeof(c->addr));
	c->sock_cookie = bpf_get_socket_cookie(ctx);
	c->family = family;
	c->sock_type = ctx->type;
	c->protocol = ctx->protocol;
	c->port = bpf_ntohs(ctx->user_port);
	c->verdict = verdict;
	c->flags = flags;
	c->unix_path[0] = 0;
	c->unix_path_len = 0;
	if (family == AF_INET)
		__builtin_memcpy(c->addr, dest + 12, 4);
	else
		__builtin_memcpy(c->addr, dest, 16);
}

/* Attached to each agent cgroup root, so the subtree is the scope. Returns 0 (EPERM) when
 * the policy denies in enforce mode. */
static __always_inline int on_connect(struct bpf_sock_addr *ctx, __u16 family)
{
	struct ag_config *cfg = ag_cfg();
	if (!cfg)
		return 1;
	__u32 slot = policy_slot(cfg);
	struct ag_policy *pol = policy_of(slot);
	__u8 dest[16];
	destination(ctx, family, dest);
	__u32 verdict = pol ? egress_verdict(slot, pol, dest, ctx->protocol, bpf_ntohs(ctx->user_port))
			    : AG_VERDICT_ALLOWED;

	struct ag_connect *c = reserve(sizeof(*c));
	if (!c)
		return verdict == AG_VERDICT_DENIED ? 0 : 1;
	fill_inet_connect(c, ctx, family, dest, verdict, 0);
	if (verdict == AG_VERDICT_DENIED) {
		submit(c);   /* no outcome to wait for: connect() fails with EPERM */
		return 0;
	}
	if (c->protocol == IPPROTO_TCP) {
		__u8 one = 1;
		if (bpf_map_update_elem(&ag_tcp_pending, &c->sock_cookie, &one, BPF_ANY) == 0)
			c->flags |= AG_CONNECT_RESULT_FOLLOWS;
	}
	track_connect_call(c);
	submit(c);
	return 1;
}

SEC("cgroup/connect4")
int ag_connect4(struct bpf_sock_addr *ctx)
{
	return on_connect(ctx, AF_INET);
}

SEC("cgroup/connect6")
int ag_connect6(struct bpf_sock_addr *ctx)
{
	return on_connect(ctx, AF_INET6);
}

/* Unconnected UDP sends: same policy; only objections are reported (sends are frequent). */
static __always_inline int on_sendmsg(struct bpf_sock_addr *ctx, __u16 family)
{
	struct ag_config *cfg = ag_cfg();
	if (!cfg)
		return 1;
	__u32 slot = policy_slot(cfg);
	struct ag_policy *pol = policy_of(slot);
	if (!pol)
		return 1;
	__u8 dest[16];
	destination(ctx, family, dest);
	__u32 verdict = egress_verdict(slot, pol, dest, ctx->protocol, bpf_ntohs(ctx->user_port));
	if (verdict == AG_VERDICT_ALLOWED)
		return 1;
	struct ag_connect *c = reserve(sizeof(*c));
	if (c) {
		fill_inet_connect(c, ctx, family, dest, verdict, AG_CONNECT_SENDMSG);
		submit(c);
	}
	return verdict == AG_VERDICT_DENIED ? 0 : 1;
}

SEC("cgroup/sendmsg4")
int ag_sendmsg4(struct bpf_sock_addr *ctx)
{
	return on_sendmsg(ctx, AF_INET);
}

SEC("cgroup/sendmsg6")
int ag_sendmsg6(struct bpf_sock_addr *ctx)
{
	return on_sendmsg(ctx, AF_INET6);
}

extern void *bpf_cast_to_kern_ctx(void *) __ksym __weak;

/* Kernels >= 6.7 only; libbpf 1.1 does not know the section, so the agent sets the
 * program type and attach type itself and loads it only when the probe says so. */
SEC("cgroup/connect_unix")
int ag_connect_unix(struct bpf_sock_addr *ctx)
{
	struct bpf_sock_addr_kern *kctx = bpf_cast_to_kern_ctx(ctx);
	struct ag_connect *c = reserve(sizeof(*c));
	if (!c)
		return 1;
	fill_header(&c->h, AG_REC_CONNECT, sizeof(*c));
	__builtin_memset(c->addr, 0, sizeof(c->addr));
	c->sock_cookie = bpf_get_socket_cookie(ctx);
	c->family = AF_UNIX;
	c->sock_type = ctx->type;
	c->protocol = 0;
	c->port = 0;
	c->verdict = AG_VERDICT_ALLOWED;
	c->flags = 0;
	__u32 addr_len = BPF_CORE_READ(kctx, uaddrlen);
	struct sockaddr_un *sun = (struct sockaddr_un *)BPF_CORE_READ(kctx, uaddr);
	__u64 path_len = addr_len > offsetof(struct sockaddr_un, sun_path)
		? addr_len - offsetof(struct sockaddr_un, sun_path) : 0;
	if (path_len > AG_UNIX_PATH_MAX)
		path_len = AG_UNIX_PATH_MAX;
	barrier_var(path_len);   /* keep clang from reusing the unclamped register */
	if (path_len == 0 || bpf_probe_read_kernel(c->unix_path, path_len, sun->sun_path) != 0)
		path_len = 0;
	c->unix_path_len = path_len;
	track_connect_call(c);
	submit(c);
	return 1;
}

/* TCP handshake outcome: runs in softirq, so it is matched by socket cookie only. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(ag_tcp_state, const struct sock *sk, const int oldstate, const int newstate)
{
	if (oldstate != TCP_SYN_SENT || (newstate != TCP_ESTABLISHED && newstate != TCP_CLOSE))
		return 0;
	__u64 cookie = bpf_get_socket_cookie((void *)sk);
	if (!bpf_map_lookup_elem(&ag_tcp_pending, &cookie))
		return 0;
	bpf_map_delete_elem(&ag_tcp_pending, &cookie);

	struct ag_connect_result *r = reserve(sizeof(*r));
	if (!r)
		return 0;
	__builtin_memset(&r->h, 0, sizeof(r->h));
	r->h.type = AG_REC_CONNECT_RESULT;
	r->h.size = sizeof(*r);
	r->h.cpu = bpf_get_smp_processor_id();
	r->h.ktime_ns = bpf_ktime_get_ns();
	r->sock_cookie = cookie;
	r->error = newstate == TCP_ESTABLISHED ? 0 : BPF_CORE_READ(sk, sk_err);
	r->old_state = oldstate;
	r->new_state = newstate;
	submit(r);
	return 0;
}

/* ---- syscall outcomes (opt-in: syscall tracepoints cost every task a slow path) ---- */

SEC("tracepoint/syscalls/sys_exit_connect")
int ag_connect_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 *cookie = bpf_map_lookup_elem(&ag_connect_calls, &tid);
	if (!cookie)
		return 0;
	__u64 sock_cookie = *cookie;
	bpf_map_delete_elem(&ag_connect_calls, &tid);

	struct ag_connect_result *r = reserve(sizeof(*r));
	if (!r)
		return 0;
	fill_header(&r->h, AG_REC_CONNECT_RESULT, sizeof(*r));
	r->sock_cookie = sock_cookie;
	r->error = ctx->ret < 0 ? -ctx->ret : 0;
	r->old_state = 0;
	r->new_state = 0;
	submit(r);
	return 0;
}

static __always_inline int on_exec_enter(__u64 filename, __u64 argv)
{
	if (!in_scope())
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct exec_call call = { .filename = filename, .argv = argv };
	bpf_map_update_elem(&ag_exec_calls, &tid, &call, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int ag_execve_enter(struct trace_event_raw_sys_enter *ctx)
{
	return on_exec_enter(ctx->args[0], ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_execveat")
int ag_execveat_enter(struct trace_event_raw_sys_enter *ctx)
{
	return on_exec_enter(ctx->args[1], ctx->args[2]);
}

/* Successful execs are reported by sched_process_exec; this reports the failed ones,
 * whose user memory (filename, argv) is still the caller's. */
static __always_inline int on_exec_exit(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct exec_call *pending = bpf_map_lookup_elem(&ag_exec_calls, &tid);
	if (!pending)
		return 0;
	struct exec_call call = *pending;
	bpf_map_delete_elem(&ag_exec_calls, &tid);
	if (ret >= 0)
		return 0;

	__u32 zero = 0;
	struct ag_exec *e = bpf_map_lookup_elem(&ag_exec_scratch, &zero);
	struct ag_config *cfg = ag_cfg();
	if (!e || !cfg)
		return 0;
	e->old_pid = tid;
	e->flags = AG_EXEC_FAILED;
	e->error = -ret;
	exec_filename_read(e, bpf_probe_read_user_str(e->filename, sizeof(e->filename), (void *)call.filename));

	/* Walk argv; each string lands at off < AG_ARGS_MAX/2 and reads at most
	 * AG_ARGS_MAX/2 bytes, which keeps every access inside args[]. */
	__u32 max_len = cfg->max_args_bytes;
	if (max_len > AG_ARGS_MAX / 2)
		max_len = AG_ARGS_MAX / 2;
	__u64 off = 0;
	int i;
	for (i = 0; i < AG_FAILED_EXEC_MAX_ARGS; i++) {
		__u64 argp = 0;
		if (bpf_probe_read_user(&argp, sizeof(argp), (void *)(call.argv + i * sizeof(__u64))) || !argp)
			break;
		if (off >= max_len) {
			e->flags |= AG_EXEC_ARGS_TRUNCATED;
			break;
		}
		long len = bpf_probe_read_user_str(&e->args[off & (AG_ARGS_MAX / 2 - 1)], AG_ARGS_MAX / 2, (void *)argp);
		if (len < 0) {
			e->flags |= AG_EXEC_ARGS_UNREADABLE;
			break;
		}
		off += len;
	}
	if (i == AG_FAILED_EXEC_MAX_ARGS)
		e->flags |= AG_EXEC_ARGS_TRUNCATED;
	e->args_total_len = off;
	if (off > max_len) {
		off = max_len;
		e->flags |= AG_EXEC_ARGS_TRUNCATED;
	}
	exec_output(e, off);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_execve")
int ag_execve_exit(struct trace_event_raw_sys_exit *ctx)
{
	return on_exec_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_execveat")
int ag_execveat_exit(struct trace_event_raw_sys_exit *ctx)
{
	return on_exec_exit(ctx->ret);
}

/* ---- GPU ----------------------------------------------------------------------- */

static __always_inline bool device_role(__u32 major, __u32 minor, struct ag_device_role_value *out)
{
	struct ag_device_key key = { .major = major, .minor = minor };
	struct ag_device_role_value *v = bpf_map_lookup_elem(&ag_devices, &key);
	if (v) {
		*out = *v;
		return true;
	}
	key.minor = AG_DEV_ANY_MINOR;
	v = bpf_map_lookup_elem(&ag_devices, &key);
	if (!v)
		return false;
	out->index = 0;
	if (v->role == AG_DEV_NVIDIA_MAJOR) {
		if (minor == NV_MINOR_CTL)
			out->role = AG_DEV_CONTROL;
		else if (minor == NV_MINOR_MODESET)
			out->role = AG_DEV_MODESET;
		else if (minor <= NV_MINOR_GPU_MAX)
			out->role = AG_DEV_GPU, out->index = minor;
		else
			return false;
	} else if (v->role == AG_DEV_UVM_MAJOR) {
		out->role = minor == NV_UVM_TOOLS_MINOR ? AG_DEV_UVM_TOOLS : AG_DEV_UVM;
	} else {
		out->role = v->role;
		out->index = v->index;
	}
	return true;
}

/* Attached to each agent cgroup root; allows everything (enforcement is elsewhere). */
SEC("cgroup/dev")
int ag_dev(struct bpf_cgroup_dev_ctx *ctx)
{
	if ((ctx->access_type & 0xffff) != BPF_DEVCG_DEV_CHAR)
		return 1;
	struct ag_device_role_value role;
	if (!device_role(ctx->major, ctx->minor, &role))
		return 1;
	__u32 verdict = AG_VERDICT_ALLOWED;
	struct ag_config *cfg = ag_cfg();
	struct ag_policy *pol = cfg ? policy_of(policy_slot(cfg)) : NULL;
	if (pol && !(pol->flags & AG_POLICY_GPU_ALL)) {
		/* control, uvm and other shared nodes: allowed when some GPU is granted */
		bool granted = role.role == AG_DEV_GPU ? role.index < 64 && (pol->gpu_allowed >> role.index) & 1
						       : pol->gpu_allowed != 0;
		if (!granted)
			verdict = objection(pol);
	}
	struct ag_gpu_open *o = reserve(sizeof(*o));
	if (o) {
		fill_header(&o->h, AG_REC_GPU_OPEN, sizeof(*o));
		o->major = ctx->major;
		o->minor = ctx->minor;
		o->role = role.role;
		o->index = role.index;
		o->access = ctx->access_type >> 16;
		o->verdict = verdict;
		submit(o);
	}
	return verdict == AG_VERDICT_DENIED ? 0 : 1;
}

static __always_inline void read_ioctl_args(struct ag_gpu_ioctl *g, __u32 cmd, __u64 arg)
{
	__u64 len;
	g->inner_cmd = cmd;
	if (g->role == AG_DEV_UVM || g->role == AG_DEV_UVM_TOOLS) {
		len = AG_UVM_ARG_BYTES;          /* plain integers: no size in cmd */
	} else {
		if (AG_IOC_TYPE(cmd) != NV_IOCTL_MAGIC) {
			g->arg_len = 0;
			return;
		}
		if (AG_IOC_NR(cmd) == NV_ESC_IOCTL_XFER_CMD) {
			/* decode the wrapped call instead */
			struct nv_ioctl_xfer xfer;
			if (bpf_probe_read_user(&xfer, sizeof(xfer), (void *)arg) == 0) {
				g->inner_cmd = xfer.cmd;
				g->flags |= AG_IOCTL_XFER_UNWRAPPED;
				arg = xfer.ptr;
				cmd = xfer.cmd;
				len = xfer.size;
				goto copy;
			}
		}
		len = AG_IOC_SIZE(cmd);
	}
copy:
	if (len > AG_IOCTL_ARG_MAX)
		len = AG_IOCTL_ARG_MAX;
	barrier_var(len);
	if (len == 0 || bpf_probe_read_user(g->arg, len, (void *)arg) != 0) {
		if (len)
			g->flags |= AG_IOCTL_ARG_UNREADABLE;
		len = 0;
	}
	g->arg_len = len;

	/* RM_ALLOC: the class alone says what is being created; memory classes carry a
	 * size and NV01_DEVICE_0 the GPU index in the params struct behind pAllocParms. */
	if (len >= sizeof(struct nv_rm_alloc) && AG_IOC_NR(cmd) == NV_ESC_RM_ALLOC &&
	    g->role != AG_DEV_UVM && g->role != AG_DEV_UVM_TOOLS) {
		struct nv_rm_alloc *alloc = (struct nv_rm_alloc *)g->arg;
		__u32 hclass = alloc->h_class;
		__u64 params = alloc->p_alloc_parms;
		if (params && bpf_probe_read_user(&g->aux0, sizeof(g->aux0), (void *)params) == 0) {
			g->flags |= AG_IOCTL_PARAMS_READ;
			if (hclass == NV01_MEMORY_LOCAL_USER || hclass == NV01_MEMORY_SYSTEM)
				bpf_probe_read_user(&g->aux1, sizeof(g->aux1),
						    (void *)(params + NV_MEMORY_PARAMS_SIZE_OFFSET));
		}
	}
}

/* Compute policy: may current create a GPU compute context? By policy, or by being one of
 * the policy's allowed executables (identified by file system and inode, not by name). */
static __always_inline __u32 compute_verdict(void)
{
	struct ag_config *cfg = ag_cfg();
	if (!cfg)
		return AG_VERDICT_ALLOWED;
	__u32 slot = policy_slot(cfg);
	struct ag_policy *pol = policy_of(slot);
	if (!pol || (pol->flags & AG_POLICY_COMPUTE_ALLOWED))
		return AG_VERDICT_ALLOWED;
	struct task_struct *task = bpf_get_current_task_btf();
	struct inode *exe = BPF_CORE_READ(task, mm, exe_file, f_inode);
	struct ag_exe_key key = {
		.policy = slot,
		.dev = BPF_CORE_READ(exe, i_sb, s_dev),
		.ino = BPF_CORE_READ(exe, i_ino),
	};
	if (bpf_map_lookup_elem(&ag_compute_exes, &key))
		return AG_VERDICT_ALLOWED;
	return objection(pol);
}

static __always_inline bool is_compute_class(__u32 hclass)
{
	return (hclass & 0xff) == NV_COMPUTE_CLASS_LOW_BYTE && hclass >= NV_COMPUTE_CLASS_MIN && hclass <= 0xffff;
}

/* Returns the compute verdict (DENIED: the caller must stop the ioctl). */
static __always_inline __u32 on_gpu_ioctl(struct file *file, __u32 fd, __u32 cmd, __u64 arg)
{
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	if ((BPF_CORE_READ(inode, i_mode) & S_IFMT) != S_IFCHR)
		return AG_VERDICT_ALLOWED;
	dev_t rdev = BPF_CORE_READ(inode, i_rdev);
	struct ag_device_role_value role;
	if (!device_role(rdev >> 20, rdev & 0xfffff, &role))
		return AG_VERDICT_ALLOWED;
	struct ag_gpu_ioctl *g = reserve(sizeof(*g));
	if (!g)
		return AG_VERDICT_ALLOWED;   /* unseen, so unjudged: the loss is counted */
	fill_header(&g->h, AG_REC_GPU_IOCTL, sizeof(*g));
	g->fd = fd;
	g->cmd = cmd;
	g->major = rdev >> 20;
	g->minor = rdev & 0xfffff;
	g->role = role.role;
	g->index = role.index;
	g->flags = 0;
	g->verdict = AG_VERDICT_ALLOWED;
	g->arg_ptr = arg;
	g->aux0 = 0;
	g->aux1 = 0;
	read_ioctl_args(g, cmd, arg);
	if (AG_IOC_NR(g->inner_cmd) == NV_ESC_RM_ALLOC && g->role != AG_DEV_UVM && g->role != AG_DEV_UVM_TOOLS &&
	    g->arg_len >= offsetof(struct nv_rm_alloc, h_class) + sizeof(__u32) &&
	    is_compute_class(((struct nv_rm_alloc *)g->arg)->h_class))
		g->verdict = compute_verdict();
	__u32 verdict = g->verdict;
	submit(g);
	return verdict;
}

/* Fallback where LSM programs are refused: costs every task a syscall slow path, so the
 * agent attaches it only when NVIDIA devices or stand-ins exist. */
SEC("tracepoint/syscalls/sys_enter_ioctl")
int ag_ioctl_tp(struct trace_event_raw_sys_enter *ctx)
{
	if (!in_scope())
		return 0;
	__u32 fd = ctx->args[0];
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *file = NULL;
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	if (!file)
		return 0;
	/* No way to fail the syscall from here: SIGKILL before the driver runs the ioctl. */
	if (on_gpu_ioctl(file, fd, ctx->args[1], ctx->args[2]) == AG_VERDICT_DENIED)
		bpf_send_signal(SIGKILL);
	return 0;
}

SEC("lsm/file_ioctl")
int BPF_PROG(ag_ioctl_lsm, struct file *file, unsigned int cmd, unsigned long arg)
{
	if (in_scope() && on_gpu_ioctl(file, (__u32)-1, cmd, arg) == AG_VERDICT_DENIED)
		return -EPERM;
	return 0;
}

/* Exec policy where the kernel accepts LSM programs: refuse before the point of no return. */
SEC("lsm/bprm_check_security")
int BPF_PROG(ag_exec_lsm, struct linux_binprm *bprm)
{
	struct ag_config *cfg = ag_cfg();
	if (!cfg || !in_scope())
		return 0;
	__u32 slot = policy_slot(cfg);
	struct ag_policy *pol = policy_of(slot);
	if (!pol || objection(pol) != AG_VERDICT_DENIED)
		return 0;   /* monitor: sched_process_exec reports would_block */
	__u32 zero = 0;
	struct ag_exec_path_key *path = bpf_map_lookup_elem(&ag_path_scratch, &zero);
	if (!path)
		return 0;
	__builtin_memset(path, 0, sizeof(*path));
	path->policy = slot;
	bpf_probe_read_kernel_str(path->path, sizeof(path->path), BPF_CORE_READ(bprm, filename));
	if (bpf_map_lookup_elem(&ag_exec_deny_paths, path))
		return -EPERM;
	return 0;
}

/* ---- self-protection --------------------------------------------------------------- */

static __always_inline __u32 tamper(__u32 target, __u32 sig, __u16 kind, bool can_refuse)
{
	struct ag_config *cfg = ag_cfg();
	if (!cfg || !cfg->daemon_tgid || target != cfg->daemon_tgid || !in_scope())
		return AG_VERDICT_ALLOWED;
	__u32 verdict = cfg->tamper_enforce ? AG_VERDICT_DENIED : AG_VERDICT_WOULD_BLOCK;
	struct ag_tamper *t = reserve(sizeof(*t));
	if (t) {
		fill_header(&t->h, AG_REC_TAMPER, sizeof(*t));
		t->target_pid = target;
		t->signal = sig;
		t->kind = kind;
		t->verdict = verdict;
		t->reserved = 0;
		submit(t);
	}
	if (verdict == AG_VERDICT_DENIED && !can_refuse)
		bpf_send_signal(SIGKILL);   /* the signal itself can no longer be stopped: stop the sender */
	return verdict;
}

/* A signal from an agent cgroup to the daemon (no LSM here: observe and kill the sender). */
SEC("tp_btf/signal_generate")
int BPF_PROG(ag_signal, int sig, struct kernel_siginfo *info, struct task_struct *task, int group, int result)
{
	/* SIGCHLD is the kernel telling a parent (the daemon, for what it spawned) of a child's exit */
	if (sig > 0 && sig != SIGCHLD)
		tamper(task->tgid, sig, AG_TAMPER_SIGNAL, false);
	return 0;
}

SEC("lsm/task_kill")
int BPF_PROG(ag_kill_lsm, struct task_struct *p, struct kernel_siginfo *info, int sig, const struct cred *cred)
{
	if (sig > 0 && sig != SIGCHLD && tamper(p->tgid, sig, AG_TAMPER_SIGNAL, true) == AG_VERDICT_DENIED)
		return -EPERM;
	return 0;
}

SEC("lsm/ptrace_access_check")
int BPF_PROG(ag_ptrace_lsm, struct task_struct *child, unsigned int mode)
{
	if (tamper(child->tgid, 0, AG_TAMPER_PTRACE, true) == AG_VERDICT_DENIED)
		return -EPERM;
	return 0;
}

/* ---- ring benchmark only ------------------------------------------------------- */

/* Never loaded by the agent ('?' turns autoload off). scripts/bench-ring.sh loads it to make
 * getpgid(n) from an in-scope task write n records the way the hooks do (reserve, header,
 * submit with the wakeup policy): a producer faster than one syscall per record, so that the
 * readers' own ceiling shows. Records are GPU-ioctl-sized, or header-only (64 bytes) when bit
 * 32 of the argument is set; the payload is left as reserved. */
#define AG_BENCH_HEADER_ONLY (1ULL << 32)

static long bench_emit_ioctl(__u64 index, void *unused)
{
	struct ag_gpu_ioctl *g = reserve(sizeof(*g));
	if (!g)
		return 0;   /* ring full: counted, and the burst goes on so that losses show */
	fill_header(&g->h, AG_REC_GPU_IOCTL, sizeof(*g));
	submit(g);
	return 0;
}

static long bench_emit_header(__u64 index, void *unused)
{
	struct ag_header *h = reserve(sizeof(*h));
	if (!h)
		return 0;
	fill_header(h, AG_REC_GPU_IOCTL, sizeof(*h));
	submit(h);
	return 0;
}

SEC("?tracepoint/syscalls/sys_enter_getpgid")
int ag_bench_emit(struct trace_event_raw_sys_enter *ctx)
{
	if (!in_scope())
		return 0;
	__u64 arg = ctx->args[0];
	__u32 n = (__u32)arg < (1 << 23) ? (__u32)arg : (1 << 23);
	if (arg & AG_BENCH_HEADER_ONLY)
		bpf_loop(n, bench_emit_header, NULL, 0);
	else
		bpf_loop(n, bench_emit_ioctl, NULL, 0);
	return 0;
}
