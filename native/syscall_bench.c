// SPDX-License-Identifier: GPL-2.0-only
/*
 * syscall_bench: ns per traced system call, for the overhead benchmark
 * (scripts/bench-syscalls.sh runs it inside and outside an agent cgroup, with the agent
 * loaded and not).
 *
 *   syscall_bench connect-udp|connect-tcp|exec|ioctl|open ITERATIONS [DEVICE]
 *
 * connect-udp  socket(), connect() to 127.0.0.1:9 (UDP: no packet is sent), close()
 * connect-tcp  connect() to a listener of its own on 127.0.0.1, accept(), close() both
 * exec         fork(), execve("/bin/true"), waitpid()
 * ioctl        NV_ESC_RM_CONTROL-shaped ioctl on DEVICE (a stand-in: the call fails with
 *              ENOTTY, after the tracepoint has decoded it)
 * open         openat("/dev/null"), close(): what the self-protection open hooks cost every
 *              process on a node where a syscall tracepoint is attached
 *
 * Prints "<op> <ns per call>" (the mean over ITERATIONS after a warm-up of ITERATIONS/10).
 *
 *   syscall_bench paced-OP RATE SECONDS [DEVICE]
 *
 * Paced load instead (scripts/bench-resources.sh): OP at RATE calls per second for SECONDS,
 * catching up every millisecond; prints "<op> <calls made> <seconds>".
 *
 *   syscall_bench fsync SECONDS FILE
 *
 * The disk under the spools (scripts/bench-e2e.sh): 100 times a second, append 200 bytes to
 * FILE and fdatasync it, as the agent's spool and the collector's SQLite commits do; prints
 * "fsync <calls> <p50 us> <p99 us> <max us>".
 *
 *   syscall_bench burst N SECONDS [CPU [ioctl|header]]
 *
 * For the ring benchmark (scripts/bench-ring.sh): getpgid(N), which the benchmark-only BPF
 * program ag_bench_emit (bpf/bench/) turns into N ring records (GPU-ioctl-sized, or
 * header-only), as often as it can for SECONDS (0: once), pinned to CPU if given (-1: not
 * pinned); prints "burst <calls> <records offered> <elapsed ns>".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NV_IOCTL_MAGIC 'F'
#define NV_ESC_RM_CONTROL 0x2a

struct rm_control {		/* NVOS54_PARAMETERS: 32 bytes */
	uint32_t client, object, cmd, flags;
	uint64_t params;
	uint32_t params_size, status;
};

static int listener = -1;
static struct sockaddr_in tcp_addr;
static int device_fd = -1;
static char *const true_argv[] = { "/bin/true", NULL };

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "syscall_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void connect_udp(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(9),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		die("udp connect");
	close(fd);
}

static void connect_tcp(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&tcp_addr, sizeof(tcp_addr)) != 0)
		die("tcp connect");
	int peer = accept(listener, NULL, NULL);
	if (peer < 0)
		die("accept");
	/* RST rather than FIN: no TIME_WAIT pile-up over a million iterations */
	struct linger l = { .l_onoff = 1, .l_linger = 0 };
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
	close(peer);
}

static void exec_true(void)
{
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		execve("/bin/true", true_argv, NULL);
		_exit(127);
	}
	int status;
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("exec /bin/true");
}

