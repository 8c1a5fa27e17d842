/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * agentguard.h: the kernel ABI. Every record the BPF programs write to the ring buffer,
 * every map key/value the agent fills, and the NVIDIA numbers and parameter structs the
 * programs decode.
 *
 * Defined once, here. Constants are enumerators, never object-like macros, so that every
 * one of them reaches BTF: the build compiles this header alone (bpf/Makefile, abi.bpf.o)
 * and bpf/abi_java.c generates io.agentguard.abi.KernelAbi from that BTF and from the
 * shipped object's (map and program names). KernelAbiTest compares the Java constants with
 * the BTF of both objects and with this file's text.
 */
#ifndef AGENTGUARD_H
#define AGENTGUARD_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* ---- sizes ------------------------------------------------------------------- */

enum ag_sizes {
	AG_COMM_LEN          = 16,
	AG_PATH_MAX          = 256,   /* exec filename bytes kept, NUL included */
	AG_ARGS_MAX          = 8192,  /* ceiling of exec.max_args_bytes; power of two */
	AG_UNIX_PATH_MAX     = 108,   /* sizeof(sun_path) */
	AG_IOCTL_ARG_MAX     = 192,   /* NVOS32 (184 B) is the largest struct decoded */
	AG_UVM_ARG_BYTES     = 32,    /* UVM cmds carry no size: copy enough for the fields used */
	AG_MAX_SCOPE_LEVEL   = 63,    /* deepest cgroup level an agent root may sit at */
	AG_FAILED_EXEC_MAX_ARGS = 64, /* argv entries walked for a failed exec */
};

/* ---- Linux values the records carry (vmlinux.h has no macros, Java needs them) -- */

enum ag_address_family {
	AG_AF_UNIX   = 1,
	AG_AF_INET   = 2,
	AG_AF_INET6  = 10,
	AG_AF_PACKET = 17,
};

enum ag_socket_type {
	AG_SOCK_STREAM    = 1,
	AG_SOCK_DGRAM     = 2,
	AG_SOCK_RAW       = 3,
	AG_SOCK_SEQPACKET = 5,
	AG_SOCK_PACKET    = 10,   /* obsolete socket(AF_INET, SOCK_PACKET): the kernel makes it AF_PACKET */
	AG_SOCK_TYPE_MASK = 0xf,  /* SOCK_NONBLOCK and SOCK_CLOEXEC live in higher bits */
};

enum ag_ip_protocol {
	AG_IPPROTO_ICMP   = 1,
	AG_IPPROTO_TCP    = 6,
	AG_IPPROTO_UDP    = 17,
	AG_IPPROTO_ICMPV6 = 58,
};

enum ag_tcp_state {
	AG_TCP_ESTABLISHED = 1,
	AG_TCP_SYN_SENT    = 2,
	AG_TCP_CLOSE       = 7,
	AG_TCP_LISTEN      = 10,
};

/* task_struct.atomic_flags bits (include/linux/sched.h PFA_*, as masks) */
enum ag_task_atomic_flags {
	AG_PFA_NO_NEW_PRIVS = 0x1,   /* 1 << PFA_NO_NEW_PRIVS */
};

/* ---- record types ------------------------------------------------------------ */

enum ag_record_type {
	AG_REC_EXEC           = 1,
	AG_REC_FORK           = 2,
	AG_REC_EXIT           = 3,
	AG_REC_CONNECT        = 4,
	AG_REC_CONNECT_RESULT = 5,
	AG_REC_GPU_OPEN       = 6,
	AG_REC_GPU_IOCTL      = 7,
	AG_REC_TAMPER         = 8,
	/* 9 is kept free */
	AG_REC_SCOPE          = 10,
	AG_REC_SOCKET         = 11,
	AG_REC_STDIO_SOCKET   = 12,
	AG_REC_APP_PROTO      = 13,
	AG_REC_TYPE_MAX       = 13,
};

/* Every record starts with this header. Fields describe current at the hook, except
 * for CONNECT_RESULT, which is produced in softirq context (only ktime/cpu valid). */
struct ag_header {
	__u16 type;          /* enum ag_record_type */
	__u16 size;          /* bytes of this record that are meaningful */
	__u32 cpu;           /* bpf_get_smp_processor_id() */
	__u64 ktime_ns;      /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 cgroup_id;     /* cgroup v2 id (inode of the cgroup directory) */
	__u32 pid;           /* tgid */
	__u32 tid;
	__u32 ppid;          /* real_parent's tgid */
	__u32 uid;
	__u32 gid;
	__u32 reserved;
	char comm[AG_COMM_LEN];
};

/* ---- exec: sched_process_exec (success only) ------------------------------------ */

