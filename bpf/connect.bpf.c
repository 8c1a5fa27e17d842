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

/* ag_egress (egress networks per policy slot): in stdio_socket.h, shared with shell.bpf.c. */
#include "stdio_socket.h"
/* ag_app_proto_socks, ag_ssh_exes: shared with payload.bpf.c. */
#include "app_proto.h"

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
					     __u16 protocol, __u16 port, __u32 *flags)
{
	struct ag_egress_key key = { .prefixlen = 32 + 128, .policy = slot };
	__builtin_memcpy(key.addr, addr, 16);
	struct ag_egress_value *v = bpf_map_lookup_elem(&ag_egress, &key);
	if (v) {
		for (int i = 0; i < AG_EGRESS_RULES; i++) {
			if (i >= v->count)
				break;
			struct ag_egress_rule *r = &v->rules[i];
			if ((r->protocol == 0 || r->protocol == protocol) && port >= r->port_lo && port <= r->port_hi) {
				if (r->action == AG_EGRESS_DENY)
					return objection(pol);
				*flags |= AG_CONNECT_EXPLICIT_ALLOW;
				return AG_VERDICT_ALLOWED;
			}
		}
	}
	return pol->flags & AG_POLICY_EGRESS_DEFAULT_DENY ? objection(pol) : AG_VERDICT_ALLOWED;
}

/* A judged tunnel (SSH forwarding, tunnel tool) reaches only explicitly allowed destinations
 * when its policy says egress.tunnels: deny. Sets AG_CONNECT_TUNNEL for any judged tunnel. */
static __always_inline __u32 tunnel_verdict(struct ag_policy *pol, __u32 *flags)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u8 *tunnel = bpf_map_lookup_elem(&ag_tunnel_pids, &tgid);
	if (!tunnel || *tunnel == AG_TUNNEL_NONE)
		return AG_VERDICT_ALLOWED;
	*flags |= AG_CONNECT_TUNNEL;
	return pol->flags & AG_POLICY_TUNNEL_DENY ? objection(pol) : AG_VERDICT_ALLOWED;
}

/* Shells and socket relays by name: the comm (sh, bash, dash, zsh, ksh, mksh, ash, busybox;
 * nc, ncat, netcat, socat, telnet), NUL padded -> unused. Written by the agent at start. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, char[AG_COMM_LEN]);
	__type(value, __u8);
} ag_shell_names SEC(".maps");

/* The same programs by identity (s_dev, i_ino of each resolved on PATH; hard links and
 * symlinks reach the same file): a script run as ./job (comm "job") is still bash.
 * Written by the agent at start and when a program is replaced. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct ag_file_id);
	__type(value, __u8);
} ag_shell_exes SEC(".maps");

/* Is the caller a shell (or a socket relay)? Its comm, then its executable's identity
 * (current->mm->exe_file: the interpreter of a #! script). */
static __always_inline bool caller_is_shell(void)
{
	char comm[AG_COMM_LEN] = {};
	bpf_get_current_comm(comm, sizeof(comm));
	if (bpf_map_lookup_elem(&ag_shell_names, comm))
		return true;
	struct task_struct *task = bpf_get_current_task_btf();
	struct inode *inode = BPF_CORE_READ(task, mm, exe_file, f_inode);
	if (!inode)
		return false;
	struct ag_file_id id = { .dev = BPF_CORE_READ(inode, i_sb, s_dev), .ino = BPF_CORE_READ(inode, i_ino) };
	return bpf_map_lookup_elem(&ag_shell_exes, &id) != NULL;
}

/* Exactly 127.0.0.1 or ::1 (dest as from destination()): a health probe, not a way out.
 * The rest of 127/8 is not exempt: it is where tests (and tricks) put "outside" hosts. */
static __always_inline bool loopback_host(const __u8 dest[16])
{
	for (int i = 0; i < 10; i++)
		if (dest[i])
			return false;
	if (dest[10] == 0xff && dest[11] == 0xff)
		return dest[12] == 127 && dest[13] == 0 && dest[14] == 0 && dest[15] == 1;
	return dest[10] == 0 && dest[11] == 0 && dest[12] == 0 && dest[13] == 0 && dest[14] == 0 && dest[15] == 1;
}

/* A shell (bash /dev/tcp, ...) reaches only explicitly allowed destinations and the loopback
 * address when its policy says egress.shells: deny. Sets AG_CONNECT_SHELL for a shell.
 * bash, zsh and ksh connect only for /dev/tcp|udp redirections and a netcat only for what
 * it relays: every spelling of "shell connects out" ends here, renamed scripts included. */
