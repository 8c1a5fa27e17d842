// SPDX-License-Identifier: GPL-2.0-only
/*
 * demo_miner: the miner-like workload of `agentguard demo`. It behaves like a CPU miner
 * as far as the host can see (stratum URL and algorithm on the command line, a TCP
 * connection to the pool, a JSON-RPC login, busy CPU) and mines nothing.
 *
 *   demo_miner -o stratum+tcp://ADDRESS:PORT [-u WALLET] [-a ALGO] [--cpu-ms N]
 *
 * Exit status: 0 after "mining" for N ms; 1 when the pool cannot be reached (the errno
 * name is printed); 2 on bad usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *errname(int e)
{
	return strerrorname_np(e) ? strerrorname_np(e) : strerror(e);
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	const char *url = NULL, *wallet = "demo-wallet", *algo = "rx/0";
	long cpu_ms = 500;
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'o' },
		{ "user", required_argument, NULL, 'u' },
		{ "algo", required_argument, NULL, 'a' },
		{ "cpu-ms", required_argument, NULL, 'c' },
		{ 0 }
	};
	int c;
	while ((c = getopt_long(argc, argv, "o:u:a:", opts, NULL)) != -1) {
		switch (c) {
		case 'o': url = optarg; break;
		case 'u': wallet = optarg; break;
		case 'a': algo = optarg; break;
		case 'c': cpu_ms = strtol(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	const char *prefix = "stratum+tcp://";
	if (!url || strncmp(url, prefix, strlen(prefix)) != 0 || cpu_ms < 0) {
		fprintf(stderr, "usage: demo_miner -o stratum+tcp://ADDRESS:PORT [-u WALLET] [-a ALGO] [--cpu-ms N]\n");
		return 2;
	}
	char host[64];
	snprintf(host, sizeof(host), "%s", url + strlen(prefix));
	char *colon = strrchr(host, ':');
	if (!colon) {
		fprintf(stderr, "demo_miner: %s has no port\n", url);
		return 2;
	}
	*colon = '\0';
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(colon + 1)) };
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "demo_miner: %s is not an IPv4 address\n", host);
		return 2;
	}
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		printf("pool %s:%s unreachable: %s\n", host, colon + 1, errname(errno));
		return 1;
	}
	char login[256];
	int n = snprintf(login, sizeof(login),
			 "{\"id\":1,\"jsonrpc\":\"2.0\",\"method\":\"login\",\"params\":{\"login\":\"%s\",\"algo\":[\"%s\"]}}\n",
			 wallet, algo);
	if (write(fd, login, (size_t)n) != n) {
		printf("pool login failed: %s\n", errname(errno));
		return 1;
	}
	char reply[256];
	ssize_t got = read(fd, reply, sizeof(reply) - 1);
	printf("pool %s:%s answered %zd bytes; hashing for %ld ms\n", host, colon + 1, got, cpu_ms);
	volatile unsigned long long h = 1469598103934665603ULL;
	for (long long end = now_ms() + cpu_ms; now_ms() < end;)
		for (int i = 0; i < 100000; i++)
			h = (h ^ (unsigned)i) * 1099511628211ULL;
	close(fd);
	return 0;
}
