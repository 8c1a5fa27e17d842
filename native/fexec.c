// SPDX-License-Identifier: GPL-2.0-only
/*
 * fexec: runs a program without naming it, as an attacker who wants past an exec deny list
 * would (tests of the exec policy):
 *   fexec memfd FILE [ARG...]    copy FILE into a memfd_create file and fexecve it
 *   fexec fd FILE [ARG...]       open FILE and execveat(fd, "", AT_EMPTY_PATH) it
 *   fexec deleted FILE [ARG...]  copy FILE next to itself, open the copy, unlink it, fexecve it
 * argv[0] of the program is FILE's base name. Exit status 127 and a message when a step fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static int copy(int from, int to)
{
	char buf[65536];
	ssize_t n;
	while ((n = read(from, buf, sizeof(buf))) > 0)
		if (write(to, buf, n) != n)
			return -1;
	return n < 0 ? -1 : 0;
}

static int fail(const char *what)
{
	fprintf(stderr, "fexec: %s: %s\n", what, strerror(errno));
	return 127;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: fexec memfd|fd|deleted FILE [ARG...]\n");
		return 2;
	}
	const char *mode = argv[1], *file = argv[2];
	char **args = &argv[2];
	const char *base = strrchr(file, '/');
	args[0] = (char *)(base ? base + 1 : file);
	extern char **environ;
	int src = open(file, O_RDONLY | O_CLOEXEC);
	if (src < 0)
		return fail(file);
	int fd;
	if (strcmp(mode, "fd") == 0) {
		fd = src;
	} else if (strcmp(mode, "memfd") == 0) {
		fd = memfd_create("payload", MFD_CLOEXEC);
		if (fd < 0 || copy(src, fd) != 0)
			return fail("memfd");
	} else if (strcmp(mode, "deleted") == 0) {
		char tmp[4096];
		snprintf(tmp, sizeof(tmp), "%s.deleted-%d", file, getpid());
		int out = open(tmp, O_RDWR | O_CREAT | O_EXCL, 0700);
		if (out < 0 || copy(src, out) != 0)
			return fail(tmp);
		close(out);   /* a file open for writing cannot be executed (ETXTBSY) */
		fd = open(tmp, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || unlink(tmp) != 0)
			return fail(tmp);
	} else {
		fprintf(stderr, "fexec: unknown mode %s\n", mode);
		return 2;
	}
	syscall(SYS_execveat, fd, "", args, environ, AT_EMPTY_PATH);
	return fail("execveat");
}
