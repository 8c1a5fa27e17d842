// SPDX-License-Identifier: GPL-2.0-only
/*
 * Shells served over the network, caught by what they do: an agent task that puts an inet
 * socket on its stdin, stdout or stderr with dup2/dup3 (nc -e, python/perl socket + dup2 +
 * pty.spawn, a renamed bash's `>& /dev/tcp/H/P`) is killed before the call returns, under
 * exec.deny_socket_shell (monitor: reported). The exec and fork sides of the same check are
 * in process.bpf.c; stdio_socket.h says what counts.
 *
 * Syscall tracepoints put every task's syscalls on the slow path, so the agent attaches these
 * only while some policy asks for exec.deny_socket_shell. They run for dup2/dup3 calls only,
 * and return after the target descriptor compare (newfd > 2) or the scope check: outside the
 * agent cgroups a dup2 onto stdio costs one array lookup and the cgroup walk.
 */
#include "stdio_socket.h"

char LICENSE[] SEC("license") = "GPL";

static __always_inline int on_dup(__u32 oldfd, __u32 newfd, __u16 how)
{
	if (newfd > 2 || oldfd == newfd)
		return 0;
	__u64 key = task_scope_key();
	struct ag_config *cfg = ag_cfg();
	if (!key || !cfg)
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	struct sock *sk = fd_inet_sock(task, oldfd);
	if (!sk)
		return 0;
	struct ag_stdio_socket r = {};
	stdio_peer(sk, &r);
	__u32 verdict = r.flags & AG_STDIO_LOOPBACK ? AG_VERDICT_ALLOWED : socket_shell_verdict(cfg, &r);
	/* decided before the record: the pending SIGKILL is taken on the way back to user space,
	 * so the process never runs with the socket as its stdio */
	if (verdict == AG_VERDICT_DENIED)
		bpf_send_signal(SIGKILL);
	fill_header(&r.h, AG_REC_STDIO_SOCKET, sizeof(r));
	r.how = how;
	r.fd = newfd;
	r.verdict = verdict;
	r.source_fd = oldfd;
	output(&r, sizeof(r), key, verdict == AG_VERDICT_DENIED ? AG_RECORD_KILL
	       : verdict == AG_VERDICT_ALLOWED ? AG_RECORD_ORDINARY : AG_RECORD_PRIORITY);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_dup2")
int ag_dup2_enter(struct trace_event_raw_sys_enter *ctx)
{
	return on_dup(ctx->args[0], ctx->args[1], AG_STDIO_DUP2);
}

SEC("tracepoint/syscalls/sys_enter_dup3")
int ag_dup3_enter(struct trace_event_raw_sys_enter *ctx)
{
	return on_dup(ctx->args[0], ctx->args[1], AG_STDIO_DUP3);
}