enum ag_exec_flags {
	AG_EXEC_FILENAME_TRUNCATED  = 0x1,
	AG_EXEC_ARGS_TRUNCATED      = 0x2,
	AG_EXEC_ARGS_UNREADABLE     = 0x4,
	AG_EXEC_FAILED              = 0x8,   /* from sys_exit_execve(at): error holds errno */
	AG_EXEC_DENIED              = 0x10,  /* exec policy: killed before the program ran */
	AG_EXEC_WOULD_BLOCK         = 0x20,  /* exec policy, monitor mode */
	AG_EXEC_UNLINKED            = 0x40,  /* the executed file has no name left: nlink == 0 (memfd, deleted) */
	AG_EXEC_MEMFD               = 0x80,  /* the executed file is a memfd (memfd_create) */
	AG_EXEC_BY_FD               = 0x100, /* run through a descriptor: execveat(AT_EMPTY_PATH), fexecve ("/dev/fd/N") */
	AG_EXEC_LOADER              = 0x200, /* the executed file is a dynamic loader (ld.so) run as the program */
	AG_EXEC_HELD                = 0x400, /* a tunnel program stopped at exec (SIGSTOP) until the daemon judges it */
	AG_EXEC_STDIO_SOCKET        = 0x800, /* stdin or stdout is an inet socket (a shell served over the network) */
	AG_EXEC_TUNNEL_JUDGE        = 0x1000, /* a tunnel program (tunnels.programs) under egress.tunnels: deny: the daemon
	                                       * judges its command line (held until then where HELD is set too) */
	AG_EXEC_FILELESS            = 0x140, /* UNLINKED | BY_FD: what exec.deny_fileless denies */
};

/* Which deny entry decided an exec's DENIED / WOULD_BLOCK (struct ag_exec.match). */
enum ag_exec_match {
	AG_EXEC_MATCH_NONE      = 0,
	AG_EXEC_MATCH_IDENTITY  = 1,   /* ag_exec_deny_exes: (s_dev, i_ino) of the executed file */
	AG_EXEC_MATCH_NAME      = 2,   /* ag_exec_deny_names: the new program's comm */
	AG_EXEC_MATCH_PATH      = 3,   /* ag_exec_deny_paths: the filename as passed to execve */
	AG_EXEC_MATCH_LOADER    = 4,   /* AG_POLICY_EXEC_DENY_LOADER: ld.so run directly */
	AG_EXEC_MATCH_FILELESS  = 5,   /* AG_POLICY_EXEC_DENY_FILELESS */
};

/* struct ag_exec.cred_flags */
enum ag_cred_flags {
	AG_CRED_UID_ROOT       = 0x1,   /* real, effective or saved uid is 0 */
	AG_CRED_NO_NEW_PRIVS   = 0x2,   /* PR_SET_NO_NEW_PRIVS: no exec can add capabilities */
	AG_CRED_NESTED_USER_NS = 0x4,   /* in a user namespace below the host's: its capabilities count only there */
};

struct ag_exec {
	struct ag_header h;
	__u32 old_pid;           /* tid that called execve (differs for a non-leader thread) */
	__u16 filename_len;      /* bytes in filename, without NUL */
	__u16 args_len;          /* bytes copied into args: NUL-separated argv */
	__u32 args_total_len;    /* arg_end - arg_start in the new mm */
	__u16 flags;             /* AG_EXEC_* */
	__u16 error;             /* errno of a failed exec (AG_EXEC_FAILED) */
	__u16 match;             /* enum ag_exec_match: the entry behind DENIED / WOULD_BLOCK */
	__u16 reserved;
	__u32 nlink;             /* of the executed file (0: memfd or deleted) */
	__u64 dev;               /* kernel s_dev of the executed file's file system; 0 for a failed exec */
	__u64 ino;               /* its inode: with dev, what the program is, whatever it was called */
	/* The credentials the program runs with (after exec; the caller's for a failed exec), for the
	 * daemon's posture check. Here rather than at the end: args is the variable-size tail. */
	__u64 cap_effective;     /* kernel_cap_t, bit N = capability N */
	__u64 cap_permitted;
	__u64 cap_bset;          /* bounding set: what a later exec as uid 0 gets back without no_new_privs */
	__u32 euid;
	__u32 cred_flags;        /* AG_CRED_* */
	__u64 exe_ctime_ns;      /* the executed file's inode ctime (CLOCK_REALTIME): when it was made or last changed */
	__u32 exe_uid;           /* its owner */
	__u32 exe_reserved;
	char filename[AG_PATH_MAX];
	char args[AG_ARGS_MAX];  /* only args_len bytes are sent */
};

/* ---- fork / exit: sched tracepoints ------------------------------------------- */

struct ag_fork {
	struct ag_header h;      /* the parent */
	__u32 child_pid;
	__u32 reserved;
};

struct ag_exit {
	struct ag_header h;      /* the last thread of the group */
	__u32 exit_code;         /* wait status: code << 8 | signal (0x80 = core dumped) */
	__u32 reserved;
	__u64 start_ns;          /* thread group leader's start, CLOCK_MONOTONIC */
};

/* ---- connect: cgroup sock_addr hooks, TCP outcome from inet_sock_set_state ------ */

enum ag_connect_flags {
	AG_CONNECT_RESULT_FOLLOWS   = 0x1,   /* a CONNECT_RESULT with the same cookie will come */
	AG_CONNECT_SENDMSG          = 0x2,   /* from sendmsg4/6 (unconnected UDP), reported only when not allowed,
					      * or sendmsg_unix (unconnected Unix datagram), reported only when outside */
	AG_CONNECT_UNIX_OUTSIDE     = 0x4,   /* Unix: the listener's owner is outside the agent cgroups (peer_* set) */
	AG_CONNECT_TUNNEL           = 0x8,   /* the caller is a judged tunnel (SSH forwarding, tunnel tool) */
	AG_CONNECT_SHELL            = 0x10,  /* the caller is a shell (bash /dev/tcp and the like) */
	AG_CONNECT_EXPLICIT_ALLOW   = 0x20,  /* an egress allow entry decided, not the policy's default */
};

