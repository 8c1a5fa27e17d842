// SPDX-License-Identifier: GPL-2.0-only
/*
 * Sockets that the egress policy cannot govern: the cgroup connect/sendmsg hooks never run
 * for raw IP sockets (raw_sendmsg builds the packet itself, IP_HDRINCL included), nor for
 * the sendto() of an unconnected ICMP "ping" socket (ping_v4/v6_sendmsg; only its connect()
 * passes connect4/6), nor for packet sockets, which bypass IP altogether. Their creation is
 * therefore the decision point: denied in agent cgroups unless the policy allows raw
 * sockets (AG_POLICY_RAW_SOCKETS_ALLOWED), reported either way (one AG_REC_SOCKET each).
 *
 * - cgroup/sock_create runs at the end of inet_create/inet6_create for tasks of the agent
 *   cgroups it is attached to (nothing elsewhere); returning 0 makes socket() fail with
 *   EPERM. It sees inet sockets only.
 * - Packet sockets (AF_PACKET, and socket(AF_INET, SOCK_PACKET) which the kernel turns
 *   into one) are seen by lsm/socket_create where the kernel loads LSM programs (EPERM),
 *   else by sys_enter_socket, attached only when some syscall tracepoint already puts every
 *   task on the slow path (docs/ENFORCEMENT.md): a denial kills the caller before socket()
 *   returns the descriptor.
 */
#include "hooks.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Is (family, type, protocol) a socket that egress policy cannot govern? */
static __always_inline bool ungoverned(__u32 family, __u32 type, __u32 protocol)
{
	type &= AG_SOCK_TYPE_MASK;
	if (family == AG_AF_PACKET || (family == AG_AF_INET && type == AG_SOCK_PACKET))
		return true;
	if (family != AG_AF_INET && family != AG_AF_INET6)
		return false;
	if (type == AG_SOCK_RAW)
		return true;
	/* ping sockets: connect() passes connect4/6, an unconnected sendto() passes nothing */
	return type == AG_SOCK_DGRAM
		&& ((family == AG_AF_INET && protocol == AG_IPPROTO_ICMP)
		    || (family == AG_AF_INET6 && protocol == AG_IPPROTO_ICMPV6));
}

/* The policy's verdict on an ungoverned socket of current, and its record. The decision does
 * not depend on ring space: a full ring loses the record, never the denial. */
static __always_inline __u32 socket_verdict(__u32 family, __u32 type, __u32 protocol, __u16 hook, __u64 key)
{
	struct ag_config *cfg = ag_cfg();
	if (!cfg)
		return AG_VERDICT_ALLOWED;
	struct ag_policy *pol = policy_of(policy_slot(cfg));
	__u32 verdict = !pol || (pol->flags & AG_POLICY_RAW_SOCKETS_ALLOWED) ? AG_VERDICT_ALLOWED : objection(pol);
	/* every one is a finding; a creator killed from the tracepoint is a kill */
	struct ag_socket *s = reserve(sizeof(*s), key, verdict == AG_VERDICT_DENIED && hook == AG_SOCKET_HOOK_SYSCALL
							       ? AG_RECORD_KILL : AG_RECORD_PRIORITY);
	if (s) {
		fill_header(&s->h, AG_REC_SOCKET, sizeof(*s));
		s->family = family == AG_AF_INET && (type & AG_SOCK_TYPE_MASK) == AG_SOCK_PACKET ? AG_AF_PACKET : family;
		s->type = type & AG_SOCK_TYPE_MASK;
		s->protocol = protocol;
		s->verdict = verdict;
		s->hook = hook;
		s->reserved = 0;
		s->reserved2 = 0;
		submit(s);
	}
	return verdict;
}

/* Attached to each agent cgroup root, like connect4: only agent tasks' inet sockets. */
SEC("cgroup/sock_create")
int ag_sock_create(struct bpf_sock *ctx)
{
	__u32 family = ctx->family, type = ctx->type, protocol = ctx->protocol;
	if (!ungoverned(family, type, protocol) || cgroup_prog_outside())
		return 1;
	return socket_verdict(family, type, protocol, AG_SOCKET_HOOK_SOCK_CREATE, cgroup_scope_key()) == AG_VERDICT_DENIED ? 0 : 1;
}

/* Where LSM programs load: packet sockets (inet ones are cgroup/sock_create's). Runs for
 * every socket() on the machine, so the family test comes before anything else. */
SEC("lsm/socket_create")
int BPF_PROG(ag_socket_lsm, int family, int type, int protocol, int kern, int ret)
{
	if (ret || kern)
		return ret;
	if (family != AG_AF_PACKET && !(family == AG_AF_INET && (type & AG_SOCK_TYPE_MASK) == AG_SOCK_PACKET))
		return 0;
	__u64 key = task_scope_key();
	if (!key)
		return 0;
	return socket_verdict(family, type, protocol, AG_SOCKET_HOOK_LSM, key) == AG_VERDICT_DENIED ? -EPERM : 0;
}

/* Without LSM: packet sockets from the syscall tracepoint, attached only when a syscall
 * tracepoint is already paid for. The socket gets made, but the caller's whole thread group
 * is killed before socket() returns its descriptor. */
SEC("tracepoint/syscalls/sys_enter_socket")
int ag_socket_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u32 family = ctx->args[0], type = ctx->args[1], protocol = ctx->args[2];
	if (family != AG_AF_PACKET && !(family == AG_AF_INET && (type & AG_SOCK_TYPE_MASK) == AG_SOCK_PACKET))
		return 0;
	__u64 key = task_scope_key();
	if (!key)
		return 0;
	if (socket_verdict(family, type, protocol, AG_SOCKET_HOOK_SYSCALL, key) == AG_VERDICT_DENIED)
		bpf_send_signal(SIGKILL);
	return 0;
}
