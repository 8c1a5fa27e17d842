/*
 * cgroup_churn: makes cgroups and at once runs a process in each (the race an agent
 * workload's launcher makes), or only makes and removes them (the pattern-matching benchmark).
 *
 *   cgroup_churn race PARENT NAME COUNT IPV4 PORT
 *     NAME is a printf format of the iteration (job_%ld, cri-containerd-%ld.scope).
 *     COUNT times: mkdir PARENT/NAME(i), clone3(CLONE_INTO_CGROUP) a child born in it that
 *     connect()s to IPV4:PORT at once, wait, rmdir. Prints "eperm=N refused=N other=N".
 *   cgroup_churn churn PARENT NAME COUNT
 *     COUNT times mkdir + rmdir; prints "ops=N seconds=S rate_per_s=R mean_us=M p99_us=P"
 *     (one op = one mkdir + one rmdir).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void name(char *path, size_t size, const char *parent, const char *format, long i)
{
	int n = snprintf(path, size, "%s/", parent);
	snprintf(path + n, size - n, format, i);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: cgroup_churn race PARENT NAME COUNT IPV4 PORT | churn PARENT NAME COUNT\n");
		return 2;
	}
	const char *parent = argv[2], *prefix = argv[3];
	long count = atol(argv[4]);
	char path[4096];
	if (strcmp(argv[1], "churn") == 0) {
		double *lat = calloc(count, sizeof(double));
		double start = now_s();
		for (long i = 0; i < count; i++) {
			name(path, sizeof(path), parent, prefix, i);
			double t = now_s();
			if (mkdir(path, 0755) || rmdir(path)) {
				perror(path);
				return 1;
			}
			lat[i] = (now_s() - t) * 1e6;
		}
		double secs = now_s() - start, sum = 0;
		for (long i = 0; i < count; i++)
			sum += lat[i];
		qsort(lat, count, sizeof(double), cmp);
		printf("ops=%ld seconds=%.3f rate_per_s=%.0f mean_us=%.1f p99_us=%.1f\n", count, secs, count / secs,
		       sum / count, lat[(long)(count * 0.99)]);
		return 0;
	}
	if (strcmp(argv[1], "race") != 0 || argc < 7) {
		fprintf(stderr, "usage: cgroup_churn race PARENT NAME COUNT IPV4 PORT\n");
		return 2;
	}
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[6])) };
	if (inet_pton(AF_INET, argv[5], &sa.sin_addr) != 1) {
		fprintf(stderr, "bad address %s\n", argv[5]);
		return 2;
	}
	long eperm = 0, refused = 0, other = 0;
	for (long i = 0; i < count; i++) {
		name(path, sizeof(path), parent, prefix, i);
		if (mkdir(path, 0755)) {
			perror(path);
			return 1;
		}
		int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			perror(path);
			return 1;
		}
		struct clone_args ca = { .flags = CLONE_INTO_CGROUP, .exit_signal = SIGCHLD, .cgroup = (uint64_t)fd };
		long pid = syscall(SYS_clone3, &ca, sizeof(ca));
		if (pid < 0) {
			perror("clone3");
			return 1;
		}
		if (pid == 0) {
			/* the child's first act in its new cgroup */
			int s = socket(AF_INET, SOCK_STREAM, 0);
			if (s < 0)
				_exit(errno == EPERM ? 1 : 3);
			if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0)
				_exit(0);
			_exit(errno == EPERM ? 1 : errno == ECONNREFUSED ? 2 : 3);
		}
		close(fd);
		int status;
		if (waitpid(pid, &status, 0) < 0) {
			perror("waitpid");
			return 1;
		}
		int code = WIFEXITED(status) ? WEXITSTATUS(status) : 4;
		if (code == 1)
			eperm++;
		else if (code == 2)
			refused++;
		else
			other++;
		if (rmdir(path)) {
			perror(path);
			return 1;
		}
	}
	printf("eperm=%ld refused=%ld other=%ld\n", eperm, refused, other);
	return 0;
}