struct ag_connect {
	struct ag_header h;
	__u64 sock_cookie;
	__u16 family;            /* AF_INET, AF_INET6, AF_UNIX */
	__u16 sock_type;         /* SOCK_STREAM, SOCK_DGRAM, ... */
	__u16 protocol;          /* IPPROTO_TCP, IPPROTO_UDP, 0 */
	__u16 port;              /* host byte order */
	__u8  addr[16];          /* network order; IPv4 in the first 4 bytes */
	__u32 verdict;           /* enum ag_verdict */
	__u32 flags;             /* AG_CONNECT_* */
	char  unix_path[AG_UNIX_PATH_MAX]; /* abstract names start with a NUL */
	__u32 unix_path_len;
	__u32 peer_pid;          /* AG_CONNECT_UNIX_OUTSIDE: the pid that called listen() (SO_PEERCRED) */
	__u32 peer_uid;          /* its euid (SO_PEERCRED), or the socket's owner for a datagram socket */
	__u64 peer_cgroup_id;    /* cgroup v2 id of the listening socket (its creator's cgroup) */
	char  peer_comm[AG_COMM_LEN];
};

/* ---- socket creation that egress policy cannot govern (raw IP, ping, packet) --------- */

/* Which hook saw the socket(): cgroup/sock_create (raw and ping IP sockets, before the socket
 * exists: a denial fails socket() with EPERM), lsm/socket_create (any family, EPERM), or
 * sys_enter_socket (packet sockets without LSM: a denial kills the caller first). */
enum ag_socket_hook {
	AG_SOCKET_HOOK_SOCK_CREATE = 1,
	AG_SOCKET_HOOK_LSM         = 2,
	AG_SOCKET_HOOK_SYSCALL     = 3,
};

struct ag_socket {
	struct ag_header h;
	__u16 family;            /* AG_AF_INET, AG_AF_INET6, AG_AF_PACKET */
	__u16 type;              /* SOCK_RAW, SOCK_DGRAM (ping), SOCK_PACKET; flags masked off */
	__u16 protocol;          /* as passed to socket(); IPPROTO_ICMP, IPPROTO_RAW, ETH_P_* (network order) for packet */
	__u16 verdict;           /* enum ag_verdict */
	__u16 hook;              /* enum ag_socket_hook */
	__u16 reserved;
	__u32 reserved2;
};

/* ---- an inet socket made a process's stdin, stdout or stderr (a shell served over the network) ---- */

/* How the socket got there (struct ag_stdio_socket.how). An exec on such a socket is
 * AG_EXEC_STDIO_SOCKET in the exec record instead. */
enum ag_stdio_how {
	AG_STDIO_DUP2 = 1,       /* dup2(sock, 0|1|2): sys_enter_dup2 */
	AG_STDIO_DUP3 = 2,       /* dup3(sock, 0|1|2, flags): sys_enter_dup3 */
	AG_STDIO_FORK = 3,       /* fork of a process whose stdin or stdout is one (python pty.spawn) */
};

enum ag_stdio_flags {
	AG_STDIO_LOOPBACK = 0x1, /* the peer is exactly 127.0.0.1 or ::1: reported, never killed */
	AG_STDIO_CHILD_KILLED = 0x2, /* AG_STDIO_FORK, DENIED: the new child was killed too */
};

struct ag_stdio_socket {
	struct ag_header h;
	__u16 how;               /* enum ag_stdio_how */
	__u16 fd;                /* the stdio descriptor: 0, 1 or 2 */
	__u16 verdict;           /* enum ag_verdict: DENIED = killed before the call returned */
	__u16 flags;             /* AG_STDIO_* */
	__u16 family;            /* AG_AF_INET, AG_AF_INET6 */
	__u16 protocol;          /* IPPROTO_TCP, IPPROTO_UDP */
	__u16 port;              /* the peer's port, host byte order (0: not connected) */
	__u16 state;             /* the socket's state (enum ag_tcp_state for TCP) */
	__u32 source_fd;         /* the descriptor dup'ed (fork: the stdio one) */
	__u32 reserved;
	__u8  addr[16];          /* the peer, network order; IPv4 in the first 4 bytes */
};

/* ---- what a connection speaks: the first payload bytes of an agent task's TCP connection ---- */

/* The protocol recognised (struct ag_app_proto.proto). */
enum ag_app_proto_kind {
	AG_APP_PROTO_SSH     = 1,   /* "SSH-": an SSH client's identification string (RFC 4253 4.2) */
	AG_APP_PROTO_STRATUM = 2,   /* '{' ... "mining.subscribe|authorize|submit" or "login" + "agent" (xmrig) */
};

enum ag_app_proto_sizes {
	AG_APP_PROTO_BYTES = 32,    /* first payload bytes kept as evidence */
	AG_APP_PROTO_SCAN  = 256,   /* payload bytes searched for the stratum methods */
};

