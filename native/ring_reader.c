// SPDX-License-Identifier: GPL-2.0-only
/*
 * ring_reader: the reference C consumer for the ring throughput benchmark
 * (scripts/bench-ring.sh). It loads the benchmark's BPF object (agentguard-bench.bpf.o: the
 * agent's hook files linked with bpf/bench/ring_bench.bpf.c) with only the benchmark program
 * (ag_bench_emit) enabled, scopes it to one cgroup, and reads ag_ring with libbpf's
 * ring_buffer API: the same object, load and options as the Java reader
 * (io.agentguard.bench.RingReaderBenchmark), so that the two are compared side by side.
 *
 *   ring_reader --object OBJ --cgroup DIR --generator SYSCALL_BENCH
 *               [--mode drain|stream] [--wakeup kernel|batched] [--delay-ms 2]
 *               [--ring-bytes 8388608] [--burst N] [--seconds 5] [--rounds 200]
 *               [--generator-cpu N] [--reader-cpu N] [--warmup-seconds 2] [--record ioctl|header]
 *
 * drain   ROUNDS times: the generator (in DIR) writes BURST records in one bpf_loop and exits,
 *         then the reader drains them, timed: the reader's own ceiling. BURST defaults to
 *         nine tenths of the ring. The first fifth of the rounds is warm-up.
 * stream  the generator writes BURST records per getpgid() for SECONDS while the reader
 *         consumes with the wakeup policy: delivered and lost records, reader CPU per record;
 *         after the same for warmup-seconds, not counted (for the Java reader's JIT; both do it).
 * The generator runs on generator-cpu and the reading thread on reader-cpu, if given.
 *
 * Prints one line of key=value pairs; the handler reads each record's type (a checksum, so
 * that both readers touch every record).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/types.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "agentguard.h"

#define AG_WAKEUP_KERNEL  0
#define AG_WAKEUP_BATCHED 4
#define KERNEL_WAIT_MS    100

struct opts {
	const char *object, *cgroup, *generator, *mode, *wakeup, *generator_cpu, *record;
	int delay_ms;
	long warmup_seconds;
	int reader_cpu;
	unsigned ring_bytes;
	long burst, seconds, rounds;
};

struct tally {
	uint64_t records, checksum;
};

static volatile sig_atomic_t generator_done;

static void on_sigchld(int sig)
{
	(void)sig;
	generator_done = 1;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "ring_reader: %s: %s\n", what, strerror(err));
	exit(1);
}

static uint64_t clock_ns(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct tally *t = ctx;
	(void)size;
	t->records++;
	t->checksum += ((struct ag_header *)data)->type;
	return 0;
}

/* Level of a cgroup directory below the cgroup2 mount (what the BPF scope check walks). */
static int cgroup_level(const char *dir)
{
	FILE *m = fopen("/proc/self/mounts", "r");
	char dev[256], mnt[4096], type[64];
	size_t mount_len = 0;
	if (!m)
		die("/proc/self/mounts", errno);
	while (fscanf(m, "%255s %4095s %63s %*[^\n]", dev, mnt, type) == 3) {
		if (strcmp(type, "cgroup2") == 0) {
			mount_len = strlen(mnt);
			break;
		}
	}
	fclose(m);
	if (!mount_len || strncmp(dir, mnt, mount_len) != 0) {
		fprintf(stderr, "ring_reader: %s is not below the cgroup2 mount\n", dir);
		exit(1);
	}
	int level = 0;
	for (const char *p = dir + mount_len; *p; p++)
		if (*p == '/' && p[1] && p[1] != '/')
			level++;
	return level;
}

static uint64_t counter_sum(int map_fd, __u32 counter, int cpus)
{
	uint64_t values[cpus], sum = 0;
	if (bpf_map_lookup_elem(map_fd, &counter, values) != 0)
		die("ag_counters lookup", errno);
	for (int i = 0; i < cpus; i++)
		sum += values[i];
	return sum;
}

/* The generator, moved into the benchmark cgroup before it runs; its report goes to out_fd. */
static pid_t spawn_generator(const struct opts *o, long burst, long seconds, int out_fd)
{
	char procs[4096], burst_s[32], seconds_s[32];
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", o->cgroup);
	snprintf(burst_s, sizeof(burst_s), "%ld", burst);
	snprintf(seconds_s, sizeof(seconds_s), "%ld", seconds);
	generator_done = 0;
	pid_t pid = fork();
	if (pid < 0)
		die("fork", errno);
	if (pid == 0) {
		int fd = open(procs, O_WRONLY);
		if (fd < 0 || write(fd, "0", 1) != 1)
			die(procs, errno);
		close(fd);
		dup2(out_fd, STDOUT_FILENO);
		execl(o->generator, o->generator, "burst", burst_s, seconds_s, o->generator_cpu ? o->generator_cpu : "-1",
		      o->record, (char *)NULL);
		die(o->generator, errno);
	}
	return pid;
}