static __always_inline __u32 shell_verdict(struct ag_policy *pol, const __u8 dest[16], __u32 *flags)
{
	if (loopback_host(dest) || !caller_is_shell())
		return AG_VERDICT_ALLOWED;
	*flags |= AG_CONNECT_SHELL;
	return pol->flags & AG_POLICY_SHELL_CONNECT_DENY ? objection(pol) : AG_VERDICT_ALLOWED;
}

/* What the caller is can narrow an allowed destination: tunnels and shells need an explicit allow. */
static __always_inline __u32 caller_verdict(struct ag_policy *pol, const __u8 dest[16], __u32 verdict, __u32 *flags)
{
	__u32 t = tunnel_verdict(pol, flags);
	__u32 sh = shell_verdict(pol, dest, flags);
	if (verdict != AG_VERDICT_ALLOWED || (*flags & AG_CONNECT_EXPLICIT_ALLOW))
		return verdict;
	return t != AG_VERDICT_ALLOWED ? t : sh;
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
	c->peer_pid = 0;
	c->peer_uid = 0;
	c->peer_cgroup_id = 0;
	c->peer_comm[0] = 0;
	if (family == AG_AF_INET)
		__builtin_memcpy(c->addr, dest + 12, 4);
	else
		__builtin_memcpy(c->addr, dest, 16);
}

/* egress.protocols: deny: a TCP connection no allow entry decided is looked at once more when
 * its first payload leaves (payload.bpf.c): SSH and stratum are the policy's objection. The
 * connecting task is stored with the socket, since the packet may leave in softirq context. */
static __always_inline void app_proto_watch(struct bpf_sock_addr *ctx, struct ag_policy *pol, __u64 key, __u32 cflags)
{
	if (!(pol->flags & AG_POLICY_APP_PROTO_DENY) || (cflags & AG_CONNECT_EXPLICIT_ALLOW)
	    || ctx->protocol != IPPROTO_TCP || !ctx->sk)
		return;
	struct ag_app_proto_sock *st = bpf_sk_storage_get(&ag_app_proto_socks, ctx->sk, 0,
							  BPF_SK_STORAGE_GET_F_CREATE);
	if (!st)
		return;
	fill_header(&st->h, AG_REC_APP_PROTO, sizeof(struct ag_app_proto));
	st->scope_key = key;
	st->state = AG_APP_PROTO_PENDING;
	st->objection = objection(pol);
	st->flags = 0;
	st->head_len = 0;
	struct task_struct *task = bpf_get_current_task_btf();
	struct inode *inode = BPF_CORE_READ(task, mm, exe_file, f_inode);
	if (inode) {
		struct ag_file_id id = { .dev = BPF_CORE_READ(inode, i_sb, s_dev), .ino = BPF_CORE_READ(inode, i_ino) };
		if (bpf_map_lookup_elem(&ag_ssh_exes, &id))
			st->flags |= AG_APP_PROTO_SSH_CLIENT;
	}
}

/* Attached to each agent cgroup root, so the subtree is the scope. Returns 0 (EPERM) when
 * the policy denies in enforce mode. */
