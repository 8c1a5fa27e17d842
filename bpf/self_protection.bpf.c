// SPDX-License-Identifier: GPL-2.0-only
/*
 * Self-protection: signals (and, with LSM, ptrace) aimed at the agent daemon from agent
 * cgroups, reported as tamper records. lsm/task_kill and lsm/ptrace_access_check refuse them
 * (EPERM) where the kernel accepts LSM programs; elsewhere tp_btf/signal_generate sees a
 * signal only once it is generated, too late to stop it, so in enforce mode it kills the
 * sender instead (and ptrace is not seen).
 */
#include "hooks.bpf.h"

char LICENSE[] SEC("license") = "GPL";

static __always_inline __u32 tamper(__u32 target, __u32 sig, __u16 kind, bool can_refuse)
{
	struct ag_config *cfg = ag_cfg();
	if (!cfg || !cfg->daemon_tgid || target != cfg->daemon_tgid)
		return AG_VERDICT_ALLOWED;
	__u64 key = task_scope_key();
	if (!key)
		return AG_VERDICT_ALLOWED;
	/* counted before the signal is delivered: the daemon's handler knows an agent asked for a reload */
	if (sig == SIGHUP && kind == AG_TAMPER_SIGNAL)
		count(AG_CNT_DAEMON_SIGHUP);
	__u32 verdict = cfg->tamper_enforce ? AG_VERDICT_DENIED : AG_VERDICT_WOULD_BLOCK;
	/* a sender killed costs the agent a process: that record has no budget */
	struct ag_tamper *t = reserve(sizeof(*t), key, verdict == AG_VERDICT_DENIED && !can_refuse ? AG_RECORD_KILL
								       : AG_RECORD_PRIORITY);
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