/* What the cgroup_skb/egress program (payload.bpf.c) knows of a socket (sk storage, written by
 * cgroup/connect4/6 when the policy says egress.protocols: deny and no allow entry decided):
 * the connecting task's header, since the packet may leave from softirq context. */
enum ag_app_proto_state {
	AG_APP_PROTO_PENDING = 1,   /* no payload looked at yet (or fewer than 4 bytes, all a prefix of "SSH-") */
	AG_APP_PROTO_PASSED  = 2,   /* looked at: nothing more to do for this socket */
	AG_APP_PROTO_DROPPED = 3,   /* denied: every later packet with payload is dropped too */
};

enum ag_app_proto_sock_flags {
	AG_APP_PROTO_SSH_CLIENT = 0x1,   /* the connecting process runs the host's ssh (ag_ssh_exes) */
};

struct ag_app_proto_sock {
	struct ag_header h;       /* the connecting task, at connect */
	__u64 scope_key;          /* its agent cgroup (record budget) */
	__u32 state;              /* enum ag_app_proto_state */
	__u32 objection;          /* enum ag_verdict: DENIED (enforce) or WOULD_BLOCK (monitor) */
	__u32 flags;              /* AG_APP_PROTO_SSH_CLIENT */
	__u32 head_len;           /* bytes of head[] seen so far (< 4 while PENDING) */
	__u8  head[4];
	__u32 reserved;
};

struct ag_app_proto {
	struct ag_header h;       /* the connecting task (from connect); ktime and cpu of the packet */
	__u64 sock_cookie;
	__u16 family;             /* AG_AF_INET, AG_AF_INET6 (of the packet) */
	__u16 protocol;           /* IPPROTO_TCP */
	__u16 port;               /* destination port, host byte order */
	__u16 proto;              /* enum ag_app_proto_kind */
	__u8  addr[16];           /* network order; IPv4 in the first 4 bytes */
	__u32 verdict;            /* enum ag_verdict: DENIED = the packet was dropped */
	__u32 first_len;          /* bytes of first[] that are payload */
	__u8  first[AG_APP_PROTO_BYTES];
};

/* ---- Unix listeners outside the agent cgroups (iter/unix -> the agent -> ag_unix_outside) ---- */

/* A Unix socket address as connect() names it: a path up to its first NUL (netns 0, paths
 * are the file system's), or an abstract name, its leading NUL included (netns: the
 * network namespace's cookie, abstract names are per namespace). Zero-padded. */
struct ag_unix_key {
	__u64 netns;
	__u32 len;
	char  name[AG_UNIX_PATH_MAX];
};

struct ag_unix_owner {
	__u32 pid;               /* who called listen(); for a bound datagram socket, a process holding it (the agent looks) */
	__u32 uid;
	__u64 cgroup_id;
	char  comm[AG_COMM_LEN];
};

/* What the unix iterator writes per named Unix socket outside the agent cgroups. */
struct ag_unix_listener {
	struct ag_unix_key key;
	struct ag_unix_owner owner;
	__u64 dev;               /* a path socket's inode (file system s_dev, inode number): other spellings */
	__u64 ino;
	__u64 sock_ino;          /* the socket's own inode (socket:[N] in /proc/PID/fd): a datagram socket's holder */
	__u16 type;              /* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET */
	__u16 state;             /* TCP_LISTEN (10) for a listener */
	__u32 reserved;
};

enum ag_verdict {
	AG_VERDICT_ALLOWED     = 0,
	AG_VERDICT_DENIED      = 1,
	AG_VERDICT_WOULD_BLOCK = 2,
};

/* Either a TCP handshake outcome (inet_sock_set_state: states set, error = sk_err) or,
 * with syscall outcomes on, connect()'s return value (sys_exit_connect: both states 0,
 * error = -ret). */
struct ag_connect_result {
	struct ag_header h;
	__u64 sock_cookie;
	__s32 error;             /* 0 = connected, else errno (ECONNREFUSED, ETIMEDOUT, ...) */
	__u16 old_state;         /* TCP_SYN_SENT, or 0 for a syscall result */
	__u16 new_state;         /* TCP_ESTABLISHED or TCP_CLOSE, or 0 for a syscall result */
};

/* ---- GPU: device open (cgroup/dev) and ioctl (tracepoint or LSM) ---------------- */

enum ag_device_role {
	AG_DEV_NONE      = 0,
	AG_DEV_CONTROL   = 1,   /* /dev/nvidiactl */
	AG_DEV_GPU       = 2,   /* /dev/nvidiaN, index = N */
	AG_DEV_UVM       = 3,   /* /dev/nvidia-uvm */
	AG_DEV_MODESET   = 4,   /* /dev/nvidia-modeset */
	AG_DEV_UVM_TOOLS = 5,   /* /dev/nvidia-uvm-tools */
	AG_DEV_CAPS      = 6,   /* /dev/nvidia-caps/ */
	AG_DEV_BLOCK     = 7,   /* any block device (disk, partition, loop, zram): raw access rewrites file systems under their mounts */
	/* wildcard entries (minor AG_DEV_ANY_MINOR): role decided from the minor */
	AG_DEV_NVIDIA_MAJOR = 16, /* major 195 */
	AG_DEV_UVM_MAJOR    = 17, /* nvidia-uvm's dynamic major */
};