static __always_inline int on_connect(struct bpf_sock_addr *ctx, __u16 family)
{
	if (cgroup_prog_outside())
		return 1;
	struct ag_config *cfg = ag_cfg();
	if (!cfg)
		return 1;
	__u32 slot = policy_slot(cfg);
	struct ag_policy *pol = policy_of(slot);
	__u8 dest[16];
	destination(ctx, family, dest);
	__u32 cflags = 0;
	__u32 verdict = AG_VERDICT_ALLOWED;
	if (pol) {
		verdict = egress_verdict(slot, pol, dest, ctx->protocol, bpf_ntohs(ctx->user_port), &cflags);
		verdict = caller_verdict(pol, dest, verdict, &cflags);
	}

	/* decided above: the record below is reported if there is room, never asked */
	__u64 key = cgroup_scope_key();
	if (pol && verdict != AG_VERDICT_DENIED)
		app_proto_watch(ctx, pol, key, cflags);
	struct ag_connect *c = reserve(sizeof(*c), key, verdict != AG_VERDICT_ALLOWED ? AG_RECORD_PRIORITY : AG_RECORD_ORDINARY);
	if (!c)
		return verdict == AG_VERDICT_DENIED ? 0 : 1;
	fill_inet_connect(c, ctx, family, dest, verdict, cflags);
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
	if (cgroup_prog_outside())
		return 1;
	struct ag_config *cfg = ag_cfg();
	if (!cfg)
		return 1;
	__u32 slot = policy_slot(cfg);
	struct ag_policy *pol = policy_of(slot);
	if (!pol)
		return 1;
	__u8 dest[16];
	destination(ctx, family, dest);
	__u32 cflags = AG_CONNECT_SENDMSG;
	__u32 verdict = egress_verdict(slot, pol, dest, ctx->protocol, bpf_ntohs(ctx->user_port), &cflags);
	verdict = caller_verdict(pol, dest, verdict, &cflags);
	if (verdict == AG_VERDICT_ALLOWED)
		return 1;
	struct ag_connect *c = reserve(sizeof(*c), cgroup_scope_key(), AG_RECORD_PRIORITY);
	if (c) {
		fill_inet_connect(c, ctx, family, dest, verdict, cflags);
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

/* Named Unix sockets outside the agent cgroups -> their owner. Written by the agent from
 * ag_unix_listeners (iter/unix) at start, on a timer and when an agent task connects to an
 * address it does not know; read by ag_connect_unix. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct ag_unix_key);
	__type(value, struct ag_unix_owner);
} ag_unix_outside SEC(".maps");

extern void *bpf_cast_to_kern_ctx(void *) __ksym __weak;


/* A Unix connect (or, with sendmsg, an unconnected datagram send) of an agent task: the
 * address is all the hook sees, so the owner comes from ag_unix_outside, which the agent keeps
 * from the iterator below. Sends are frequent and reported only when the owner is outside. */
static __always_inline int on_unix(struct bpf_sock_addr *ctx, bool sendmsg)
{
	if (cgroup_prog_outside())
		return 1;
	struct bpf_sock_addr_kern *kctx = bpf_cast_to_kern_ctx(ctx);
	struct ag_unix_key key = {};
	__u32 addr_len = BPF_CORE_READ(kctx, uaddrlen);
	struct sockaddr_un *sun = (struct sockaddr_un *)BPF_CORE_READ(kctx, uaddr);
	__u64 path_len = addr_len > offsetof(struct sockaddr_un, sun_path)
		? addr_len - offsetof(struct sockaddr_un, sun_path) : 0;
	if (path_len > AG_UNIX_PATH_MAX)
		path_len = AG_UNIX_PATH_MAX;
	barrier_var(path_len);   /* keep clang from reusing the unclamped register */
	if (path_len == 0 || bpf_probe_read_kernel(key.name, path_len, sun->sun_path) != 0)
		path_len = 0;
	/* The key as ag_unix_key says: a path up to its first NUL, an abstract name whole. */
	if (path_len > 0 && key.name[0] != 0) {
		__u32 n = 0;
		for (int i = 0; i < AG_UNIX_PATH_MAX; i++) {
			if (i >= path_len || key.name[i] == 0)
				break;
			n++;
		}
		key.len = n;
	} else if (path_len > 0) {
		key.len = path_len;
		key.netns = bpf_get_netns_cookie(ctx);
	}

	__u32 verdict = AG_VERDICT_ALLOWED;
	struct ag_unix_owner *owner = key.len ? bpf_map_lookup_elem(&ag_unix_outside, &key) : NULL;
	if (owner) {
		struct ag_config *cfg = ag_cfg();
		struct ag_policy *pol = cfg ? policy_of(policy_slot(cfg)) : NULL;
		if (pol && (pol->flags & AG_POLICY_UNIX_OUTSIDE_DENY))
			verdict = objection(pol);
	}
	if (sendmsg && !owner)
		return 1;
	/* decided above; an outside owner is a finding: its record may use the reserve */
	struct ag_connect *c = reserve(sizeof(*c), cgroup_scope_key(), owner != NULL ? AG_RECORD_PRIORITY : AG_RECORD_ORDINARY);
	if (!c)
		return verdict == AG_VERDICT_DENIED ? 0 : 1;
	fill_header(&c->h, AG_REC_CONNECT, sizeof(*c));
	__builtin_memset(c->addr, 0, sizeof(c->addr));
	c->sock_cookie = bpf_get_socket_cookie(ctx);
	c->family = AG_AF_UNIX;
	c->sock_type = ctx->type;
	c->protocol = 0;
	c->port = 0;
	c->verdict = verdict;
	c->flags = sendmsg ? AG_CONNECT_SENDMSG : 0;
	__builtin_memcpy(c->unix_path, key.name, sizeof(c->unix_path));
	c->unix_path_len = path_len;
	__builtin_memset(c->peer_comm, 0, sizeof(c->peer_comm));
	c->peer_pid = 0;
	c->peer_uid = 0;
	c->peer_cgroup_id = 0;
	if (owner) {
		c->flags |= AG_CONNECT_UNIX_OUTSIDE;
		c->peer_pid = owner->pid;
		c->peer_uid = owner->uid;
		c->peer_cgroup_id = owner->cgroup_id;
		__builtin_memcpy(c->peer_comm, owner->comm, sizeof(c->peer_comm));
	}
	if (verdict == AG_VERDICT_DENIED || sendmsg) {
		submit(c);
		return verdict == AG_VERDICT_DENIED ? 0 : 1;
	}
	track_connect_call(c);
	submit(c);
	return 1;
}

/* Kernels >= 6.7 only; libbpf 1.1 does not know these sections, so the agent sets the
 * program type and attach type itself and loads them only when the probe says so. */
SEC("cgroup/connect_unix")
int ag_connect_unix(struct bpf_sock_addr *ctx)
{
	return on_unix(ctx, false);
}

SEC("cgroup/sendmsg_unix")
int ag_sendmsg_unix(struct bpf_sock_addr *ctx)
{
	return on_unix(ctx, true);
}

/* Run by the agent (bpf_iter_create on a link of this program): one ag_unix_listener per
 * named Unix socket, outside the agent cgroups, that a connect() can reach: stream and
 * seqpacket sockets in TCP_LISTEN, bound datagram sockets. The owner is the listen()er
 * (SO_PEERCRED: sk_peer_pid/sk_peer_cred are set at listen()). */
SEC("iter/unix")
int ag_unix_listeners(struct bpf_iter__unix *ctx)
{
	struct unix_sock *u = ctx->unix_sk;
	if (!u)
		return 0;
	struct unix_address *addr = BPF_CORE_READ(u, addr);
	if (!addr)
		return 0;
	__u16 type = BPF_CORE_READ(u, sk.sk_type);
	__u8 state = BPF_CORE_READ(u, sk.__sk_common.skc_state);
	if (type != AG_SOCK_DGRAM && state != AG_TCP_LISTEN)
		return 0;
	if (cgroup_in_scope(BPF_CORE_READ(u, sk.sk_cgrp_data.cgroup)))
		return 0;

	struct ag_unix_listener l = {};
	int alen = BPF_CORE_READ(addr, len);
	__u64 len = alen > (int)offsetof(struct sockaddr_un, sun_path) ? alen - offsetof(struct sockaddr_un, sun_path) : 0;
	if (len > AG_UNIX_PATH_MAX)
		len = AG_UNIX_PATH_MAX;
	barrier_var(len);
	if (len == 0 || bpf_probe_read_kernel(l.key.name, len, addr->name[0].sun_path) != 0)
		return 0;
	if (l.key.name[0] != 0) {
		__u32 n = 0;
		for (int i = 0; i < AG_UNIX_PATH_MAX; i++) {
			if (i >= len || l.key.name[i] == 0)
				break;
			n++;
		}
		l.key.len = n;
		struct inode *inode = BPF_CORE_READ(u, path.dentry, d_inode);
		if (inode) {
			l.ino = BPF_CORE_READ(inode, i_ino);
			l.dev = BPF_CORE_READ(inode, i_sb, s_dev);
		}
	} else {
		l.key.len = len;
		l.key.netns = BPF_CORE_READ(u, sk.__sk_common.skc_net.net, net_cookie);
	}
	struct pid *pid = BPF_CORE_READ(u, sk.sk_peer_pid);
	const struct cred *cred = BPF_CORE_READ(u, sk.sk_peer_cred);
	if (pid) {
		l.owner.pid = BPF_CORE_READ(pid, numbers[0].nr);
		/* the thread group leader: pid->tasks[PIDTYPE_TGID] -> task_struct.pid_links[PIDTYPE_TGID] */
		struct hlist_node *first = BPF_CORE_READ(pid, tasks[PIDTYPE_TGID].first);
		if (first) {
			struct task_struct *task = (void *)first
				- bpf_core_field_offset(struct task_struct, pid_links)
				- PIDTYPE_TGID * sizeof(struct hlist_node);
			BPF_CORE_READ_STR_INTO(&l.owner.comm, task, comm);
		}
	}
	l.owner.uid = cred ? BPF_CORE_READ(cred, euid.val) : BPF_CORE_READ(u, sk.sk_uid.val);
	struct cgroup *cg = BPF_CORE_READ(u, sk.sk_cgrp_data.cgroup);
	l.owner.cgroup_id = cg ? BPF_CORE_READ(cg, kn, id) : 0;
	struct socket *sock = BPF_CORE_READ(u, sk.sk_socket);
	if (sock)   /* struct socket_alloc: the socket, then its inode */
		l.sock_ino = BPF_CORE_READ((struct inode *)((void *)sock + bpf_core_field_offset(struct socket_alloc, vfs_inode)),
					   i_ino);
	l.type = type;
	l.state = state;
	bpf_seq_write(ctx->meta->seq, &l, sizeof(l));
	return 0;
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

	struct ag_connect_result *r = reserve(sizeof(*r), key, AG_RECORD_ORDINARY);
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

	struct ag_connect_result *r = reserve(sizeof(*r), cgroup_scope_key(), AG_RECORD_ORDINARY);
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
