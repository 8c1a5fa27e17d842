// SPDX-License-Identifier: GPL-2.0-only
/*
 * attacker: what a process inside an agent cgroup does against agentguard, for the kernel
 * tests that play it (docs/ENFORCEMENT.md, threat model).
 *
 *   attacker clone-into CGROUP_DIR PROG [ARGS...]
 *       clone3(CLONE_INTO_CGROUP): a child born in CGROUP_DIR execs PROG; prints the child's
 *       wait status ("exited N" or "killed by signal N") and exits 0, or 1 if clone3 failed.
 *   attacker ioctl-flood PATH COUNT
 *       COUNT ioctls on PATH (an NVIDIA RM_CONTROL number; a stand-in answers ENOTTY).
 *   attacker connect-flood ADDRESS PORT COUNT
 *       COUNT TCP connects to ADDRESS:PORT (IPv4; a closed loopback port refuses at once).
 *   attacker leader-exit-move PATH PROG [ARGS...]
 *       the main thread exits (pthread_exit); a second thread writes the process id to PATH
 *       (a cgroup.procs outside), then execs PROG. The kernel does not migrate an exiting
 *       leader, and the cgroup tracepoint names the leader.
 *   attacker uring-write PATH TEXT PROG [ARGS...]
 *       writes TEXT to PATH through io_uring, forced onto an io-wq worker thread (IOSQE_ASYNC):
 *       the kernel's own thread of this process makes the write. Then execs PROG.
 *   attacker ptrace-seize TID
 *       PTRACE_SEIZE of TID (any thread); prints "seized" or the errno, holds the tracee for
 *       200 ms, exits 0 (the tracee is released when the tracer exits).
 *   attacker open-mem PID
 *       opens /proc/PID/mem for reading; prints "opened" or the errno's name (EACCES, ...).
 *   attacker sigio-own PID SIG ADDRESS PORT
 *       connects to ADDRESS:PORT (IPv4, an HTTP server in process PID), makes PID the owner of
 *       its own end (F_SETOWN), SIG its signal (F_SETSIG; 0: plain SIGIO) and sets O_ASYNC, then
 *       sends an HTTP GET: the server's reply makes the kernel send SIG to PID from the server's
 *       own context (send_sigio). Sleeps 500 ms, reads the reply to its end (10 s at most), holds the socket 200 ms, prints
 *       "replied N" (bytes) and exits 0.
 *
 * Exits 2 on bad usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <pthread.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static int usage(void)
{
	fprintf(stderr, "usage: attacker clone-into CGROUP_DIR PROG [ARGS...] | ioctl-flood PATH COUNT"
			" | connect-flood ADDRESS PORT COUNT | leader-exit-move PATH PROG [ARGS...]"
			" | uring-write PATH TEXT PROG [ARGS...] | ptrace-seize TID | open-mem PID"
			" | sigio-own PID SIG ADDRESS PORT\n");
	return 2;
}

static int clone_into(const char *cgroup_dir, char **argv)
{
	int cgroup_fd = open(cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgroup_fd < 0) {
		perror("open cgroup");
		return 1;
	}
	struct clone_args args;
	memset(&args, 0, sizeof(args));
	args.flags = CLONE_INTO_CGROUP;
	args.exit_signal = SIGCHLD;
	args.cgroup = (uint64_t)cgroup_fd;
	long pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid < 0) {
		perror("clone3");
		return 1;
	}
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	int status;
	if (waitpid(pid, &status, 0) < 0) {
		perror("waitpid");
		return 1;
	}
	if (WIFSIGNALED(status))
		printf("killed by signal %d\n", WTERMSIG(status));
	else
		printf("exited %d\n", WEXITSTATUS(status));
	return 0;
}

static int ioctl_flood(const char *path, long count)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		perror("open");
		return 1;
	}
	unsigned char params[32] = {0};
	unsigned long cmd = _IOWR('F', 0x2a, unsigned char[32]);   /* NV_ESC_RM_CONTROL, NVOS54 */
	for (long i = 0; i < count; i++)
		ioctl(fd, cmd, params);
	return 0;
}

static int connect_flood(const char *address, int port, long count)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	if (inet_pton(AF_INET, address, &sin.sin_addr) != 1)
		return usage();
	for (long i = 0; i < count; i++) {
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s < 0) {
			perror("socket");
			return 1;
		}
		connect(s, (struct sockaddr *)&sin, sizeof(sin));
		close(s);
	}
	return 0;
}

static const char *leader_exit_path;
static char **leader_exit_argv;

static void *leader_exit_worker(void *unused)
{
	(void)unused;
	usleep(100000);   /* the main thread has exited by now */
	char pid[32];
	int len = snprintf(pid, sizeof(pid), "%d", getpid());
	int fd = open(leader_exit_path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, pid, len) != len) {
		perror("write cgroup.procs");
		exit(1);
	}
	close(fd);
	execv(leader_exit_argv[0], leader_exit_argv);
	perror("execv");
	exit(127);
}