enum ag_device_numbers {
	AG_DEV_ANY_MINOR      = 0xffffffffu,  /* ag_device_key.minor of a wildcard entry */
	NV_MAJOR              = 195,
	NV_MINOR_CTL          = 255,
	NV_MINOR_MODESET      = 254,
	NV_MINOR_GPU_MAX      = 247,
	NV_UVM_MINOR          = 0,
	NV_UVM_TOOLS_MINOR    = 1,
};

struct ag_device_key {
	__u32 major;
	__u32 minor;              /* or AG_DEV_ANY_MINOR */
};

struct ag_device_role_value {
	__u16 role;               /* enum ag_device_role */
	__u16 index;              /* GPU index for AG_DEV_GPU */
};

enum ag_device_access {        /* BPF_DEVCG_ACC_* */
	AG_DEV_ACC_MKNOD  = 1,
	AG_DEV_ACC_READ   = 2,
	AG_DEV_ACC_WRITE  = 4,
};

struct ag_gpu_open {
	struct ag_header h;
	__u32 major;
	__u32 minor;
	__u16 role;
	__u16 index;
	__u16 access;             /* AG_DEV_ACC_* */
	__u16 verdict;            /* enum ag_verdict */
};

enum ag_ioctl_flags {
	AG_IOCTL_ARG_UNREADABLE   = 0x1,
	AG_IOCTL_XFER_UNWRAPPED   = 0x2,  /* arg holds the struct IOCTL_XFER_CMD points to */
	AG_IOCTL_PARAMS_READ      = 0x4,  /* aux0/aux1 hold RM_ALLOC params fields */
};

struct ag_gpu_ioctl {
	struct ag_header h;
	__u32 fd;
	__u32 cmd;                /* as passed to ioctl() */
	__u32 major;
	__u32 minor;
	__u16 role;
	__u16 index;
	__u16 arg_len;            /* bytes copied into arg */
	__u16 flags;              /* AG_IOCTL_* */
	__u32 inner_cmd;          /* IOCTL_XFER_CMD's wrapped cmd, else cmd */
	__u32 verdict;            /* enum ag_verdict: compute policy */
	__u64 arg_ptr;            /* user pointer passed to ioctl() */
	__u64 aux0;               /* RM_ALLOC: first u64 of pAllocParms (NV01_DEVICE_0 deviceId) */
	__u64 aux1;               /* RM_ALLOC of memory classes: params size at offset 64 */
	__u8  arg[AG_IOCTL_ARG_MAX];
};

/* ---- tamper: what a process in an agent cgroup aims at the daemon (self_protection.bpf.c) ---- */

enum ag_tamper_kind {
	AG_TAMPER_SIGNAL = 1,
	AG_TAMPER_PTRACE = 2,         /* PTRACE_ATTACH / PTRACE_SEIZE (sys_enter_ptrace, or lsm/ptrace_access_check); value: the request */
	AG_TAMPER_STATE_DRIFT = 3,    /* found by the daemon's own checks (no program emits it) */
	AG_TAMPER_STOP = 4,           /* a stop signal (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU); the daemon is continued at once */
	AG_TAMPER_FREEZE = 5,         /* the daemon's cgroup frozen (cgroup.freeze of it or an ancestor); target_cgroup_id */
	AG_TAMPER_PROC_MEM = 6,       /* open of /proc/<daemon pid or tid>/mem (or /proc/P/task/T/mem) */
	AG_TAMPER_OOM_SCORE_ADJ = 7,  /* the daemon's oom_score_adj written; value: the new value */
	AG_TAMPER_VM_ACCESS = 8,      /* process_vm_readv / process_vm_writev on the daemon; value: 1 for a write */
	AG_TAMPER_MIGRATE = 9,        /* a daemon task moved to another cgroup (v2, or a v1 hierarchy such as freezer); target_cgroup_id: the destination */
};

enum ag_tamper_flags {
	AG_TAMPER_KILL_BY_AGENT = 0x1,   /* enforce mode, the kernel could not kill the sender in this hook: the agent does */
	AG_TAMPER_CONTINUED     = 0x2,   /* STOP: the kernel sends SIGCONT as the daemon takes the stop signal */
	AG_TAMPER_FASYNC        = 0x4,   /* generated by file-async I/O (O_ASYNC + F_SETOWN, a lease): the sender is whoever set the owner, unknown here; not killed (header: the context that did the I/O) */
};

struct ag_tamper {
	struct ag_header h;       /* the sender */
	__u32 target_pid;         /* the daemon's tgid */
	__u32 signal;
	__u16 kind;               /* enum ag_tamper_kind */
	__u16 verdict;            /* DENIED: refused (LSM) or the sender killed (by the kernel, or the agent: flags) */
	__u32 reserved;
	__u32 flags;              /* AG_TAMPER_* */
	__u32 target_tid;         /* the thread named (ptrace, process_vm_*, /proc/TID/mem); else target_pid */
	__u64 target_cgroup_id;   /* FREEZE: the daemon's cgroup */
	__s32 value;              /* PTRACE: request; OOM_SCORE_ADJ: value written; VM_ACCESS: 1 = write */
	__u32 reserved2;
};

