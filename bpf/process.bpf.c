// SPDX-License-Identifier: GPL-2.0-only
/*
 * Processes of agent tasks: exec, fork and exit records, and the exec policy. The sched
 * tracepoints (sched_process_exec/fork/exit) cost nothing outside agent cgroups, and
 * sched_process_exec still sees the new program's argv in its mm. A denied program is killed
 * there with SIGKILL, or refused earlier by lsm/bprm_check_security where the kernel accepts
 * LSM programs. Failed execve(at) calls never reach sched_process_exec: the opt-in syscall
 * outcomes (sys_enter/sys_exit_execve(at), attached only when asked or already paid for)
 * report them.
 */
#include "hooks.bpf.h"
#include "stdio_socket.h"

char LICENSE[] SEC("license") = "GPL";

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

/* Denied program files per policy slot, by identity: (policy, s_dev, i_ino) of each exec.deny
 * path, resolved (symlinks followed) by the agent at policy load and whenever it changes.
 * Agent-written. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct ag_exe_key);
	__type(value, __u8);
} ag_exec_deny_exes SEC(".maps");

/* The dynamic loaders (ld.so) of this host, by identity; resolved by the agent at start. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct ag_file_id);
	__type(value, __u8);
} ag_exec_loaders SEC(".maps");

/* Tunnel programs (tunnels.programs), by identity: (s_dev, i_ino) of each program file the
 * agent resolved on PATH or was given as a path. Agent-written, at start. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct ag_file_id);
	__type(value, __u8);
} ag_exec_hold SEC(".maps");

/* Tunnel programs by comm. Agent-written, at start. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct ag_comm_key);
	__type(value, __u8);
} ag_exec_hold_names SEC(".maps");

/* Processes stopped at exec until the daemon judges them (tgid -> bpf_ktime_get_ns() of the stop).
 * Pinned with the other maps: a daemon that starts resumes every process a previous run left here. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u64);
} ag_held SEC(".maps");

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

/* The task's credentials into the record: capability sets, euid, root and no_new_privs. */
static __always_inline void exec_cred_read(struct ag_exec *e, struct task_struct *task)
{
	const struct cred *cred = BPF_CORE_READ(task, cred);
	BPF_CORE_READ_INTO(&e->cap_effective, cred, cap_effective);
	BPF_CORE_READ_INTO(&e->cap_permitted, cred, cap_permitted);
	BPF_CORE_READ_INTO(&e->cap_bset, cred, cap_bset);
	__u32 uid = BPF_CORE_READ(cred, uid.val);
	__u32 suid = BPF_CORE_READ(cred, suid.val);
	e->euid = BPF_CORE_READ(cred, euid.val);
	e->cred_flags = (uid == 0 || e->euid == 0 || suid == 0 ? AG_CRED_UID_ROOT : 0)
		| (BPF_CORE_READ(task, atomic_flags) & AG_PFA_NO_NEW_PRIVS ? AG_CRED_NO_NEW_PRIVS : 0)
		| (BPF_CORE_READ(cred, user_ns, level) != 0 ? AG_CRED_NESTED_USER_NS : 0);
}

/* Sends the exec record with only the argv bytes used (variable size: ringbuf_output);
 * a killed, objected-to, held or fileless exec is a priority record. */
static __always_inline void exec_output(struct ag_exec *e, __u64 args_len, __u64 key)
{
	e->args_len = args_len;
	__u64 size = offsetof(struct ag_exec, args) + args_len;
	fill_header(&e->h, AG_REC_EXEC, size);
	if (size > sizeof(*e))   /* for the verifier: bounds the output size */
		return;
	output(e, size, key, e->flags & AG_EXEC_DENIED ? AG_RECORD_KILL
	       : e->flags & (AG_EXEC_WOULD_BLOCK | AG_EXEC_FILELESS | AG_EXEC_TUNNEL_JUDGE) ? AG_RECORD_PRIORITY
	       : AG_RECORD_ORDINARY);
}

/* ---- scope follows the task ------------------------------------------------------ */

extern int bpf_send_signal_task(struct task_struct *task, int sig, enum pid_type type, __u64 value) __ksym __weak;