static int leader_exit_move(const char *path, char **argv)
{
	leader_exit_path = path;
	leader_exit_argv = argv;
	pthread_t t;
	if (pthread_create(&t, NULL, leader_exit_worker, NULL) != 0)
		return 1;
	pthread_exit(NULL);
}

/* One IORING_OP_WRITE with IOSQE_ASYNC, by raw syscalls (no liburing on the build hosts). */
static int uring_write(const char *path, const char *text, char **argv)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		perror("open");
		return 1;
	}
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	int ring = syscall(SYS_io_uring_setup, 1, &p);
	if (ring < 0) {
		perror("io_uring_setup");
		return 1;
	}
	size_t sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	size_t cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	char *sq = mmap(NULL, sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQ_RING);
	char *cq = mmap(NULL, cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_CQ_RING);
	struct io_uring_sqe *sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
					 MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	memset(&sqes[0], 0, sizeof(sqes[0]));
	sqes[0].opcode = IORING_OP_WRITE;
	sqes[0].flags = IOSQE_ASYNC;
	sqes[0].fd = fd;
	sqes[0].addr = (uint64_t)(uintptr_t)text;
	sqes[0].len = strlen(text);
	sqes[0].off = 0;
	unsigned *tail = (unsigned *)(sq + p.sq_off.tail);
	unsigned *array = (unsigned *)(sq + p.sq_off.array);
	array[*tail & *(unsigned *)(sq + p.sq_off.ring_mask)] = 0;
	__atomic_store_n(tail, *tail + 1, __ATOMIC_RELEASE);
	if (syscall(SYS_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0) {
		perror("io_uring_enter");
		return 1;
	}
	unsigned head = *(unsigned *)(cq + p.cq_off.head);
	struct io_uring_cqe *cqe = (struct io_uring_cqe *)(cq + p.cq_off.cqes) + (head & *(unsigned *)(cq + p.cq_off.ring_mask));
	printf("write: %d\n", cqe->res);
	fflush(stdout);
	execv(argv[0], argv);
	perror("execv");
	return 127;
}

static const char *errno_name(int e)
{
	switch (e) {
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	case ESRCH: return "ESRCH";
	case ENOENT: return "ENOENT";
	default: return strerror(e);
	}
}

static int ptrace_seize(pid_t tid)
{
	if (ptrace(PTRACE_SEIZE, tid, 0, 0) != 0) {
		printf("%s\n", errno_name(errno));
		return 0;
	}
	printf("seized\n");
	fflush(stdout);
	usleep(200 * 1000);
	return 0;
}

static int open_mem(const char *pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%s/mem", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		printf("%s\n", errno_name(errno));
		return 0;
	}
	printf("opened\n");
	close(fd);
	return 0;
}

static int sigio_own(pid_t owner, int sig, const char *address, int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	if (inet_pton(AF_INET, address, &sin.sin_addr) != 1)
		return usage();
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		perror("connect");
		return 1;
	}
	/* a server stopped mid-reply never ends it: give up after 10 s (prints what came) */
	struct timeval timeout = { .tv_sec = 10 };
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	if (fcntl(s, F_SETOWN, owner) != 0 || fcntl(s, F_SETSIG, sig) != 0
	    || fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_ASYNC) != 0) {
		perror("fcntl");
		return 1;
	}
	static const char get[] = "GET /metrics HTTP/1.0\r\nHost: agentguard\r\n\r\n";
	if (write(s, get, sizeof(get) - 1) != (ssize_t)(sizeof(get) - 1)) {
		perror("write");
		return 1;
	}
	/* not blocked in read meanwhile: a waiting reader sets SOCKWQ_ASYNC_WAITDATA, and TCP's
	 * data-ready wakeup then sends no signal (sock_wake_async, SOCK_WAKE_WAITD) */
	usleep(500 * 1000);
	char buf[4096];
	long total = 0;
	ssize_t n;
	while ((n = read(s, buf, sizeof(buf))) > 0)
		total += n;
	usleep(200 * 1000);
	printf("replied %ld\n", total);
	close(s);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "ptrace-seize") == 0)
		return ptrace_seize(atoi(argv[2]));
	if (argc == 3 && strcmp(argv[1], "open-mem") == 0)
		return open_mem(argv[2]);
	if (argc >= 4 && strcmp(argv[1], "clone-into") == 0)
		return clone_into(argv[2], argv + 3);
	if (argc == 4 && strcmp(argv[1], "ioctl-flood") == 0)
		return ioctl_flood(argv[2], atol(argv[3]));
	if (argc >= 4 && strcmp(argv[1], "leader-exit-move") == 0)
		return leader_exit_move(argv[2], argv + 3);
	if (argc >= 5 && strcmp(argv[1], "uring-write") == 0)
		return uring_write(argv[2], argv[3], argv + 4);
	if (argc == 6 && strcmp(argv[1], "sigio-own") == 0)
		return sigio_own(atoi(argv[2]), atoi(argv[3]), argv[4], atoi(argv[5]));
	if (argc == 5 && strcmp(argv[1], "connect-flood") == 0)
		return connect_flood(argv[2], atoi(argv[3]), atol(argv[4]));
	return usage();
}