/* syscall_bench burst prints "burst <calls> <records> <elapsed ns>". */
static void reap(pid_t pid, FILE *out, uint64_t *elapsed_ns)
{
	int status;
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "ring_reader: the generator failed\n");
		exit(1);
	}
	unsigned long long calls = 0, records = 0, ns = 0;
	if (out && fscanf(out, "burst %llu %llu %llu", &calls, &records, &ns) == 3)
		*elapsed_ns = ns;
}

/* Rounds of: the generator writes burst records and exits, the reader drains them; rounds
 * from `first_timed` on are timed. */
static void drain_rounds(const struct opts *o, struct ring_buffer *rb, struct tally *t, long burst,
			 long first_timed, long rounds, uint64_t *elapsed_ns, uint64_t *measured)
{
	int devnull = open("/dev/null", O_WRONLY);
	for (long r = 0; r < rounds; r++) {
		reap(spawn_generator(o, burst, 0, devnull), NULL, NULL);
		uint64_t before = t->records;
		uint64_t start = clock_ns(CLOCK_MONOTONIC);
		while (t->records - before < (uint64_t)burst)
			if (ring_buffer__consume(rb) < 0)
				die("ring_buffer__consume", errno);
		if (r >= first_timed) {
			*elapsed_ns += clock_ns(CLOCK_MONOTONIC) - start;
			*measured += t->records - before;
		}
	}
	close(devnull);
}

/* Reads while the generator runs for `seconds`, with the wakeup policy's loop. */
static void stream(const struct opts *o, struct ring_buffer *rb, long seconds, bool batched,
		   uint64_t *elapsed_ns, uint64_t *reader_cpu_ns)
{
	int pipefd[2];
	if (pipe(pipefd) != 0)
		die("pipe", errno);
	pid_t gen = spawn_generator(o, o->burst, seconds, pipefd[1]);
	close(pipefd[1]);
	uint64_t cpu_start = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	while (!generator_done) {
		int n = batched ? ring_buffer__consume(rb) : ring_buffer__poll(rb, KERNEL_WAIT_MS);
		if (n < 0 && n != -EINTR)
			die("ring_buffer__poll", -n);
		if (batched)
			ring_buffer__poll(rb, o->delay_ms);   /* consumes too if a forced wakeup came */
	}
	while (ring_buffer__consume(rb) > 0) {
	}
	*reader_cpu_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu_start;
	FILE *out = fdopen(pipefd[0], "r");
	reap(gen, out, elapsed_ns);
	fclose(out);
}

