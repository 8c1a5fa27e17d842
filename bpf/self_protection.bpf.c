// SPDX-License-Identifier: GPL-2.0-only
/*
 * Self-protection: what a process in an agent cgroup aims at the agent daemon, reported as
 * tamper records. Where the kernel accepts LSM programs, lsm/task_kill and
 * lsm/ptrace_access_check refuse signals and ptrace (EPERM). Elsewhere (6.18 without BPF LSM):
 *
 *   tp_btf/signal_generate      a signal, seen once generated: the sender is killed; a stop
 *                               signal is undone at once (SIGCONT to the daemon)
 *   tp_btf/cgroup_freeze        the daemon's cgroup frozen (itself or through an ancestor)
 *   tp_btf/cgroup_attach_task   a daemon task moved to another cgroup (any hierarchy)
 *   tp_btf/oom_score_adj_update the daemon's oom_score_adj written (the daemon puts it back)
 *   sys_enter_ptrace            PTRACE_ATTACH / PTRACE_SEIZE of any daemon thread
 *   sys_enter_process_vm_*      process_vm_readv / process_vm_writev of the daemon
 *   sys_enter_open(at)(2)       /proc/<daemon pid or tid>/mem opened by absolute path
 *
 * In enforce mode the doer is killed. The syscall tracepoints kill it before the call returns
 * (the call itself still runs: an attach completes, and is undone by the tracer's death); the
 * syscall programs are attached only where another syscall tracepoint already puts every
 * task's syscalls on the slow path (daemon/KernelHooks), and return at once for other calls.
 */
#include "hooks.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define SIGILL         4
#define SIGTRAP        5
#define SIGBUS         7
#define SIGFPE         8
#define SIGSEGV        11
#define SIGCONT        18
#define SIGSTOP        19
#define SIGTSTP        20
#define SIGTTIN        21
#define SIGTTOU        22
#define SIGURG         23
#define SIGIO          29   /* SIGPOLL */
#define SIGSYS         31
#define SI_SIGIO       (-5)
#define POLL_IN        1
#define POLL_HUP       6
#define PTRACE_ATTACH  16
#define PTRACE_SEIZE   0x4206
#define PROC_PATH_MAX  64   /* "/proc/" + pid + "/task/" + tid + "/mem": 6 + 10 + 6 + 10 + 4 + NUL */

extern struct task_struct *bpf_task_from_vpid(s32 vpid) __ksym __weak;
extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym __weak;
extern void bpf_task_release(struct task_struct *p) __ksym __weak;

/* The agent cgroup of current when it aims at the daemon, else 0; the verdict in *verdict. */
static __always_inline __u64 tamperer(struct ag_config *cfg, __u32 *verdict)
{
	__u64 key = task_scope_key();
	*verdict = cfg->tamper_enforce ? AG_VERDICT_DENIED : AG_VERDICT_WOULD_BLOCK;
	return key;
}

static __always_inline void tamper_record(__u64 key, __u32 verdict, __u16 kind, __u32 target_pid, __u32 target_tid,
					  __u32 sig, __s32 value, __u64 cgroup_id, __u32 flags, bool killed)
{
	/* a sender killed costs the agent a process: that record has no budget */
	struct ag_tamper *t = reserve(sizeof(*t), key, killed ? AG_RECORD_KILL : AG_RECORD_PRIORITY);
	if (!t)
		return;
	fill_header(&t->h, AG_REC_TAMPER, sizeof(*t));
	t->target_pid = target_pid;
	t->signal = sig;
	t->kind = kind;
	t->verdict = verdict;
	t->reserved = 0;
	t->flags = flags;
	t->target_tid = target_tid;
	t->target_cgroup_id = cgroup_id;
	t->value = value;
	t->reserved2 = 0;
	submit(t);
}