/* Watches a task from agent cgroup origin: its task storage, inherited at fork. */
static __always_inline void watch_task(struct task_struct *task, __u64 origin, __u32 flags)
{
	struct ag_task_scope *ts = bpf_task_storage_get(&ag_tasks, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (ts) {
		ts->origin_cgroup_id = origin;
		ts->flags = flags;
	}
}

/*
 * A watched task is now outside every agent cgroup. Moved by a watched task (itself, its
 * parent, anything in an agent cgroup): killed in enforce mode (escape_kill), else followed
 * by the tracepoints under the cgroup it left. Moved by the host (a runtime, an operator):
 * released. Reported either way, as a priority record.
 */
static __always_inline void left_scope(struct task_struct *task, struct ag_task_scope *ts, __u64 dest, __u16 how,
				       bool mover_watched)
{
	struct ag_config *cfg = ag_cfg();
	if (!cfg)
		return;
	__u64 origin = ts->origin_cgroup_id;
	__u32 flags = mover_watched ? AG_SCOPE_MOVER_WATCHED : 0;
	__u32 verdict = !mover_watched ? AG_VERDICT_ALLOWED
		: cfg->escape_kill ? AG_VERDICT_DENIED : AG_VERDICT_WOULD_BLOCK;
	if (verdict == AG_VERDICT_DENIED) {
		/* the whole process; bpf_send_signal_task refuses an exiting task (a leader that
		 * left its threads behind), and is missing before 6.13: then the mover's own process
		 * if it is the same one, else the agent kills it when it reads the record */
		long rc = (void *)bpf_send_signal_task != NULL ? bpf_send_signal_task(task, SIGKILL, PIDTYPE_TGID, 0) : -1;
		if (rc < 0 && task->tgid == bpf_get_current_pid_tgid() >> 32)
			rc = bpf_send_signal(SIGKILL);
		if (rc < 0)
			flags |= AG_SCOPE_KILL_BY_AGENT;
	}
	if (verdict == AG_VERDICT_ALLOWED) {
		bpf_task_storage_delete(&ag_tasks, task);
	} else {
		ts->flags |= AG_TASK_LEFT_SCOPE;
		if (verdict == AG_VERDICT_WOULD_BLOCK || (flags & AG_SCOPE_KILL_BY_AGENT)) {
			__u32 zero = 0;
			__u64 *followed = bpf_map_lookup_elem(&ag_followed, &zero);
			if (followed)
				__sync_fetch_and_add(followed, 1);   /* from now on outside tasks look themselves up */
		}
	}

	struct ag_scope *r = reserve(sizeof(*r), origin, verdict == AG_VERDICT_DENIED ? AG_RECORD_KILL : AG_RECORD_PRIORITY);
	if (!r)
		return;
	fill_header(&r->h, AG_REC_SCOPE, sizeof(*r));
	r->origin_cgroup_id = origin;
	r->dest_cgroup_id = dest;
	r->task_pid = task->tgid;
	r->task_tid = task->pid;
	r->how = how;
	r->verdict = verdict;
	r->flags = flags;
	submit(r);
}

/* A task moved between cgroups (a write to cgroup.procs or cgroup.threads), after the move. */
SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(ag_cgroup_attach, struct cgroup *dst, const char *path, struct task_struct *task, bool threadgroup)
{
	/* cgroup v1 hierarchies fire this too: only moves in the v2 hierarchy count. Compared by
	 * hierarchy, not by "task's cgroup is dst": an exiting thread-group leader is not migrated
	 * with its threads, yet it is the task this tracepoint names. */
	if (BPF_CORE_READ(dst, root) != BPF_CORE_READ(task, cgroups, dfl_cgrp, root))
		return 0;
	__u64 dest = BPF_CORE_READ(dst, kn, id);
	if (cgroup_in_scope(dst)) {
		watch_task(task, dest, 0);   /* moved into scope (or within it): watched from here */
		return 0;
	}
	struct ag_task_scope *ts = task_membership(task);
	if (!ts || (ts->flags & AG_TASK_LEFT_SCOPE))
		return 0;   /* never watched, or already reported */
	/* the mover: inside, or watched itself (a task that moved itself is outside by now; an
	 * io_uring worker writes cgroup.procs for its process) */
	bool mover_watched = cgroup_scope_key() || task_membership(bpf_get_current_task_btf());
	left_scope(task, ts, dest, AG_SCOPE_CGROUP_WRITE, mover_watched);
	return 0;
}

/* inode ctime: i_ctime_sec/nsec since 6.11, __i_ctime (a timespec64) from 6.6 to 6.10 */
struct inode___ctime_ts { struct timespec64 __i_ctime; } __attribute__((preserve_access_index));
static __always_inline __u64 inode_ctime_ns(struct inode *inode)
{
	if (bpf_core_field_exists(inode->i_ctime_sec))
		return BPF_CORE_READ(inode, i_ctime_sec) * 1000000000ULL + BPF_CORE_READ(inode, i_ctime_nsec);
	struct inode___ctime_ts *old = (void *)inode;
	return BPF_CORE_READ(old, __i_ctime.tv_sec) * 1000000000ULL + BPF_CORE_READ(old, __i_ctime.tv_nsec);
}

/* The executed file: identity, link count, memfd or not. For a `#!` script, bprm->file is
 * the interpreter here (exec_binprm swapped it in before this tracepoint). */
static __always_inline void exec_file_read(struct ag_exec *e, struct file *file)
{
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	e->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	e->ino = BPF_CORE_READ(inode, i_ino);
	e->nlink = BPF_CORE_READ(inode, __i_nlink);
	e->exe_ctime_ns = inode_ctime_ns(inode);
	e->exe_uid = BPF_CORE_READ(inode, i_uid.val);
	if (e->nlink == 0)
		e->flags |= AG_EXEC_UNLINKED;
	/* memfd_create names its file "memfd:<name>" (mm/memfd.c) */
	char name[8] = {};
	bpf_probe_read_kernel(name, 6, BPF_CORE_READ(file, f_path.dentry, d_name.name));
	if (name[0] == 'm' && name[1] == 'e' && name[2] == 'm' && name[3] == 'f' && name[4] == 'd' && name[5] == ':')
		e->flags |= AG_EXEC_MEMFD;
	/* execveat(fd, "", AT_EMPTY_PATH) (fexecve) names the program "/dev/fd/N" (fs/exec.c
	 * alloc_bprm); "/dev/fd/N/name" is a path relative to a directory descriptor, not fd exec. */
	const char *f = e->filename;
	if (f[0] == '/' && f[1] == 'd' && f[2] == 'e' && f[3] == 'v' && f[4] == '/' && f[5] == 'f' && f[6] == 'd'
	    && f[7] == '/' && f[8] >= '0' && f[8] <= '9') {
		bool digits = true;
		for (int i = 9; i < 20; i++) {
			if (f[i] == 0)
				break;
			if (f[i] < '0' || f[i] > '9') {
				digits = false;
				break;
			}
		}
		if (digits)
			e->flags |= AG_EXEC_BY_FD;
	}
	struct ag_file_id id = { .dev = e->dev, .ino = e->ino };
	if (bpf_map_lookup_elem(&ag_exec_loaders, &id))
		e->flags |= AG_EXEC_LOADER;
}

/* ld.so --list / --verify only inspect a program (ldd runs them): not a way to run it. */
static __always_inline bool loader_inspects_only(struct ag_exec *e, __u64 args_len)
{
	__u32 zero = 0;
	struct ag_exec_path_key *scratch = bpf_map_lookup_elem(&ag_path_scratch, &zero);
	if (!scratch)
		return false;
	long argv0 = bpf_probe_read_kernel_str(scratch->path, sizeof(scratch->path), e->args);
	if (argv0 <= 0 || argv0 >= AG_PATH_MAX)
		return false;
	/* byte compares: string literals would add a .rodata map to the object */
	const char *a = &e->args[argv0 & (AG_PATH_MAX - 1)];
	if (argv0 + 7 > args_len || a[0] != '-' || a[1] != '-')
		return false;
	if (a[2] == 'l' && a[3] == 'i' && a[4] == 's' && a[5] == 't' && a[6] == 0)
		return true;
	return argv0 + 9 <= args_len && a[2] == 'v' && a[3] == 'e' && a[4] == 'r' && a[5] == 'i' && a[6] == 'f'
		&& a[7] == 'y' && a[8] == 0;
}

/* Exec policy: a denied program is killed here, after the point of no return and before
 * it runs a single instruction (the pending SIGKILL is taken on the way to user space).
 * What is executed decides (the file's identity), then how it is named (comm, the path as
 * passed), then how it is run (the loader directly, without a file). */
static __always_inline void exec_policy(struct ag_config *cfg, struct ag_exec *e, __u64 args_len)
{
	__u32 slot = policy_slot(cfg);
	struct ag_policy *pol = policy_of(slot);
	if (!pol)
		return;
	__u16 match = AG_EXEC_MATCH_NONE;
	struct ag_exe_key exe = { .policy = slot, .dev = e->dev, .ino = e->ino };
	struct ag_exec_name_key name = { .policy = slot };
	bpf_get_current_comm(name.name, sizeof(name.name));
	if (bpf_map_lookup_elem(&ag_exec_deny_exes, &exe))
		match = AG_EXEC_MATCH_IDENTITY;
	else if (bpf_map_lookup_elem(&ag_exec_deny_names, &name))
		match = AG_EXEC_MATCH_NAME;
	if (!match) {
		__u32 zero = 0;
		struct ag_exec_path_key *path = bpf_map_lookup_elem(&ag_path_scratch, &zero);
		if (path) {
			__builtin_memset(path, 0, sizeof(*path));
			path->policy = slot;
			bpf_probe_read_kernel_str(path->path, sizeof(path->path), e->filename);
			if (bpf_map_lookup_elem(&ag_exec_deny_paths, path))
				match = AG_EXEC_MATCH_PATH;
		}
	}
	if (!match && (pol->flags & AG_POLICY_EXEC_DENY_LOADER) && (e->flags & AG_EXEC_LOADER)
	    && !loader_inspects_only(e, args_len))
		match = AG_EXEC_MATCH_LOADER;
	if (!match && (pol->flags & AG_POLICY_EXEC_DENY_FILELESS) && (e->flags & AG_EXEC_FILELESS))
		match = AG_EXEC_MATCH_FILELESS;
	if (!match)
		return;
	e->match = match;
	if (objection(pol) == AG_VERDICT_DENIED) {
		bpf_send_signal(SIGKILL);
		e->flags |= AG_EXEC_DENIED;
	} else {
		e->flags |= AG_EXEC_WOULD_BLOCK;
	}
}

/* An exec on an inet socket as stdin or stdout (stdio_socket.h: nc -e, ncat --sh-exec, a shell
 * exec'd by a reverse-shell one-liner): AG_EXEC_STDIO_SOCKET, and under exec.deny_socket_shell
 * killed here like a denied program (unless the exec policy decided already). */
static __always_inline void exec_stdio_read(struct ag_config *cfg, struct ag_exec *e, struct task_struct *task)
{
	struct ag_stdio_socket peer = {};
	__u32 fd = 0;
	if (!stdio_on_remote_socket(task, &fd, &peer))
		return;
	e->flags |= AG_EXEC_STDIO_SOCKET;
	if (e->flags & (AG_EXEC_DENIED | AG_EXEC_WOULD_BLOCK))
		return;
	__u32 verdict = socket_shell_verdict(cfg, &peer);
	if (verdict == AG_VERDICT_DENIED) {
		bpf_send_signal(SIGKILL);
		e->flags |= AG_EXEC_DENIED;
	} else if (verdict == AG_VERDICT_WOULD_BLOCK) {
		e->flags |= AG_EXEC_WOULD_BLOCK;
	}
}

/* A fork by a process whose stdin or stdout is a remote inet socket: the relay of a shell
 * (python pty.spawn, a renamed shell running a command). Under exec.deny_socket_shell both
 * are killed (the child where bpf_send_signal_task exists, 6.13+; else its exec on the
 * socket or its dead relay ends it); one STDIO_SOCKET record either way. */
static __always_inline void fork_stdio_check(struct task_struct *parent, struct task_struct *child, __u64 key)
{
	struct ag_config *cfg = ag_cfg();
	if (!cfg)
		return;
	struct ag_stdio_socket r = {};
	__u32 fd = 0;
	if (!stdio_on_remote_socket(parent, &fd, &r))
		return;
	__u32 verdict = socket_shell_verdict(cfg, &r);
	if (verdict == AG_VERDICT_DENIED) {
		bpf_send_signal(SIGKILL);
		if ((void *)bpf_send_signal_task != NULL && bpf_send_signal_task(child, SIGKILL, PIDTYPE_TGID, 0) == 0)
			r.flags |= AG_STDIO_CHILD_KILLED;
	}
	fill_header(&r.h, AG_REC_STDIO_SOCKET, sizeof(r));
	r.how = AG_STDIO_FORK;
	r.fd = fd;
	r.verdict = verdict;
	r.source_fd = fd;
	output(&r, sizeof(r), key, verdict == AG_VERDICT_DENIED ? AG_RECORD_KILL
	       : verdict == AG_VERDICT_ALLOWED ? AG_RECORD_ORDINARY : AG_RECORD_PRIORITY);
}

#define SIGSTOP 19

/* Is the daemon there to judge and resume a held process? (self_protection.bpf.c: the kfuncs
 * it needs may be declared in one object file only) */
extern int ag_daemon_alive(void);

/*
 * Tunnel hold: a tunnel program (by identity or comm, or the dynamic loader run as a program)
 * run where egress.tunnels is deny. The process is marked a tunnel (PENDING: fail closed)
 * unless it is one already (inherited), and
 * in enforce mode stopped (SIGSTOP, taken before its first instruction) so that the daemon can
 * read its command line and configuration files before it can connect anywhere; the daemon
 * then writes the verdict and resumes it. Monitor mode: flagged for the judge, not stopped.
 * Another process resuming it early (SIGCONT) gains nothing: the mark already denies.
 */
static __always_inline void tunnel_hold(struct ag_config *cfg, struct ag_exec *e, struct task_struct *task,
					__u64 args_len)
{
	if (e->flags & AG_EXEC_DENIED)
		return;
	struct ag_policy *pol = policy_of(policy_slot(cfg));
	if (!pol || !(pol->flags & AG_POLICY_TUNNEL_DENY))
		return;
	struct ag_file_id id = { .dev = e->dev, .ino = e->ino };
	struct ag_comm_key comm = {};
	bpf_get_current_comm(comm.name, sizeof(comm.name));
	/* ld.so PROGRAM: the program is in argv, which only the judge reads: held too (rare) */
	if (!bpf_map_lookup_elem(&ag_exec_hold, &id) && !bpf_map_lookup_elem(&ag_exec_hold_names, &comm)
	    && !((e->flags & AG_EXEC_LOADER) && !loader_inspects_only(e, args_len)))
		return;
	e->flags |= AG_EXEC_TUNNEL_JUDGE;
	if (!(pol->flags & AG_POLICY_ENFORCE))
		return;
	__u32 tgid = task->tgid;
	__u8 pending = AG_TUNNEL_PENDING;
	bpf_map_update_elem(&ag_tunnel_pids, &tgid, &pending, BPF_NOEXIST);
	if (!ag_daemon_alive())
		return;   /* marked, not stopped: its connects need an explicit allow */
	__u64 now = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&ag_held, &tgid, &now, BPF_ANY) != 0)
		return;
	if (bpf_send_signal(SIGSTOP) == 0)
		e->flags |= AG_EXEC_HELD;
	else
		bpf_map_delete_elem(&ag_held, &tgid);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(ag_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	__u64 key = cgroup_scope_key();
	if (key)
		watch_task(task, bpf_get_current_cgroup_id(), 0);
	else if (!(key = followed_outside_key(task)))
		return 0;

	__u32 zero = 0;
	struct ag_exec *e = bpf_map_lookup_elem(&ag_exec_scratch, &zero);
	struct ag_config *cfg = ag_cfg();
	if (!e || !cfg)
		return 0;

	e->old_pid = old_pid;
	e->flags = 0;
	e->error = 0;
	e->match = AG_EXEC_MATCH_NONE;
	e->reserved = 0;
	exec_filename_read(e, bpf_probe_read_kernel_str(e->filename, sizeof(e->filename),
						       BPF_CORE_READ(bprm, filename)));
	exec_file_read(e, BPF_CORE_READ(bprm, file));
	exec_cred_read(e, task);

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
	exec_policy(cfg, e, len);
	exec_stdio_read(cfg, e, task);
	tunnel_hold(cfg, e, task, len);
	exec_output(e, len, key);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(ag_fork, struct task_struct *parent, struct task_struct *child)
{
	/* Every new task of a watched one is watched, threads too (cgroup.threads moves them). */
	__u64 key = cgroup_scope_key();
	bool parent_inside = key != 0;
	if (parent_inside) {
		watch_task(child, bpf_get_current_cgroup_id(), 0);
	} else {
		key = followed_outside_key(parent);
		if (!key)
			return 0;
		watch_task(child, key, AG_TASK_LEFT_SCOPE);   /* the child of one followed outside */
	}
	/* clone3(CLONE_INTO_CGROUP): born outside the agent cgroups, before it ever ran (a thread
	 * too, where a threaded cgroup outside shares the domain) */
	struct cgroup *born_in = BPF_CORE_READ(child, cgroups, dfl_cgrp);
	if (parent_inside && !cgroup_in_scope(born_in)) {
		struct ag_task_scope *cs = bpf_task_storage_get(&ag_tasks, child, 0, 0);
		if (cs)
			left_scope(child, cs, BPF_CORE_READ(born_in, kn, id), AG_SCOPE_CLONE_INTO_CGROUP, true);
	}
	/* Threads share the parent's tgid: lineage needs processes only. */
	if (child->tgid == parent->tgid)
		return 0;
	fork_stdio_check(parent, child, key);
	/* a tunnel's children are tunnels (autossh -> ssh, ssh -f, a ProxyCommand) */
	__u32 ptgid = parent->tgid;
	__u8 *tunnel = bpf_map_lookup_elem(&ag_tunnel_pids, &ptgid);
	if (tunnel) {
		__u32 ctgid = child->tgid;
		__u8 mark = *tunnel;
		bpf_map_update_elem(&ag_tunnel_pids, &ctgid, &mark, BPF_ANY);
	}
	struct ag_fork *f = reserve(sizeof(*f), key, AG_RECORD_ORDINARY);
	if (f) {
		fill_header(&f->h, AG_REC_FORK, sizeof(*f));
		f->child_pid = child->tgid;
		f->reserved = 0;
		submit(f);
	}
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(ag_exit, struct task_struct *task, bool group_dead)
{
	/* One record per process: when its last thread exits. */
	__u64 key = group_dead ? task_scope_key() : 0;
	if (!key)
		return 0;
	__u32 tgid = task->tgid;
	bpf_map_delete_elem(&ag_tunnel_pids, &tgid);
	bpf_map_delete_elem(&ag_held, &tgid);
	struct ag_exit *x = reserve(sizeof(*x), key, AG_RECORD_ORDINARY);
	if (!x)
		return 0;
	fill_header(&x->h, AG_REC_EXIT, sizeof(*x));
	x->exit_code = task->exit_code;
	x->reserved = 0;
	x->start_ns = BPF_CORE_READ(task, group_leader, start_time);   /* the process, not this thread */
	submit(x);
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
	/* Called for each file of the chain: a `#!` script, then its interpreter; so a denied
	 * script is refused by its own identity here. The loader policy needs argv: the
	 * tracepoint decides it. */
	struct inode *inode = BPF_CORE_READ(bprm, file, f_inode);
	struct ag_exe_key exe = {
		.policy = slot,
		.dev = BPF_CORE_READ(inode, i_sb, s_dev),
		.ino = BPF_CORE_READ(inode, i_ino),
	};
	if (bpf_map_lookup_elem(&ag_exec_deny_exes, &exe))
		return -EPERM;
	if ((pol->flags & AG_POLICY_EXEC_DENY_FILELESS) && BPF_CORE_READ(inode, __i_nlink) == 0)
		return -EPERM;
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

/* ---- execve(at) outcomes (opt-in: syscall tracepoints cost every task a slow path) ---- */

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
	__u64 key = task_scope_key();

	__u32 zero = 0;
	struct ag_exec *e = bpf_map_lookup_elem(&ag_exec_scratch, &zero);
	struct ag_config *cfg = ag_cfg();
	if (!e || !cfg)
		return 0;
	e->old_pid = tid;
	e->flags = AG_EXEC_FAILED;
	e->error = -ret;
	e->match = AG_EXEC_MATCH_NONE;
	e->reserved = 0;
	e->nlink = 0;
	e->dev = 0;
	e->ino = 0;
	exec_cred_read(e, bpf_get_current_task_btf());
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
	exec_output(e, off, key);
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