/* ---- scope: a watched task left the agent cgroups (cgroup_attach_task, sched_process_fork) ---- */

enum ag_scope_how {
	AG_SCOPE_CGROUP_WRITE      = 1,   /* its pid written to another cgroup's cgroup.procs/threads */
	AG_SCOPE_CLONE_INTO_CGROUP = 2,   /* born outside: clone3(CLONE_INTO_CGROUP) by a watched parent */
};

enum ag_scope_flags {
	AG_SCOPE_MOVER_WATCHED  = 0x1,   /* the mover (header) is itself a watched task */
	AG_SCOPE_KILL_BY_AGENT  = 0x2,   /* the kernel could not signal the task: the agent must kill it */
};

struct ag_scope {
	struct ag_header h;       /* the mover: the task itself, its parent, or whoever wrote cgroup.procs */
	__u64 origin_cgroup_id;   /* the agent cgroup it was watched in */
	__u64 dest_cgroup_id;     /* where it went */
	__u32 task_pid;           /* tgid of the task that left */
	__u32 task_tid;
	__u16 how;                /* enum ag_scope_how */
	__u16 verdict;            /* DENIED: killed; WOULD_BLOCK: monitor, still followed; ALLOWED: moved by the host */
	__u32 flags;              /* AG_SCOPE_* */
};

/* Per-task membership (task storage): set when a task is seen in an agent cgroup, inherited
 * at fork, so that scope is a property of the task and not only of where it sits now. */
struct ag_task_scope {
	__u64 origin_cgroup_id;   /* the agent cgroup it was last watched in */
	__u32 flags;              /* AG_TASK_* */
	__u32 reserved;
};

enum ag_task_flags {
	AG_TASK_LEFT_SCOPE = 0x1,   /* left the agent cgroups (monitor mode): followed by the tracepoints */
};

/* Per agent cgroup record budget (ag_budgets, key: the agent cgroup's id; 0 = the shared
 * overflow bucket): a fixed one-second window, and what was dropped, ever. */
struct ag_cgroup_budget {
	__u64 window_start_ns;
	__u64 normal;             /* records admitted in this window */
	__u64 priority;           /* denials, kills, tamper, scope records admitted in this window */
	__u64 dropped_rate;       /* records dropped by the rate limits (total) */
	__u64 dropped_ring;       /* records dropped because the ring (or its share for normal records) was full */
};

/* ---- enforcement policy (maps the agent fills; two generations, flipped atomically) ---- */

enum ag_policy_limits {
	AG_MAX_POLICIES      = 64,   /* per generation; index 0 = the default policy */
	AG_EGRESS_RULES      = 8,    /* port/protocol entries per network */
};

enum ag_policy_flags {
	AG_POLICY_ENFORCE             = 0x1,   /* else monitor: would_block only */
	AG_POLICY_EGRESS_DEFAULT_DENY = 0x2,
	AG_POLICY_COMPUTE_ALLOWED     = 0x4,
	AG_POLICY_GPU_ALL             = 0x8,   /* every NVIDIA device may be opened */
	AG_POLICY_RAW_SOCKETS_ALLOWED = 0x10,  /* raw/ping IP and packet sockets may be created (still reported) */
	AG_POLICY_UNIX_OUTSIDE_DENY   = 0x20,  /* Unix connects to listeners outside the agent cgroups are denied */
	AG_POLICY_EXEC_DENY_FILELESS  = 0x40,  /* exec.deny_fileless: memfd, deleted files, AT_EMPTY_PATH */
	AG_POLICY_EXEC_DENY_LOADER    = 0x100, /* exec.deny_loader: ld.so run directly (except --list, --verify) */
	AG_POLICY_TUNNEL_DENY         = 0x200, /* egress.tunnels: deny: tunnels reach only explicitly allowed destinations */
	AG_POLICY_SHELL_CONNECT_DENY  = 0x400, /* egress.shells: deny: shells reach only explicitly allowed destinations */
	AG_POLICY_EXEC_DENY_SOCKET_SHELL = 0x800, /* exec.deny_socket_shell: a program run on an inet socket as stdio dies */
	AG_POLICY_APP_PROTO_DENY      = 0x1000, /* egress.protocols: deny: SSH and stratum reach only explicitly allowed destinations */
};

/* Values of ag_tunnel_pids (tgid -> what the tunnel judge made of the process). A process
 * with any value but NONE is a tunnel: under egress.tunnels: deny it reaches only explicitly
 * allowed destinations. Copied to children at fork; kept across exec (a tunnel cannot shed
 * its mark by exec'ing something else); deleted at exit. */
enum ag_tunnel {
	AG_TUNNEL_NONE       = 0,
	AG_TUNNEL_FORWARDING = 1,   /* ssh with forwarding, a jump, a proxy command or a tun device */
	AG_TUNNEL_TOOL       = 2,   /* a tunnel tool by name or identity (chisel, autossh, socat...) */
	AG_TUNNEL_PENDING    = 3,   /* held, not judged yet (or the judge timed out, or no daemon): a tunnel */
};