/* LSM hooks: refuse. */
static __always_inline __u32 tamper(__u32 target, __u32 sig, __u16 kind)
{
	struct ag_config *cfg = ag_cfg();
	if (!cfg || !cfg->daemon_tgid || target != cfg->daemon_tgid)
		return AG_VERDICT_ALLOWED;
	__u32 verdict;
	__u64 key = tamperer(cfg, &verdict);
	if (!key)
		return AG_VERDICT_ALLOWED;
	/* a SIGHUP that gets through is counted before delivery: the handler refuses its reload */
	if (sig == SIGHUP && kind == AG_TAMPER_SIGNAL && verdict != AG_VERDICT_DENIED)
		count(AG_CNT_DAEMON_SIGHUP);
	tamper_record(key, verdict, kind, target, target, sig, 0, 0, 0, false);
	return verdict;
}

/*
 * The doer (current) went for the daemon from an agent cgroup, in a hook that cannot refuse:
 * in enforce mode it is killed (deferred to irq_work where IRQs are off; the daemon kills it
 * if that fails) and the record says what it did. Nothing for a doer outside the scope.
 */
static __always_inline void tamper_by_current(struct ag_config *cfg, __u16 kind, __u32 target_pid, __u32 target_tid,
					      __s32 value, __u64 cgroup_id)
{
	__u32 verdict;
	__u64 key = tamperer(cfg, &verdict);
	if (!key)
		return;
	__u32 flags = 0;
	if (verdict == AG_VERDICT_DENIED && bpf_send_signal(SIGKILL) != 0)
		flags |= AG_TAMPER_KILL_BY_AGENT;
	tamper_record(key, verdict, kind, target_pid, target_tid, 0, value, cgroup_id, flags, verdict == AG_VERDICT_DENIED);
}

static __always_inline bool stop_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

/* Single entry: stop signals from agent cgroups that the daemon has not yet taken; written by
 * ag_signal (+1) and ag_signal_deliver (swapped to 0). Not the agent's to write. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} ag_stops_pending SEC(".maps");

/*
 * Signals with si_code values of their own (the kernel's sig_specific_sicodes()): faults,
 * SIGCHLD, SIGPOLL, SIGSYS. For these a positive si_code is a fault's or a child's, never
 * file-async I/O's (send_sigio_to_task gives them SI_SIGIO instead, SIGPOLL excepted).
 */
static __always_inline bool sig_specific(int sig)
{
	return sig == SIGILL || sig == SIGTRAP || sig == SIGBUS || sig == SIGFPE || sig == SIGSEGV
	       || sig == SIGCHLD || sig == SIGIO || sig == SIGSYS;
}

/*
 * Whether a signal was generated by file-async I/O (fs/fcntl.c send_sigio_to_task, reached by
 * O_ASYNC sockets, pipes and ttys, file leases and dnotify): F_SETSIG n gives si_code POLL_IN..
 * POLL_HUP (the reason), or SI_SIGIO for a signal with codes of its own; F_SETSIG 0 (or a full
 * RT queue) a plain SIGIO with SEND_SIG_PRIV. Nothing else makes these: kill() is SI_USER, tgkill
 * SI_TKILL, rt_sigqueueinfo refuses si_code >= 0 to another process, timers SI_TIMER, the JVM's
 * faults are sig_specific. The daemon never sets O_ASYNC or F_SETOWN on anything, so every such
 * signal it gets was asked for by someone else.
 */
static __always_inline bool file_async(int sig, struct kernel_siginfo *info)
{
	if ((unsigned long)info <= 1)   /* SEND_SIG_NOINFO (0), SEND_SIG_PRIV (1) */
		return sig == SIGIO && (unsigned long)info == 1;
	int code = BPF_CORE_READ(info, si_code);
	if (code == SI_SIGIO)
		return true;
	return code >= POLL_IN && code <= POLL_HUP && (sig == SIGIO || !sig_specific(sig));
}