int main(int argc, char **argv)
{
	struct opts o = { .mode = "drain", .wakeup = "batched", .delay_ms = 2, .ring_bytes = 8u << 20,
			  .burst = 0, .seconds = 5, .rounds = 200, .warmup_seconds = 2, .reader_cpu = -1, .record = "ioctl" };
	static const struct option longopts[] = {
		{ "object", required_argument, 0, 'o' }, { "cgroup", required_argument, 0, 'c' },
		{ "generator", required_argument, 0, 'g' }, { "mode", required_argument, 0, 'm' },
		{ "wakeup", required_argument, 0, 'w' }, { "delay-ms", required_argument, 0, 'd' },
		{ "ring-bytes", required_argument, 0, 'r' }, { "burst", required_argument, 0, 'b' },
		{ "seconds", required_argument, 0, 's' }, { "rounds", required_argument, 0, 'n' },
		{ "generator-cpu", required_argument, 0, 'u' }, { "warmup-seconds", required_argument, 0, 'W' },
		{ "reader-cpu", required_argument, 0, 'R' }, { "record", required_argument, 0, 'T' },
		{ 0, 0, 0, 0 }
	};
	for (int c; (c = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
		switch (c) {
		case 'o': o.object = optarg; break;
		case 'c': o.cgroup = optarg; break;
		case 'g': o.generator = optarg; break;
		case 'm': o.mode = optarg; break;
		case 'w': o.wakeup = optarg; break;
		case 'd': o.delay_ms = atoi(optarg); break;
		case 'r': o.ring_bytes = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'b': o.burst = atol(optarg); break;
		case 's': o.seconds = atol(optarg); break;
		case 'n': o.rounds = atol(optarg); break;
		case 'u': o.generator_cpu = optarg; break;
		case 'W': o.warmup_seconds = atol(optarg); break;
		case 'R': o.reader_cpu = atoi(optarg); break;
		case 'T': o.record = optarg; break;
		default: return 2;
		}
	}
	bool drain = strcmp(o.mode, "drain") == 0;
	bool batched = strcmp(o.wakeup, "batched") == 0;
	if (!o.object || !o.cgroup || !o.generator || (!drain && strcmp(o.mode, "stream") != 0) ||
	    (!batched && strcmp(o.wakeup, "kernel") != 0) || o.rounds < 5 || o.seconds < 1 ||
	    (strcmp(o.record, "ioctl") != 0 && strcmp(o.record, "header") != 0)) {
		fprintf(stderr, "usage: ring_reader --object OBJ --cgroup DIR --generator SYSCALL_BENCH "
				"[--mode drain|stream] [--wakeup kernel|batched] [--delay-ms N] [--ring-bytes N] "
				"[--burst N] [--seconds N >= 1] [--rounds N >= 5] [--generator-cpu N] [--reader-cpu N] [--warmup-seconds N] [--record ioctl|header]\n");
		return 2;
	}
	const long record_size = strcmp(o.record, "header") == 0 ? sizeof(struct ag_header) : sizeof(struct ag_gpu_ioctl);
	const long record_bytes = (record_size + 8 + 7) & ~7L;
	const long ring_burst = (long)o.ring_bytes / record_bytes * 9 / 10;   /* fits without loss */
	if (o.burst <= 0)
		o.burst = drain ? ring_burst : 64;
	if (drain && o.burst > ring_burst) {
		fprintf(stderr, "ring_reader: a drain burst must fit the ring: at most %ld records\n", ring_burst);
		return 2;
	}

	if (o.reader_cpu >= 0) {
		cpu_set_t cpus;
		CPU_ZERO(&cpus);
		CPU_SET(o.reader_cpu, &cpus);
		if (sched_setaffinity(0, sizeof(cpus), &cpus) != 0)
			die("sched_setaffinity", errno);
	}
	struct bpf_object *obj = bpf_object__open_file(o.object, NULL);
	if (!obj)
		die(o.object, errno);
	struct bpf_program *prog;
	bpf_object__for_each_program(prog, obj)
		bpf_program__set_autoload(prog, strcmp(bpf_program__name(prog), "ag_bench_emit") == 0);
	struct bpf_map *ring = bpf_object__find_map_by_name(obj, "ag_ring");
	if (!ring || bpf_map__set_max_entries(ring, o.ring_bytes) != 0)
		die("ag_ring size", errno);
	if (bpf_object__load(obj) != 0)
		die("bpf_object__load", errno);

	struct stat st;
	if (stat(o.cgroup, &st) != 0)
		die(o.cgroup, errno);
	__u64 cgroup_id = st.st_ino;
	__u32 one = 1, zero = 0;
	struct ag_config cfg = { .scope_levels = 1ULL << cgroup_level(o.cgroup),
				 .ringbuf_wakeup = batched ? AG_WAKEUP_BATCHED : AG_WAKEUP_KERNEL };
	if (bpf_map_update_elem(bpf_object__find_map_fd_by_name(obj, "ag_scope_roots"), &cgroup_id, &one, 0) ||
	    bpf_map_update_elem(bpf_object__find_map_fd_by_name(obj, "ag_config"), &zero, &cfg, 0))
		die("configuring maps", errno);
	struct bpf_link *link = bpf_program__attach(bpf_object__find_program_by_name(obj, "ag_bench_emit"));
	if (!link)
		die("attach ag_bench_emit", errno);
	int counters_fd = bpf_object__find_map_fd_by_name(obj, "ag_counters");
	int cpus = libbpf_num_possible_cpus();

	struct tally t = { 0 };
	struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(ring), on_record, &t, NULL);
	if (!rb)
		die("ring_buffer__new", errno);
	signal(SIGCHLD, on_sigchld);

	uint64_t elapsed_ns = 0, measured = 0, reader_cpu_ns = 0;
	uint64_t emitted_before = 0, lost_before = 0, records_before = 0;
	if (drain) {
		drain_rounds(&o, rb, &t, o.burst, o.rounds / 5, o.rounds, &elapsed_ns, &measured);
	} else {
		stream(&o, rb, o.warmup_seconds, batched, &elapsed_ns, &reader_cpu_ns);   /* as the Java side */
		emitted_before = counter_sum(counters_fd, AG_CNT_EMITTED, cpus);
		lost_before = counter_sum(counters_fd, AG_CNT_LOST, cpus);
		records_before = t.records;
		stream(&o, rb, o.seconds, batched, &elapsed_ns, &reader_cpu_ns);
		measured = t.records - records_before;
	}
	uint64_t emitted = counter_sum(counters_fd, AG_CNT_EMITTED, cpus) - emitted_before;
	uint64_t lost = counter_sum(counters_fd, AG_CNT_LOST, cpus) - lost_before;
	uint64_t delivered = t.records - records_before;
	double seconds = (double)elapsed_ns / 1e9;
	printf("reader=c mode=%s wakeup=%s record=%s burst=%ld offered=%llu delivered=%llu lost=%llu seconds=%.6f "
	       "delivered_per_s=%.0f reader_cpu_ns_per_record=%.1f checksum_ok=%d\n",
	       o.mode, o.wakeup, o.record, o.burst, (unsigned long long)(emitted + lost), (unsigned long long)delivered,
	       (unsigned long long)lost, seconds, seconds > 0 ? (double)measured / seconds : 0.0,
	       drain || !delivered ? 0.0 : (double)reader_cpu_ns / (double)delivered,
	       t.checksum == t.records * AG_REC_GPU_IOCTL);
	ring_buffer__free(rb);
	bpf_link__destroy(link);
	bpf_object__close(obj);
	return emitted == delivered ? 0 : 3;
}
