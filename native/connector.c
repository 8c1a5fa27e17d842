// SPDX-License-Identifier: GPL-2.0-only
/*
 * connector: makes exactly one connect() and reports its result, for kernel tests
 * that need a process in a test cgroup to connect somewhere known.
 *
 *   connector tcp4|tcp6|udp4|udp6 ADDRESS PORT
 *   connector sendto4 ADDRESS PORT     (one unconnected UDP datagram)
 *   connector unix PATH
 *   connector open PATH                (open a file or device read-only)
 *
 * Prints "ok" or the errno name and exits 0 (connected) or 1 (connect failed);
 * 2 on bad usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int usage(void)
{
	fprintf(stderr, "usage: connector tcp4|tcp6|udp4|udp6|sendto4 ADDRESS PORT | connector unix|open PATH\n");
	return 2;
}

static int report(int rc)
{
	if (rc == 0) {
		puts("ok");
		return 0;
	}
	printf("%s\n", strerrorname_np(errno) ? strerrorname_np(errno) : strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "open") == 0) {
		int fd = open(argv[2], O_RDONLY);
		return report(fd < 0 ? -1 : 0);
	}
	if (argc == 4 && strcmp(argv[1], "sendto4") == 0) {
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[3])) };
		if (inet_pton(AF_INET, argv[2], &sin.sin_addr) != 1)
			return usage();
		int fd = socket(AF_INET, SOCK_DGRAM, 0);
		ssize_t n = sendto(fd, "x", 1, 0, (struct sockaddr *)&sin, sizeof(sin));
		return report(n == 1 ? 0 : -1);
	}
	if (argc == 3 && strcmp(argv[1], "unix") == 0) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		if (strlen(argv[2]) >= sizeof(sun.sun_path))
			return usage();
		strcpy(sun.sun_path, argv[2]);
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		return report(connect(fd, (struct sockaddr *)&sun, sizeof(sun)));
	}
	if (argc != 4)
		return usage();
	int v6 = argv[1][3] == '6';
	int type = strncmp(argv[1], "tcp", 3) == 0 ? SOCK_STREAM : SOCK_DGRAM;
	int port = atoi(argv[3]);
	if ((strncmp(argv[1], "tcp", 3) && strncmp(argv[1], "udp", 3)) || port <= 0 || port > 65535)
		return usage();
	int fd = socket(v6 ? AF_INET6 : AF_INET, type, 0);
	if (v6) {
		struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
		if (inet_pton(AF_INET6, argv[2], &sin6.sin6_addr) != 1)
			return usage();
		return report(connect(fd, (struct sockaddr *)&sin6, sizeof(sin6)));
	}
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	if (inet_pton(AF_INET, argv[2], &sin.sin_addr) != 1)
		return usage();
	return report(connect(fd, (struct sockaddr *)&sin, sizeof(sin)));
}