static void open_close(void)
{
	int fd = openat(AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open /dev/null");
	close(fd);
}

static void nv_ioctl(void)
{
	struct rm_control p = { .client = 0xc1d00001, .object = 0xc1d00001, .cmd = 0x20800a2a };
	ioctl(device_fd, _IOWR(NV_IOCTL_MAGIC, NV_ESC_RM_CONTROL, struct rm_control), &p);
}

static int paced(void (*call)(void), const char *op, long rate, long seconds)
{
	uint64_t start = now_ns(), end = start + (uint64_t)seconds * 1000000000ULL, done = 0;
	for (uint64_t now = start; now < end; now = now_ns()) {
		uint64_t due = (uint64_t)((double)rate * (double)(now - start) / 1e9);
		while (done < due) {
			call();
			done++;
		}
		struct timespec ms = { 0, 1000000 };
		nanosleep(&ms, NULL);
	}
	printf("%s %llu %ld\n", op, (unsigned long long)done, seconds);
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int fsync_probe(long seconds, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		die(path);
	size_t cap = (size_t)seconds * 100 + 1, n = 0;
	uint64_t *lat = calloc(cap, sizeof(*lat));
	char buf[200];
	memset(buf, 'x', sizeof(buf));
	uint64_t end = now_ns() + (uint64_t)seconds * 1000000000ULL;
	while (now_ns() < end && n < cap) {
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			die("write");
		uint64_t start = now_ns();
		if (fdatasync(fd) != 0)
			die("fdatasync");
		lat[n++] = now_ns() - start;
		struct timespec pause = { 0, 10000000 };
		nanosleep(&pause, NULL);
	}
	close(fd);
	unlink(path);
	if (n == 0)
		return 1;
	qsort(lat, n, sizeof(*lat), cmp_u64);
	printf("fsync %zu %.0f %.0f %.0f\n", n, lat[n / 2] / 1e3, lat[n * 99 / 100] / 1e3, lat[n - 1] / 1e3);
	return 0;
}

#define BENCH_HEADER_ONLY (1ULL << 32)   /* as ag_bench_emit */

static int burst(long n, long seconds, uint64_t flags)
{
	uint64_t start = now_ns(), end = start + (uint64_t)seconds * 1000000000ULL, calls = 0, now;
	do {
		syscall(SYS_getpgid, (uint64_t)n | flags);   /* the result does not matter: the tracepoint ran */
		calls++;
		now = now_ns();
	} while (now < end);
	printf("burst %llu %llu %llu\n", (unsigned long long)calls, (unsigned long long)(calls * (uint64_t)n),
	       (unsigned long long)(now - start));
	return 0;
}

int main(int argc, char **argv)
{
	long pace_seconds = 0;
	if (argc == 4 && strcmp(argv[1], "fsync") == 0)
		return fsync_probe(strtol(argv[2], NULL, 10), argv[3]);
	if (argc >= 4 && argc <= 6 && strcmp(argv[1], "burst") == 0) {
		long n = strtol(argv[2], NULL, 10), seconds = strtol(argv[3], NULL, 10);
		bool header = argc == 6 && strcmp(argv[5], "header") == 0;
		if (n <= 0 || n >= (1L << 32) || seconds < 0 || (argc == 6 && !header && strcmp(argv[5], "ioctl") != 0)) {
			fprintf(stderr, "syscall_bench: burst N SECONDS [CPU [ioctl|header]]: 0 < N < 2^32, SECONDS >= 0\n");
			return 2;
		}
		if (argc >= 5 && atoi(argv[4]) >= 0) {
			cpu_set_t cpus;
			CPU_ZERO(&cpus);
			CPU_SET(atoi(argv[4]), &cpus);
			if (sched_setaffinity(0, sizeof(cpus), &cpus) != 0)
				die("sched_setaffinity");
		}
		return burst(n, seconds, header ? BENCH_HEADER_ONLY : 0);
	}
	if (argc > 3 && strncmp(argv[1], "paced-", 6) == 0) {
		pace_seconds = strtol(argv[3], NULL, 10);
		argv[1] += 6;
		for (int i = 3; i + 1 < argc; i++)   /* DEVICE moves to argv[3] */
			argv[i] = argv[i + 1];
		argc--;
	}
	if (argc < 3) {
		fprintf(stderr, "usage: syscall_bench connect-udp|connect-tcp|exec|ioctl|open ITERATIONS [DEVICE]\n");
		return 2;
	}
	const char *op = argv[1];
	long iterations = strtol(argv[2], NULL, 10);
	void (*call)(void);
	if (strcmp(op, "connect-udp") == 0) {
		call = connect_udp;
	} else if (strcmp(op, "connect-tcp") == 0) {
		call = connect_tcp;
		listener = socket(AF_INET, SOCK_STREAM, 0);
		tcp_addr = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t len = sizeof(tcp_addr);
		if (listener < 0 || bind(listener, (struct sockaddr *)&tcp_addr, sizeof(tcp_addr)) != 0 ||
		    listen(listener, 16) != 0 || getsockname(listener, (struct sockaddr *)&tcp_addr, &len) != 0)
			die("listen");
	} else if (strcmp(op, "exec") == 0) {
		call = exec_true;
	} else if (strcmp(op, "open") == 0) {
		call = open_close;
	} else if (strcmp(op, "ioctl") == 0 && argc > 3) {
		call = nv_ioctl;
		device_fd = open(argv[3], O_RDWR);
		if (device_fd < 0)
			die(argv[3]);
	} else {
		fprintf(stderr, "syscall_bench: unknown operation %s (ioctl needs DEVICE)\n", op);
		return 2;
	}
	if (iterations <= 0) {
		fprintf(stderr, "syscall_bench: ITERATIONS must be positive\n");
		return 2;
	}
	if (pace_seconds > 0)
		return paced(call, op, iterations, pace_seconds);
	for (long i = 0; i < iterations / 10; i++)
		call();
	uint64_t start = now_ns();
	for (long i = 0; i < iterations; i++)
		call();
	uint64_t elapsed = now_ns() - start;
	printf("%s %.1f\n", op, (double)elapsed / (double)iterations);
	return 0;
}
