/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Is an inet socket a task's stdin, stdout or stderr? A shell served over the network
 * (nc -e, ncat --sh-exec, python/perl/ruby socket + dup2, a renamed bash's >& /dev/tcp)
 * has its standard descriptors on a TCP or UDP socket whatever its command line says.
 * Included by process.bpf.c (exec, fork) and shell.bpf.c (dup2/dup3).
 *
 * The peer decides: exactly 127.0.0.1 or ::1 (a tool on this host serving itself) is
 * reported, never killed; a listening socket on stdin is inetd's "wait" mode, not a shell,
 * and is ignored. Every other inet socket (a connected or accepted TCP socket, a UDP socket
 * connected or not) is a shell's transport.
 */
#ifndef AGENTGUARD_STDIO_SOCKET_H
#define AGENTGUARD_STDIO_SOCKET_H

#include "hooks.bpf.h"

#define S_IFSOCK 0140000

/* Egress networks per policy slot -> port/protocol rules. Agent-written; actions add entries.
 * Read by connect.bpf.c (egress_verdict) and by the stdio checks here: a socket to a
 * destination an allow entry names is what the operator let out. __weak as in hooks.bpf.h:
 * both files carry it, the linker keeps one. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ag_egress_key);
	__type(value, struct ag_egress_value);
} ag_egress SEC(".maps") __weak;

/* Does an allow entry of the policy decide this peer (as connect.bpf.c egress_verdict does)? */
static __always_inline bool peer_explicitly_allowed(__u32 slot, struct ag_stdio_socket *r)
{
	struct ag_egress_key key = { .prefixlen = 32 + 128, .policy = slot };
	if (r->family == AG_AF_INET) {
		key.addr[10] = 0xff;
		key.addr[11] = 0xff;
		__builtin_memcpy(key.addr + 12, r->addr, 4);
	} else {
		__builtin_memcpy(key.addr, r->addr, 16);
	}
	struct ag_egress_value *v = bpf_map_lookup_elem(&ag_egress, &key);
	if (!v)
		return false;
	for (int i = 0; i < AG_EGRESS_RULES; i++) {
		if (i >= v->count)
			break;
		struct ag_egress_rule *rule = &v->rules[i];
		if ((rule->protocol == 0 || rule->protocol == r->protocol) && r->port >= rule->port_lo
		    && r->port <= rule->port_hi)
			return rule->action == AG_EGRESS_ALLOW;
	}
	return false;
}

/* The socket behind a task's descriptor fd, when it is an inet (TCP/UDP) socket; else NULL. */
static __always_inline struct sock *fd_inet_sock(struct task_struct *task, __u32 fd)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *file = NULL;
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	if (!file)
		return NULL;
	__u16 mode = BPF_CORE_READ(file, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return NULL;
	/* a socket's file: private_data is its struct socket (net/socket.c sock_alloc_file) */
	struct socket *sock = BPF_CORE_READ(file, private_data);
	struct sock *sk = sock ? BPF_CORE_READ(sock, sk) : NULL;
	if (!sk)
		return NULL;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AG_AF_INET && family != AG_AF_INET6)
		return NULL;
	__u16 protocol = BPF_CORE_READ(sk, sk_protocol);
	if (protocol != AG_IPPROTO_TCP && protocol != AG_IPPROTO_UDP)
		return NULL;
	if (BPF_CORE_READ(sk, __sk_common.skc_state) == AG_TCP_LISTEN)
		return NULL;
	return sk;
}

/* The socket's peer into r (family, protocol, port, state, addr) and AG_STDIO_LOOPBACK. */
static __always_inline void stdio_peer(struct sock *sk, struct ag_stdio_socket *r)
{
	r->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	r->protocol = BPF_CORE_READ(sk, sk_protocol);
	r->port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	r->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	__builtin_memset(r->addr, 0, sizeof(r->addr));
	bool loopback;
	if (r->family == AG_AF_INET) {
		__u32 daddr = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(r->addr, &daddr, 4);
		loopback = daddr == bpf_htonl(0x7f000001);
	} else {
		BPF_CORE_READ_INTO(&r->addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
		__u32 w[4];
		__builtin_memcpy(w, r->addr, 16);
		/* ::1, or ::ffff:127.0.0.1 (an IPv4 peer on an IPv6 socket) */
		loopback = w[0] == 0 && w[1] == 0
			&& ((w[2] == 0 && w[3] == bpf_htonl(1)) || (w[2] == bpf_htonl(0xffff) && w[3] == bpf_htonl(0x7f000001)));
	}
	if (loopback)
		r->flags |= AG_STDIO_LOOPBACK;
}

/* A non-loopback inet socket on stdin or stdout of task: the shell's transport. */
static __always_inline bool stdio_on_remote_socket(struct task_struct *task, __u32 *which, struct ag_stdio_socket *r)
{
	for (__u32 fd = 0; fd < 2; fd++) {
		struct sock *sk = fd_inet_sock(task, fd);
		if (!sk)
			continue;
		r->flags = 0;
		stdio_peer(sk, r);
		if (!(r->flags & AG_STDIO_LOOPBACK)) {
			*which = fd;
			return true;
		}
	}
	return false;
}

/* ALLOWED, or the policy's objection when it says exec.deny_socket_shell; a peer an egress
 * allow entry names (a shell's `> /dev/tcp/mirror/80` to the package mirror) is allowed. */
static __always_inline __u32 socket_shell_verdict(struct ag_config *cfg, struct ag_stdio_socket *r)
{
	__u32 slot = policy_slot(cfg);
	struct ag_policy *pol = policy_of(slot);
	if (!pol || !(pol->flags & AG_POLICY_EXEC_DENY_SOCKET_SHELL) || peer_explicitly_allowed(slot, r))
		return AG_VERDICT_ALLOWED;
	return objection(pol);
}

#endif /* AGENTGUARD_STDIO_SOCKET_H */