/*
 * A signal from an agent cgroup to the daemon (no LSM here: observe, then act). Runs in the
 * sender's context under the target's siglock with IRQs off, so the sender's kill is deferred
 * to this CPU's irq_work, which holds one signal at a time (-EBUSY while one is pending: then
 * the daemon kills the sender when it reads the record). A stop signal is also noted, for
 * ag_signal_deliver to undo as the daemon takes it: SIGCONT from the daemon's own context
 * needs no bpf_send_signal_task (6.13+) and no second signal from this run.
 */
SEC("tp_btf/signal_generate")
int BPF_PROG(ag_signal, int sig, struct kernel_siginfo *info, struct task_struct *task, int group, int result)
{
	/* SIGCHLD is the kernel telling a parent (the daemon, for what it spawned) of a child's exit */
	if (sig <= 0 || sig == SIGCHLD)
		return 0;
	struct ag_config *cfg = ag_cfg();
	if (!cfg || !cfg->daemon_tgid || task->tgid != cfg->daemon_tgid)
		return 0;
	if (sig == SIGCONT) {
		/* from anyone: it discards the daemon's pending stop signals, so none is left to undo,
		 * and an operator's later SIGSTOP must not be taken for the agent's */
		__u32 zero = 0;
		__u64 *pending = bpf_map_lookup_elem(&ag_stops_pending, &zero);
		if (pending)
			__sync_lock_test_and_set(pending, 0);
	}
	__u32 verdict;
	__u64 key = tamperer(cfg, &verdict);
	__u32 flags = 0;
	if (!key) {
		/*
		 * File-async I/O sends its signal from whatever context does the I/O: the daemon's own
		 * thread writing to a socket whose peer (an agent's end) has O_ASYNC and F_SETOWN(daemon),
		 * the daemon opening a file an agent holds a lease on, a softirq. The agent that set the
		 * owner is not here to kill, and nobody else is guilty: record it (overflow bucket, key 0),
		 * undo a stop, count a SIGHUP (its reload is refused), kill no one.
		 */
		if (!file_async(sig, info))
			return 0;
		verdict = AG_VERDICT_WOULD_BLOCK;
		flags = AG_TAMPER_FASYNC;
	}
	/* counted before the signal is delivered: the daemon's handler knows an agent asked for a reload.
	 * Only one the kernel queued (not one merged into a SIGHUP already pending): each count is one
	 * run of the handler, which takes one (file-async I/O sends several in a row). */
	if (sig == SIGHUP && (result == TRACE_SIGNAL_DELIVERED || result == TRACE_SIGNAL_LOSE_INFO))
		count(AG_CNT_DAEMON_SIGHUP);
	__u16 kind = AG_TAMPER_SIGNAL;
	if (stop_signal(sig)) {
		/* in monitor mode too: the daemon's liveness is not the agent's policy to relax */
		kind = AG_TAMPER_STOP;
		__u32 zero = 0;
		__u64 *pending = bpf_map_lookup_elem(&ag_stops_pending, &zero);
		if (pending) {
			__sync_fetch_and_add(pending, 1);
			flags |= AG_TAMPER_CONTINUED;
		}
	}
	/* the signal itself can no longer be stopped: stop the sender */
	if (verdict == AG_VERDICT_DENIED && bpf_send_signal(SIGKILL) != 0)
		flags |= AG_TAMPER_KILL_BY_AGENT;
	tamper_record(key, verdict, kind, task->tgid, task->pid, sig, 0, 0, flags, verdict == AG_VERDICT_DENIED);
	return 0;
}

/*
 * The daemon takes a stop signal (get_signal, its own context, just before the group stop):
 * if one came from an agent cgroup, SIGCONT to its whole process. Deferred to this CPU's
 * irq_work (siglock held), it runs once the stopping thread lets IRQs in, and ends the group
 * stop; an operator's SIGSTOP (none noted) stops the daemon as asked. A PTRACE_ATTACH's
 * SIGSTOP gets here once the tracer is gone (killed at sys_enter_ptrace).
 */