struct ag_policy {
	__u32 flags;              /* AG_POLICY_* */
	__u32 reserved;
	__u64 gpu_allowed;        /* bit N: /dev/nvidiaN (and the control/uvm nodes) may be opened */
};

struct ag_policy_root_key {
	__u32 generation;
	__u32 reserved;
	__u64 cgroup_id;
};

/* LPM key: policy slot (always matched in full) then the address (IPv4 as ::ffff:a.b.c.d). */
struct ag_egress_key {
	__u32 prefixlen;          /* 32 + network prefix bits */
	__u32 policy;             /* generation * AG_MAX_POLICIES + index */
	__u8  addr[16];
};

enum ag_egress_action {
	AG_EGRESS_ALLOW = 1,
	AG_EGRESS_DENY  = 2,
};

struct ag_egress_rule {
	__u8  action;             /* enum ag_egress_action */
	__u8  protocol;           /* 0 any, IPPROTO_TCP, IPPROTO_UDP */
	__u16 port_lo;            /* 0..65535; 0-65535 = any port */
	__u16 port_hi;
	__u16 reserved;
};

struct ag_egress_value {
	__u32 count;
	struct ag_egress_rule rules[AG_EGRESS_RULES];
};

struct ag_exec_name_key {
	__u32 policy;
	char  name[AG_COMM_LEN];  /* the new program's comm: file name, at most 15 bytes */
};

struct ag_exec_path_key {
	__u32 policy;
	char  path[AG_PATH_MAX];  /* as passed to execve, NUL padded */
};

struct ag_exe_key {
	__u32 policy;
	__u32 reserved;
	__u64 dev;                /* kernel dev_t of the file system (s_dev) */
	__u64 ino;
};

/* A program's comm (file name, first 15 bytes, NUL padded). Keys of ag_exec_hold_names. */
struct ag_comm_key {
	char  name[AG_COMM_LEN];
};

/* A file, as the kernel names it: (s_dev, i_ino). Keys of ag_exec_loaders and ag_exec_hold. */
struct ag_file_id {
	__u64 dev;                /* kernel dev_t (MKDEV: major << 20 | minor), not stat's st_dev */
	__u64 ino;
};

/* ---- NVIDIA numbers and parameter structs (docs/EVENTS.md, GPU ioctls) ------------- */

/* ioctl numbers on nvidiactl and nvidiaN: _IOWR('F', nr, size); the driver dispatches on nr. */
enum nv_escape {
	NV_IOCTL_MAGIC             = 0x46,   /* 'F' */
	NV_ESC_RM_ALLOC_MEMORY     = 0x27,
	NV_ESC_RM_FREE             = 0x29,
	NV_ESC_RM_CONTROL          = 0x2a,
	NV_ESC_RM_ALLOC            = 0x2b,
	NV_ESC_RM_VID_HEAP_CONTROL = 0x4a,
	NV_ESC_IOCTL_XFER_CMD      = 0xd3,
	NV_ESC_RM_UPDATE_DEVICE_MAPPING_INFO = 0x5e,  /* nv_escape.h; issued by CUDA 13 on driver 580 */
};

/* RM_ALLOC classes (hClass) the programs look at. */
enum nv_class {
	NV01_MEMORY_SYSTEM         = 0x3e,
	NV01_MEMORY_LOCAL_USER     = 0x40,
	NV_COMPUTE_CLASS_LOW_BYTE  = 0xc0,   /* compute engine classes: arch << 8 | 0xc0 ... */
	NV_COMPUTE_CLASS_MIN       = 0xa0c0, /* ... from Kepler's 0xa0c0 on */
};

/* Offsets in parameter structs that are read without declaring the whole struct. */
enum nv_param_offsets {
	NV_MEMORY_PARAMS_SIZE_OFFSET = 64,   /* u64 size in the params of NV01_MEMORY_* */
	NVOS32_FUNCTION_OFFSET       = 8,    /* RM_VID_HEAP_CONTROL (NVOS32, 184 B): u32 function */
	NVOS32_ALLOC_SIZE_OFFSET     = 88,   /* u64 size of function NVOS32_FUNCTION_ALLOC_SIZE */
	NVOS32_FUNCTION_ALLOC_SIZE   = 2,
};

/* RM_ALLOC: NVOS21, whose head NVOS64 (>= 535) shares; hClass at 12 in every version. */
struct nv_rm_alloc {
	__u32 h_root;
	__u32 h_object_parent;
	__u32 h_object_new;
	__u32 h_class;
	__u64 p_alloc_parms;      /* user pointer to the class's params (NV01_DEVICE_0: deviceId at 0) */
};

/* RM_CONTROL: NVOS54 (32 B); cmd = class << 16 | category << 8 | index. */
struct nv_rm_control {
	__u32 h_client;
	__u32 h_object;
	__u32 cmd;
	__u32 flags;
	__u64 params;
	__u32 params_size;
	__u32 status;
};

/* RM_FREE: NVOS00 (16 B). */
struct nv_rm_free {
	__u32 h_root;
	__u32 h_object_parent;
	__u32 h_object_old;
	__u32 status;
};

