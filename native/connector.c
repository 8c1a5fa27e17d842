// SPDX-License-Identifier: GPL-2.0-only
/*
 * connector: makes exactly one connect() and reports its result, for kernel tests
 * that need a process in a test cgroup to connect somewhere known.
 *
 *   connector tcp4|tcp6|udp4|udp6 ADDRESS PORT
 *   connector sendto4 ADDRESS PORT     (one unconnected UDP datagram)
 *   connector unix PATH                (abstract names as @NAME; writes a line once connected)
 *   connector listen PATH              (a Unix stream listener; prints "up", then serves until killed)
 *   connector listen-dgram PATH        (a bound Unix datagram socket; prints "up", then reads until killed)
 *   connector unix-sendto PATH         (one unconnected Unix datagram)
 *   connector open PATH                (open a file or device read-only)
 *   connector raw4 ADDRESS             (raw ICMP socket, one echo request sent with sendto)
 *   connector hdrincl ADDRESS PORT     (raw IPPROTO_RAW socket, IP_HDRINCL: one hand-made TCP SYN)
 *   connector ping4 ADDRESS            (ICMP "ping" datagram socket, one unconnected echo request)
 *   connector packet                   (AF_PACKET socket; nothing sent)
 *   connector netns MODE ARGS...       (first: a new network namespace with lo up and ping
 *                                       sockets allowed to every group; for raw tests that
 *                                       must keep their packets off the host's loopback)
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
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int usage(void)
{
	fprintf(stderr, "usage: connector [netns] tcp4|tcp6|udp4|udp6|sendto4|hdrincl ADDRESS PORT | raw4|ping4 ADDRESS"
		" | packet | unix|open PATH\n");
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

/* A new network namespace of our own: lo up, ping sockets allowed (ping_group_range is per namespace). */
static int enter_test_netns(void)
{
	if (unshare(CLONE_NEWNET) != 0)
		return -1;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr = { 0 };
	strcpy(ifr.ifr_name, "lo");
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) != 0)
		return -1;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) != 0)
		return -1;
	close(fd);
	FILE *f = fopen("/proc/sys/net/ipv4/ping_group_range", "w");
	if (!f)
		return -1;
	fputs("0 2147483647", f);
	return fclose(f);
}

static unsigned short checksum(const void *data, size_t len)
{
	const unsigned short *p = data;
	unsigned long sum = 0;
	for (; len > 1; len -= 2)
		sum += *p++;
	if (len)
		sum += *(const unsigned char *)p;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/* socket() failing prints its errno name (EPERM when denied); else the send's result. */
static int raw_mode(const char *mode, const char *address, int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	if (address && inet_pton(AF_INET, address, &sin.sin_addr) != 1)
		return usage();
	if (strcmp(mode, "packet") == 0) {
		int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
		return report(fd < 0 ? -1 : 0);
	}
	if (strcmp(mode, "hdrincl") == 0) {
		int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
		if (fd < 0)
			return report(-1);
		int one = 1;
		if (setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one)) != 0)
			return report(-1);
		struct { struct iphdr ip; struct tcphdr tcp; } pkt = { 0 };
		pkt.ip.version = 4;
		pkt.ip.ihl = 5;
		pkt.ip.ttl = 64;
		pkt.ip.protocol = IPPROTO_TCP;
		pkt.ip.tot_len = htons(sizeof(pkt));
		pkt.ip.saddr = htonl(INADDR_LOOPBACK);
		pkt.ip.daddr = sin.sin_addr.s_addr;
		pkt.tcp.source = htons(40000);
		pkt.tcp.dest = htons(port);
		pkt.tcp.doff = 5;
		pkt.tcp.syn = 1;
		pkt.tcp.window = htons(1024);
		ssize_t n = sendto(fd, &pkt, sizeof(pkt), 0, (struct sockaddr *)&sin, sizeof(sin));
		return report(n == (ssize_t)sizeof(pkt) ? 0 : -1);
	}
	int ping = strcmp(mode, "ping4") == 0;
	int fd = socket(AF_INET, ping ? SOCK_DGRAM : SOCK_RAW, IPPROTO_ICMP);
	if (fd < 0)
		return report(-1);
	struct icmphdr echo = { .type = ICMP_ECHO, .un.echo.id = htons(0x4147), .un.echo.sequence = htons(1) };
	echo.checksum = checksum(&echo, sizeof(echo));
	ssize_t n = sendto(fd, &echo, sizeof(echo), 0, (struct sockaddr *)&sin, sizeof(sin));
	return report(n == (ssize_t)sizeof(echo) ? 0 : -1);
}

/* A path, or @NAME for an abstract name (its bytes exactly, after a NUL). */
static int unix_address(const char *text, struct sockaddr_un *sun, socklen_t *addr_len)
{
	size_t len = strlen(text);
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (len >= sizeof(sun->sun_path))
		return -1;
	strcpy(sun->sun_path, text);
	*addr_len = sizeof(*sun);
	if (text[0] == '@') {
		sun->sun_path[0] = 0;
		*addr_len = offsetof(struct sockaddr_un, sun_path) + len;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "netns") == 0) {
		if (enter_test_netns() != 0) {
			perror("connector: test network namespace");
			return 2;
		}
		argv++;
		argc--;
	}
	if (argc == 2 && strcmp(argv[1], "packet") == 0)
		return raw_mode(argv[1], NULL, 0);
	if (argc == 3 && (strcmp(argv[1], "raw4") == 0 || strcmp(argv[1], "ping4") == 0))
		return raw_mode(argv[1], argv[2], 0);
	if (argc == 4 && strcmp(argv[1], "hdrincl") == 0)
		return raw_mode(argv[1], argv[2], atoi(argv[3]));
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
	if (argc == 3 && strncmp(argv[1], "listen", 6) == 0) {
		struct sockaddr_un sun;
		socklen_t addr_len;
		if (unix_address(argv[2], &sun, &addr_len) != 0)
			return usage();
		int dgram = strcmp(argv[1], "listen-dgram") == 0;
		int fd = socket(AF_UNIX, dgram ? SOCK_DGRAM : SOCK_STREAM, 0);
		if (bind(fd, (struct sockaddr *)&sun, addr_len) != 0 || (!dgram && listen(fd, 16) != 0))
			return report(-1);
		puts("up");
		fflush(stdout);
		char buf[256];
		for (;;) {
			if (dgram)
				recv(fd, buf, sizeof(buf), 0);
			else
				accept(fd, NULL, NULL);   /* kept open: a client's write must not meet a closed peer */
		}
	}
	if (argc == 3 && strcmp(argv[1], "unix-sendto") == 0) {
		struct sockaddr_un sun;
		socklen_t addr_len;
		if (unix_address(argv[2], &sun, &addr_len) != 0)
			return usage();
		int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
		ssize_t n = sendto(fd, "x", 1, 0, (struct sockaddr *)&sun, addr_len);
		return report(n == 1 ? 0 : -1);
	}
	if (argc == 3 && strcmp(argv[1], "unix") == 0) {
		struct sockaddr_un sun;
		socklen_t addr_len;
		if (unix_address(argv[2], &sun, &addr_len) != 0)
			return usage();
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&sun, addr_len) != 0)
			return report(-1);
		/* what a proxy client does next: hand the peer some traffic */
		return report(send(fd, "CONNECT 127.66.9.1:3333\n", 24, MSG_NOSIGNAL) == 24 ? 0 : -1);
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