SEC("tp_btf/signal_deliver")
int BPF_PROG(ag_signal_deliver, int sig, struct kernel_siginfo *info, struct k_sigaction *ka)
{
	if (!stop_signal(sig))
		return 0;
	struct ag_config *cfg = ag_cfg();
	if (!cfg || !cfg->daemon_tgid || (bpf_get_current_pid_tgid() >> 32) != cfg->daemon_tgid)
		return 0;
	__u32 zero = 0;
	__u64 *pending = bpf_map_lookup_elem(&ag_stops_pending, &zero);
	if (pending && *pending && __sync_lock_test_and_set(pending, 0))
		bpf_send_signal(SIGCONT);
	return 0;
}

/*
 * The daemon's cgroup is being frozen: cgroup_do_freeze() runs this for each cgroup whose
 * state changes, the daemon's included when an ancestor is frozen, before its tasks are told.
 * Nothing here can undo the freeze (docs/OPERATIONS.md: what brings a frozen daemon back);
 * the writer is killed (irq_work: IRQs are off here) and the record waits in the ring for
 * the daemon to run again.
 */
SEC("tp_btf/cgroup_freeze")
int BPF_PROG(ag_freeze, struct cgroup *cgrp, const char *path)
{
	struct ag_config *cfg = ag_cfg();
	if (!cfg || !cfg->self_cgroup_id)
		return 0;
	__u64 id = BPF_CORE_READ(cgrp, kn, id);
	if (id != cfg->self_cgroup_id)
		return 0;
	tamper_by_current(cfg, AG_TAMPER_FREEZE, cfg->daemon_tgid, cfg->daemon_tgid, 0, id);
	return 0;
}

/*
 * A daemon task moved to another cgroup (cgroup.procs, cgroup.threads, or a v1 hierarchy's
 * tasks/cgroup.procs: cgroup_attach_task fires for every hierarchy, after the move). Moving the
 * daemon is the other way to freeze it: into an already frozen v2 cgroup (no cgroup_freeze
 * fires: the cgroup's state does not change), into a cgroup frozen later (not the one
 * ag_freeze watches), or into a v1 freezer cgroup (freezer.state FROZEN has no tracepoint).
 * Nothing here can move it back; the mover is killed (irq_work: the path lock is held with
 * IRQs off) and the record waits in the ring for the daemon to run again.
 */
SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(ag_self_migrate, struct cgroup *dst, const char *path, struct task_struct *task, bool threadgroup)
{
	struct ag_config *cfg = ag_cfg();
	if (!cfg || !cfg->daemon_tgid || task->tgid != cfg->daemon_tgid)
		return 0;
	tamper_by_current(cfg, AG_TAMPER_MIGRATE, task->tgid, task->pid, 0, BPF_CORE_READ(dst, kn, id));
	return 0;
}

/* The daemon's oom_score_adj written (through /proc/PID/oom_score_adj or oom_adj): process
 * context, so the writer's kill is immediate. The daemon puts its value back. */
SEC("tp_btf/oom_score_adj_update")
int BPF_PROG(ag_oom_score_adj, struct task_struct *task)
{
	struct ag_config *cfg = ag_cfg();
	if (!cfg || !cfg->daemon_tgid || task->tgid != cfg->daemon_tgid)
		return 0;
	tamper_by_current(cfg, AG_TAMPER_OOM_SCORE_ADJ, task->tgid, task->pid, BPF_CORE_READ(task, signal, oom_score_adj), 0);
	return 0;
}

/*
 * Is the daemon there to judge and resume a process the tunnel hold would stop (process.bpf.c)?
 * Its pinned programs outlive it, and a process stopped with nobody to resume it would hang
 * until the next start. Without the kfunc (before 6.2): assumed alive, and the next start
 * resumes what a previous run left in ag_held. A global function: process.bpf.c calls it.
 */