/* RM_ALLOC_MEMORY: nv_ioctl_nvos02_parameters_with_fd, NVOS02 + fd (56 B). Driver 580 (CUDA 13)
 * never uses RM_VID_HEAP_CONTROL: its memory comes from RM_ALLOC of NV01_MEMORY_* and from
 * this call (pinned host memory, class 0x71 OS descriptor). The size asked is limit + 1. */
struct nv_rm_alloc_memory {
	__u32 h_root;
	__u32 h_object_parent;
	__u32 h_object_new;
	__u32 h_class;
	__u32 flags;
	__u32 pad;
	__u64 p_memory;           /* the caller's memory (OS descriptor) or the mapping returned */
	__u64 limit;              /* last byte: size - 1 */
	__u32 status;
	__u32 pad2;
	__s32 fd;
	__u32 pad3;
};

/* IOCTL_XFER_CMD wraps another call: the real cmd, its size and its params pointer. */
struct nv_ioctl_xfer {
	__u32 cmd;
	__u32 size;
	__u64 ptr;
};

/* UVM ioctls are plain integers, not _IOC-encoded. */
enum nv_uvm {
	NV_UVM_INITIALIZE   = 0x30000001,
	NV_UVM_DEINITIALIZE = 0x30000002,
};

#define AG_IOC_NR(cmd)    ((cmd) & 0xff)
#define AG_IOC_TYPE(cmd)  (((cmd) >> 8) & 0xff)
#define AG_IOC_SIZE(cmd)  (((cmd) >> 16) & 0x3fff)

/* ---- maps the agent fills ------------------------------------------------------ */

/* ag_config.ringbuf_wakeup. A wakeup is an irq_work (a self-IPI, microseconds in a VM) that
 * the kernel raises for every record that finds the reader idle: sparse events would each
 * pay it. BATCHED wakes only once a quarter of the ring is filled; the reader polls on a
 * short timer for the rest (docs/BENCHMARKS.md, syscall overhead). */
enum ag_wakeup {
	AG_WAKEUP_KERNEL  = 0,   /* the kernel's choice: wake when the reader has caught up */
	AG_WAKEUP_BATCHED = 4,   /* distinct from BPF_RB_NO_WAKEUP (1) and BPF_RB_FORCE_WAKEUP (2) */
};

struct ag_config {
	__u64 scope_levels;       /* bit N set: some agent cgroup root sits at level N */
	__u32 max_args_bytes;     /* exec argv bytes kept, <= AG_ARGS_MAX */
	__u32 ringbuf_wakeup;     /* AG_WAKEUP_*: when a submit wakes the reader */
	__u32 syscall_outcomes;   /* 1: connect/exec syscall exit hooks attached, track results */
	__u32 generation;         /* which half of the policy maps is in force (0 or 1) */
	__u64 policy_levels;      /* bit N: some policy root of this generation sits at level N */
	__u32 daemon_tgid;        /* the agent itself, for tamper detection */
	__u32 tamper_enforce;     /* 1: kill senders of signals to the daemon */
	__u32 records_per_second; /* per agent cgroup, normal records; 0 = unlimited */
	__u32 priority_per_second;/* per agent cgroup, denials/kills/tamper/scope records; 0 = unlimited */
	__u32 ring_reserve_bytes; /* ring space normal records leave free for priority records */
	__u32 escape_kill;        /* 1: a watched task that leaves the agent cgroups is killed */
	__u64 self_cgroup_id;     /* the daemon's cgroup v2 id: a freeze of it is tampering (0: not watched) */
	__u32 scope_patterns;     /* entries of ag_scope_patterns in use (scope.bpf.c) */
	__u32 reserved_scope;
};

/* ---- scope by pattern: agent cgroups named by a glob, matched at cgroup mkdir/rename (scope.bpf.c) ---- */

enum ag_scope_pattern_limits {
	AG_SCOPE_PATTERNS    = 32,    /* patterns in agent_cgroups at most */
	AG_SCOPE_PATTERN_LEN = 256,   /* bytes of a pattern (relative to the cgroup2 mount, no leading '/'), NUL included */
	AG_SCOPE_PATH_LEN    = 512,   /* bytes of a new cgroup's path looked at; a longer path matches no pattern */
};

/* ag_scope_roots values: 0 = a fixed agent cgroup the agent wrote; N > 0 = matched by pattern N - 1. */
struct ag_scope_pattern {
	__u32 len;                /* bytes of text, without NUL */
	__u32 depth;              /* path components: a cgroup at another level never matches */
	char  text[AG_SCOPE_PATTERN_LEN];   /* '*' any run, '?' one character, never across '/'; others literal */
};

enum ag_counter {
	AG_CNT_EMITTED = 0,       /* records committed to the ring */
	AG_CNT_LOST    = 1,       /* records dropped: ring full (or, for normal records, its reserve reached) */
	AG_CNT_RATE_LIMITED = 2,  /* records dropped: their agent cgroup's rate limit */
	AG_CNT_DAEMON_SIGHUP = 3, /* SIGHUPs sent to the daemon from agent cgroups: a reload they ask for is refused */
	AG_CNT_SCOPE_FULL = 4,    /* a new cgroup matched a scope pattern but ag_scope_roots was full: NOT in scope */
	AG_CNT_MAX     = 5,
};

#endif /* AGENTGUARD_H */
