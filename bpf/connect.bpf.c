// SPDX-License-Identifier: GPL-2.0-only
/*
 * Network calls of agent tasks and the egress policy: one record per connect() (IPv4, IPv6,
 * Unix) and per unconnected UDP send the policy objects to, then the connect's outcome. The
 * cgroup sock_addr hooks (connect4/6, sendmsg4/6, connect_unix) run only for tasks of the
 * agent cgroups they are attached to, and are where a denied call fails with EPERM before
 * any packet leaves. The TCP handshake outcome comes from tp_btf/inet_sock_set_state
 * (softirq: matched by socket cookie); connect()'s own return value, for UDP and Unix sockets,
 * only from the opt-in sys_exit_connect tracepoint, since syscall tracepoints cost every task
 * a slow path.
 */
#include "hooks.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* TCP sockets of agent tasks awaiting their handshake outcome (cookie -> agent cgroup, whose
 * budget the outcome record is charged to). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u64);
} ag_tcp_pending SEC(".maps");

/* connect() calls of agent tasks in flight (tid -> socket cookie), for the return value. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u64);
} ag_connect_calls SEC(".maps");

/* Egress networks per policy slot -> port/protocol rules. Agent-written; actions add entries. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ag_egress_key);
	__type(value, struct ag_egress_value);
} ag_egress SEC(".maps");

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
	if (family == AG_AF_INET) {
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
	if (family == AG_AF_INET)
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

	/* decided above: the record below is reported if there is room, never asked */
	__u64 key = cgroup_scope_key();
	struct ag_connect *c = reserve(sizeof(*c), key, verdict != AG_VERDICT_ALLOWED);
	if (!c)
		return verdict == AG_VERDICT_DENIED ? 0 : 1;
	fill_inet_connect(c, ctx, family, dest, verdict, 0);
	if (verdict == AG_VERDICT_DENIED) {
		submit(c);   /* no outcome to wait for: connect() fails with EPERM */
		return 0;
	}
	if (c->protocol == IPPROTO_TCP) {
		if (bpf_map_update_elem(&ag_tcp_pending, &c->sock_cookie, &key, BPF_ANY) == 0)
			c->flags |= AG_CONNECT_RESULT_FOLLOWS;
	}
	track_connect_call(c);
	submit(c);
	return 1;
}

SEC("cgroup/connect4")
int ag_connect4(struct bpf_sock_addr *ctx)
{
	return on_connect(ctx, AG_AF_INET);
}

SEC("cgroup/connect6")
int ag_connect6(struct bpf_sock_addr *ctx)
{
	return on_connect(ctx, AG_AF_INET6);
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
	struct ag_connect *c = reserve(sizeof(*c), cgroup_scope_key(), true);
	if (c) {
		fill_inet_connect(c, ctx, family, dest, verdict, AG_CONNECT_SENDMSG);
		submit(c);
	}
	return verdict == AG_VERDICT_DENIED ? 0 : 1;
}

SEC("cgroup/sendmsg4")
int ag_sendmsg4(struct bpf_sock_addr *ctx)
{
	return on_sendmsg(ctx, AG_AF_INET);
}

SEC("cgroup/sendmsg6")
int ag_sendmsg6(struct bpf_sock_addr *ctx)
{
	return on_sendmsg(ctx, AG_AF_INET6);
}

extern void *bpf_cast_to_kern_ctx(void *) __ksym __weak;

/* Kernels >= 6.7 only; libbpf 1.1 does not know the section, so the agent sets the
 * program type and attach type itself and loads it only when the probe says so. */
SEC("cgroup/connect_unix")
int ag_connect_unix(struct bpf_sock_addr *ctx)
{
	struct bpf_sock_addr_kern *kctx = bpf_cast_to_kern_ctx(ctx);
	struct ag_connect *c = reserve(sizeof(*c), cgroup_scope_key(), false);
	if (!c)
		return 1;
	fill_header(&c->h, AG_REC_CONNECT, sizeof(*c));
	__builtin_memset(c->addr, 0, sizeof(c->addr));
	c->sock_cookie = bpf_get_socket_cookie(ctx);
	c->family = AG_AF_UNIX;
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
	if (oldstate != AG_TCP_SYN_SENT || (newstate != AG_TCP_ESTABLISHED && newstate != AG_TCP_CLOSE))
		return 0;
	__u64 cookie = bpf_get_socket_cookie((void *)sk);
	__u64 *pending = bpf_map_lookup_elem(&ag_tcp_pending, &cookie);
	if (!pending)
		return 0;
	__u64 key = *pending;
	bpf_map_delete_elem(&ag_tcp_pending, &cookie);

	struct ag_connect_result *r = reserve(sizeof(*r), key, false);
	if (!r)
		return 0;
	__builtin_memset(&r->h, 0, sizeof(r->h));
	r->h.type = AG_REC_CONNECT_RESULT;
	r->h.size = sizeof(*r);
	r->h.cpu = bpf_get_smp_processor_id();
	r->h.ktime_ns = bpf_ktime_get_ns();
	r->sock_cookie = cookie;
	r->error = newstate == AG_TCP_ESTABLISHED ? 0 : BPF_CORE_READ(sk, sk_err);
	r->old_state = oldstate;
	r->new_state = newstate;
	submit(r);
	return 0;
}

/* ---- connect() outcome (opt-in: syscall tracepoints cost every task a slow path) ---- */

SEC("tracepoint/syscalls/sys_exit_connect")
int ag_connect_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 *cookie = bpf_map_lookup_elem(&ag_connect_calls, &tid);
	if (!cookie)
		return 0;
	__u64 sock_cookie = *cookie;
	bpf_map_delete_elem(&ag_connect_calls, &tid);

	struct ag_connect_result *r = reserve(sizeof(*r), cgroup_scope_key(), false);
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