__noinline int ag_daemon_alive(void)
{
	struct ag_config *cfg = ag_cfg();
	if (!cfg || !cfg->daemon_tgid)
		return 0;
	if ((void *)bpf_task_from_pid == NULL)
		return 1;
	struct task_struct *t = bpf_task_from_pid(cfg->daemon_tgid);
	if (!t)
		return 0;
	int alive = t->tgid == cfg->daemon_tgid && !(t->flags & 0x4 /* PF_EXITING */);
	bpf_task_release(t);
	return alive;
}

/*
 * The task a pid from current's point of view names: in current's pid namespace
 * (bpf_task_from_vpid, 6.13+); without it, only for callers in the initial pid namespace,
 * where a pid is the global one (a container's pid 40 is not the host's pid 40). The tgid,
 * and the tid in *tid; 0 when no such task.
 */
static __always_inline __u32 tgid_of(__s32 pid, __u32 *tid)
{
	struct task_struct *t = NULL;
	if (pid <= 0)
		return 0;
	if ((void *)bpf_task_from_vpid != NULL) {
		t = bpf_task_from_vpid(pid);
	} else if ((void *)bpf_task_from_pid != NULL) {
		struct task_struct *self = bpf_get_current_task_btf();
		if (BPF_CORE_READ(self, thread_pid, level) == 0)
			t = bpf_task_from_pid(pid);
	}
	if (!t)
		return 0;
	__u32 tgid = t->tgid;
	*tid = t->pid;
	bpf_task_release(t);
	return tgid;
}

/* A syscall naming a daemon thread by pid: killed before it returns (enforce), reported. */
static __always_inline void aimed_at_daemon(__s32 pid, __u16 kind, __s32 value)
{
	struct ag_config *cfg = ag_cfg();
	if (!cfg || !cfg->daemon_tgid)
		return;
	__u32 verdict;
	__u64 key = tamperer(cfg, &verdict);
	if (!key)
		return;
	__u32 tid = 0;
	if (tgid_of(pid, &tid) != cfg->daemon_tgid)
		return;
	if (verdict == AG_VERDICT_DENIED)
		bpf_send_signal(SIGKILL);   /* IRQs on: queued now, delivered before the syscall returns */
	tamper_record(key, verdict, kind, cfg->daemon_tgid, tid, 0, value, 0, 0, verdict == AG_VERDICT_DENIED);
}

SEC("tracepoint/syscalls/sys_enter_ptrace")
int ag_ptrace_enter(struct trace_event_raw_sys_enter *ctx)
{
	long request = ctx->args[0];
	if (request != PTRACE_ATTACH && request != PTRACE_SEIZE)
		return 0;
	aimed_at_daemon(ctx->args[1], AG_TAMPER_PTRACE, request);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_process_vm_readv")
int ag_vm_readv_enter(struct trace_event_raw_sys_enter *ctx)
{
	aimed_at_daemon(ctx->args[0], AG_TAMPER_VM_ACCESS, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_process_vm_writev")
int ag_vm_writev_enter(struct trace_event_raw_sys_enter *ctx)
{
	aimed_at_daemon(ctx->args[0], AG_TAMPER_VM_ACCESS, 1);
	return 0;
}

/* Per-CPU scratch for the path an open names. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, char[PROC_PATH_MAX]);
} ag_open_path SEC(".maps");

/* Digits at path[*at..]: their value, *at moved past them; -1 when there are none. */
static __always_inline __s32 digits(const char *path, __u32 *at)
{
	__s32 n = 0;
	__u32 i = *at, start = *at;
	for (int k = 0; k < 10; k++, i++) {
		char c = path[i & (PROC_PATH_MAX - 1)];
		if (c < '0' || c > '9')
			break;
		n = n * 10 + (c - '0');
	}
	*at = i;
	return i == start ? -1 : n;
}

static __always_inline bool literal(const char *path, __u32 *at, const char *text, __u32 len)
{
	__u32 i = *at;
	for (__u32 k = 0; k < len; k++) {
		if (path[(i + k) & (PROC_PATH_MAX - 1)] != text[k])
			return false;
	}
	*at = i + len;
	return true;
}

/*
 * The pid an absolute /proc/<pid>/mem or /proc/<pid>/task/<tid>/mem names, else -1. Other
 * spellings are not seen (docs/ENFORCEMENT.md): relative to a /proc/<pid> directory
 * descriptor, through /proc/self/root or a second procfs mount, with "//" or "/./".
 */
static __always_inline __s32 proc_mem_pid(const char *path)
{
	__u32 at = 0;
	if (!literal(path, &at, "/proc/", 6))
		return -1;
	__s32 pid = digits(path, &at);
	if (pid < 0 || !literal(path, &at, "/", 1))
		return -1;
	__u32 task = at;
	if (literal(path, &task, "task/", 5)) {
		__s32 tid = digits(path, &task);
		if (tid < 0 || !literal(path, &task, "/", 1))
			return -1;
		pid = tid;   /* the thread named: same process, and what the kernel opens */
		at = task;
	}
	return literal(path, &at, "mem", 4) ? pid : -1;   /* "mem" and its NUL */
}

static __always_inline void opened(const char *filename)
{
	struct ag_config *cfg = ag_cfg();
	if (!cfg || !cfg->daemon_tgid || !task_scope_key())   /* cheap for everyone outside the agent cgroups */
		return;
	__u32 zero = 0;
	char *path = bpf_map_lookup_elem(&ag_open_path, &zero);
	if (!path || bpf_probe_read_user_str(path, PROC_PATH_MAX, filename) < 10)
		return;
	__s32 pid = proc_mem_pid(path);
	if (pid > 0)
		aimed_at_daemon(pid, AG_TAMPER_PROC_MEM, 0);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int ag_openat_enter(struct trace_event_raw_sys_enter *ctx)
{
	opened((const char *)ctx->args[1]);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int ag_openat2_enter(struct trace_event_raw_sys_enter *ctx)
{
	opened((const char *)ctx->args[1]);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_open")
int ag_open_enter(struct trace_event_raw_sys_enter *ctx)
{
	opened((const char *)ctx->args[0]);
	return 0;
}

SEC("lsm/task_kill")
int BPF_PROG(ag_kill_lsm, struct task_struct *p, struct kernel_siginfo *info, int sig, const struct cred *cred)
{
	if (sig > 0 && sig != SIGCHLD && tamper(p->tgid, sig, AG_TAMPER_SIGNAL) == AG_VERDICT_DENIED)
		return -EPERM;
	return 0;
}

/*
 * File-async I/O aimed at the daemon (F_SETOWN + O_ASYNC, a lease, dnotify): sigio_perm() and
 * send_sigurg ask this hook whatever context does the I/O, and task_kill never sees these
 * signals. The daemon never asks for SIGIO or SIGURG, so every one to it is refused, whoever set
 * the owner; recorded (sender unknown: key 0) unless it is SIGURG (ignored by default).
 */
SEC("lsm/file_send_sigiotask")
int BPF_PROG(ag_fasync_lsm, struct task_struct *tsk, struct fown_struct *fown, int sig)
{
	struct ag_config *cfg = ag_cfg();
	if (!cfg || !cfg->daemon_tgid || tsk->tgid != cfg->daemon_tgid)
		return 0;
	if (!sig)
		sig = SIGIO;
	if (sig != SIGURG)
		tamper_record(0, AG_VERDICT_DENIED, stop_signal(sig) ? AG_TAMPER_STOP : AG_TAMPER_SIGNAL, tsk->tgid,
			      tsk->pid, sig, 0, 0, AG_TAMPER_FASYNC, false);
	return -EPERM;
}

SEC("lsm/ptrace_access_check")
int BPF_PROG(ag_ptrace_lsm, struct task_struct *child, unsigned int mode)
{
	if (tamper(child->tgid, 0, AG_TAMPER_PTRACE) == AG_VERDICT_DENIED)
		return -EPERM;
	return 0;
}
