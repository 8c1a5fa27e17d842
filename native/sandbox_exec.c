// SPDX-License-Identifier: GPL-2.0-only
/*
 * sandbox_exec: the launcher behind `agentguard sandbox`. Java cannot act between fork and
 * exec, so this small program takes the keys away and then execs the agent's command:
 *
 *   sandbox_exec [--cgroup-procs FILE] [--label TEXT] [--ro PATH]... [--user NAME|UID]
 *                [--group NAME|GID] [--groups G[,G...]] [--keep CAP[,CAP...]] -- CMD [ARGS...]
 *
 * In this order (each step needs what the later ones take away):
 *   1. writes its own pid to FILE (the agent cgroup's cgroup.procs): CMD starts inside;
 *   2. a private mount namespace (changes never propagate back) in which every --ro PATH
 *      (cgroupfs, bpffs, agentguard's config, rules, spool and runtime paths) is a read-only
 *      bind mount, submounts included: uid 0 without capabilities still owns those files,
 *      and would otherwise write them (cgroup.procs, cgroup.freeze, the config);
 *   3. supplementary groups: cleared, or exactly --groups; then gid and uid (real, effective,
 *      saved) to --group / --user (a user's primary group when --group is absent);
 *   4. capabilities: every one not kept leaves the bounding set, then effective, permitted and
 *      inheritable become exactly the kept set, and the ambient set too (so that a kept
 *      capability survives exec for a non-root uid; it is empty when nothing is kept);
 *   5. no_new_privs: no setuid binary or file capability can give any back;
 *   6. verifies all of it, with capget/prctl and again from /proc/self/status, and the mounts
 *      with statvfs: anything left that should not be, and it refuses to exec (exit 126).
 * Then it prints one line to stderr saying what it dropped, and execs CMD.
 *
 * Capability names: net_raw, CAP_NET_RAW or a number. Exit status: CMD's (it is exec'd); 125
 * for bad usage; 126 when a step or the verification failed; 127 when CMD cannot be run.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/mount.h>
#include <pwd.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_IS_SET 1
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

#define MAX_RO 64
#define MAX_GROUPS 64

/* Index = capability number (include/uapi/linux/capability.h). */
static const char *const CAP_NAMES[] = {
	"chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid",
	"setpcap", "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw",
	"ipc_lock", "ipc_owner", "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct",
	"sys_admin", "sys_boot", "sys_nice", "sys_resource", "sys_time", "sys_tty_config", "mknod",
	"lease", "audit_write", "audit_control", "setfcap", "mac_override", "mac_admin", "syslog",
	"wake_alarm", "block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore",
};
#define CAP_NAMES_COUNT ((int)(sizeof(CAP_NAMES) / sizeof(CAP_NAMES[0])))

static int fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("agentguard sandbox: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs("; refusing to run the command\n", stderr);
	va_end(ap);
	return 126;
}

static int usage(const char *why)
{
	fprintf(stderr, "sandbox_exec: %s\nusage: sandbox_exec [--cgroup-procs FILE] [--label TEXT] [--ro PATH]..."
		" [--user NAME|UID] [--group NAME|GID] [--groups G[,G...]] [--keep CAP[,CAP...]] -- CMD [ARGS...]\n", why);
	return 125;
}

static int last_cap(void)
{
	int last = CAP_LAST_CAP;
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "r");
	if (f) {
		if (fscanf(f, "%d", &last) != 1)
			last = CAP_LAST_CAP;
		fclose(f);
	}
	return last > 63 ? 63 : last;
}

static const char *cap_name(int cap, char *buf, size_t len)
{
	if (cap < CAP_NAMES_COUNT)
		return CAP_NAMES[cap];
	snprintf(buf, len, "cap_%d", cap);
	return buf;
}

/* "net_raw", "CAP_NET_RAW" or "13"; -1 when unknown. */
static int cap_parse(const char *text, int last)
{
	if (strncasecmp(text, "cap_", 4) == 0)
		text += 4;
	for (int i = 0; i < CAP_NAMES_COUNT && i <= last; i++)
		if (strcasecmp(text, CAP_NAMES[i]) == 0)
			return i;
	char *end;
	errno = 0;
	long n = strtol(text, &end, 10);
	if (*text && !*end && !errno && n >= 0 && n <= last)
		return (int)n;
	return -1;
}

static int id_parse(const char *text, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(text, &end, 10);
	if (!*text || *end || errno || n > 0xfffffffeul)
		return -1;
	*out = (uint32_t)n;
	return 0;
}

static int group_parse(const char *text, gid_t *out)
{
	uint32_t id;
	if (id_parse(text, &id) == 0) {
		*out = id;
		return 0;
	}
	struct group *g = getgrnam(text);
	if (!g)
		return -1;
	*out = g->gr_gid;
	return 0;
}

/* Every mount at or under path read-only, in this (private) namespace. */
static int make_read_only(const char *path)
{
	if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) != 0)
		return -1;
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
	if (syscall(SYS_mount_setattr, AT_FDCWD, path, AT_RECURSIVE, &attr, sizeof(attr)) == 0)
		return 0;
	/* before 5.12: the top mount only; the verification below names a submount left writable */
	return mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL);
}

/* Every mount point at or under path (from /proc/self/mountinfo) must be read-only: the last
 * mount listed at a mount point is the one on top, the one a path resolves to. */
static int verify_read_only(const char *path)
{
	struct statvfs s;
	if (statvfs(path, &s) != 0 || !(s.f_flag & ST_RDONLY))
		return fail("%s is still writable in the sandbox's mount namespace", path);
	FILE *f = fopen("/proc/self/mountinfo", "r");
	if (!f)
		return fail("cannot read /proc/self/mountinfo: %s", strerror(errno));
	enum { MAX_POINTS = 512 };
	static char points[MAX_POINTS][512];
	static int writable[MAX_POINTS];
	int n = 0;
	char line[4096];
	size_t plen = strlen(path);
	while (fgets(line, sizeof(line), f)) {
		char point[4096], opts[256];
		if (sscanf(line, "%*s %*s %*s %*s %4095s %255s", point, opts) != 2)
			continue;
		if (strncmp(point, path, plen) != 0 || (point[plen] != '/' && point[plen] != 0 && plen > 1))
			continue;
		int at = 0;
		while (at < n && strcmp(points[at], point) != 0)
			at++;
		if (at == n) {
			if (n == MAX_POINTS || strlen(point) >= sizeof(points[0])) {
				fclose(f);
				return fail("too many or too long mount points under %s to verify", path);
			}
			strcpy(points[n++], point);
		}
		writable[at] = strncmp(opts, "ro", 2) != 0 || (opts[2] != ',' && opts[2] != 0);
	}
	fclose(f);
	for (int i = 0; i < n; i++)
		if (writable[i])
			return fail("mount %s under %s is still writable in the sandbox's mount namespace", points[i], path);
	return 0;
}

/* /proc/self/status line "Name:\t<hex>" as a number; -1 when absent. */
static int status_hex(const char *name, uint64_t *out)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return -1;
	char line[256];
	size_t len = strlen(name);
	int rc = -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, name, len) == 0 && line[len] == ':') {
			*out = strtoull(line + len + 1, NULL, 16);
			rc = 0;
			break;
		}
	fclose(f);
	return rc;
}

static int status_dec(const char *name, uint64_t *out)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return -1;
	char line[256];
	size_t len = strlen(name);
	int rc = -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, name, len) == 0 && line[len] == ':') {
			*out = strtoull(line + len + 1, NULL, 10);
			rc = 0;
			break;
		}
	fclose(f);
	return rc;
}

static int capget_sets(uint64_t *eff, uint64_t *prm, uint64_t *inh)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2];
	if (syscall(SYS_capget, &hdr, data) != 0)
		return -1;
	*eff = data[0].effective | (uint64_t)data[1].effective << 32;
	*prm = data[0].permitted | (uint64_t)data[1].permitted << 32;
	*inh = data[0].inheritable | (uint64_t)data[1].inheritable << 32;
	return 0;
}

static int capset_sets(uint64_t keep)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2] = {
		{ .effective = (uint32_t)keep, .permitted = (uint32_t)keep, .inheritable = (uint32_t)keep },
		{ .effective = (uint32_t)(keep >> 32), .permitted = (uint32_t)(keep >> 32),
		  .inheritable = (uint32_t)(keep >> 32) },
	};
	return (int)syscall(SYS_capset, &hdr, data);
}

/* Everything step 6 of the header comment checks; 0 when all holds. */
static int verify(uint64_t keep, int last, uid_t uid, gid_t gid, const gid_t *groups, int ngroups,
		  char *const *ro, int nro)
{
	uint64_t all = last >= 63 ? ~0ull : (1ull << (last + 1)) - 1;
	uint64_t eff, prm, inh;
	if (capget_sets(&eff, &prm, &inh) != 0)
		return fail("capget: %s", strerror(errno));
	if (eff != keep || prm != keep || inh != keep)
		return fail("capabilities left after the drop: effective %#llx, permitted %#llx, inheritable %#llx"
			    " (kept %#llx)", (unsigned long long)eff, (unsigned long long)prm, (unsigned long long)inh,
			    (unsigned long long)keep);
	for (int cap = 0; cap <= last; cap++) {
		int in_bounding = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
		int ambient = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0);
		int kept = (keep >> cap) & 1;
		if (in_bounding < 0 || in_bounding != kept || ambient < 0 || ambient != kept) {
			char buf[16];
			return fail("capability %s left in the %s set", cap_name(cap, buf, sizeof(buf)),
				    in_bounding != kept ? "bounding" : "ambient");
		}
	}
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return fail("no_new_privs is not set");
	/* the same, as the kernel reports it to everyone else */
	const char *sets[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" };
	for (int i = 0; i < 5; i++) {
		uint64_t v;
		if (status_hex(sets[i], &v) != 0)
			return fail("/proc/self/status has no %s line", sets[i]);
		if ((v & all) != keep)
			return fail("/proc/self/status says %s %016llx, kept %016llx", sets[i], (unsigned long long)v,
				    (unsigned long long)keep);
	}
	uint64_t nnp;
	if (status_dec("NoNewPrivs", &nnp) != 0 || nnp != 1)
		return fail("/proc/self/status does not say NoNewPrivs 1");
	uid_t r, e, s;
	gid_t rg, eg, sg;
	if (getresuid(&r, &e, &s) != 0 || r != uid || e != uid || s != uid)
		return fail("uid is not %u everywhere (real %u, effective %u, saved %u)", uid, r, e, s);
	if (getresgid(&rg, &eg, &sg) != 0 || rg != gid || eg != gid || sg != gid)
		return fail("gid is not %u everywhere (real %u, effective %u, saved %u)", gid, rg, eg, sg);
	gid_t now[MAX_GROUPS + 1];
	int n = getgroups(MAX_GROUPS + 1, now);
	if (n != ngroups)
		return fail("%d supplementary groups, expected %d", n, ngroups);
	for (int i = 0; i < n; i++)
		if (now[i] != groups[i])
			return fail("supplementary group %u, expected %u", now[i], groups[i]);
	for (int i = 0; i < nro; i++)
		if (access(ro[i], F_OK) == 0 && verify_read_only(ro[i]) != 0)
			return 126;
	return 0;
}

int main(int argc, char **argv)
{
	const char *procs = NULL, *label = NULL, *user = NULL, *group = NULL, *groups_arg = NULL, *keep_arg = NULL;
	char *ro[MAX_RO];
	int nro = 0, i;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (i + 1 >= argc)
			return usage("an option needs a value, and the command comes after --");
		if (strcmp(a, "--cgroup-procs") == 0)
			procs = argv[++i];
		else if (strcmp(a, "--label") == 0)
			label = argv[++i];
		else if (strcmp(a, "--ro") == 0) {
			if (nro == MAX_RO)
				return usage("too many --ro paths");
			ro[nro++] = argv[++i];
		} else if (strcmp(a, "--user") == 0)
			user = argv[++i];
		else if (strcmp(a, "--group") == 0)
			group = argv[++i];
		else if (strcmp(a, "--groups") == 0)
			groups_arg = argv[++i];
		else if (strcmp(a, "--keep") == 0)
			keep_arg = argv[++i];
		else
			return usage("unknown option");
	}
	if (i >= argc)
		return usage("no command");
	char **command = argv + i;
	int last = last_cap();

	uint64_t keep = 0;
	if (keep_arg && *keep_arg) {
		char *copy = strdup(keep_arg), *save = NULL;
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			int cap = cap_parse(t, last);
			if (cap < 0) {
				fprintf(stderr, "agentguard sandbox: unknown capability '%s' (names as in capabilities(7),"
					" e.g. net_bind_service or CAP_NET_BIND_SERVICE)\n", t);
				return 125;
			}
			keep |= 1ull << cap;
		}
		free(copy);
	}

	/* who the command runs as: the caller's ids unless told */
	uid_t uid = getuid();
	gid_t gid = getgid();
	if (user) {
		uint32_t id;
		struct passwd *pw = getpwnam(user);
		if (pw) {
			uid = pw->pw_uid;
			gid = pw->pw_gid;
		} else if (id_parse(user, &id) == 0) {
			uid = id;
			pw = getpwuid(uid);
			gid = pw ? pw->pw_gid : id;
		} else {
			fprintf(stderr, "agentguard sandbox: unknown user '%s' (a name from the user database or a"
				" number)\n", user);
			return 125;
		}
	}
	if (group && group_parse(group, &gid) != 0) {
		fprintf(stderr, "agentguard sandbox: unknown group '%s'\n", group);
		return 125;
	}
	gid_t groups[MAX_GROUPS];
	int ngroups = 0;
	if (groups_arg && *groups_arg) {
		char *copy = strdup(groups_arg), *save = NULL;
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			if (ngroups == MAX_GROUPS)
				return usage("too many --groups");
			if (group_parse(t, &groups[ngroups++]) != 0) {
				fprintf(stderr, "agentguard sandbox: unknown group '%s'\n", t);
				return 125;
			}
		}
		free(copy);
	}

	/* 1. into the agent cgroup, while we may still write its cgroup.procs */
	if (procs) {
		int fd = open(procs, O_WRONLY | O_CLOEXEC);
		char pid[24];
		int len = snprintf(pid, sizeof(pid), "%d\n", getpid());
		if (fd < 0 || write(fd, pid, len) != len)
			return fail("cannot join the agent cgroup through %s: %s", procs, strerror(errno));
		close(fd);
	}
	/* 2. read-only guard paths in a mount namespace of our own */
	if (nro > 0) {
		if (unshare(CLONE_NEWNS) != 0)
			return fail("unshare(CLONE_NEWNS): %s", strerror(errno));
		if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) != 0)
			return fail("making the mount namespace a slave: %s", strerror(errno));
		for (int k = 0; k < nro; k++)
			if (access(ro[k], F_OK) == 0 && make_read_only(ro[k]) != 0)
				return fail("cannot make %s read-only: %s", ro[k], strerror(errno));
	}
	/* the bounding set first: dropping needs CAP_SETPCAP in the effective set, which a change to
	 * a non-zero uid clears; it takes nothing that setgroups/setresuid below need */
	for (int cap = 0; cap <= last; cap++)
		if (!((keep >> cap) & 1) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
			char buf[16];
			return fail("dropping %s from the bounding set: %s", cap_name(cap, buf, sizeof(buf)),
				    strerror(errno));
		}
	/* 3. groups, gid, uid; KEEPCAPS so a kept capability outlives the uid change */
	if (setgroups(ngroups, groups) != 0)
		return fail("setgroups: %s", strerror(errno));
	if (keep && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
		return fail("PR_SET_KEEPCAPS: %s", strerror(errno));
	if (setresgid(gid, gid, gid) != 0)
		return fail("setresgid(%u): %s", gid, strerror(errno));
	if (setresuid(uid, uid, uid) != 0)
		return fail("setresuid(%u): %s", uid, strerror(errno));
	/* 4. the rest of the capabilities, now that the uid change is done */
	if (capset_sets(keep) != 0)
		return fail("capset: %s", strerror(errno));
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0)
		return fail("clearing the ambient set: %s", strerror(errno));
	for (int cap = 0; cap <= last; cap++)
		if (((keep >> cap) & 1) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0) {
			char buf[16];
			return fail("raising %s in the ambient set: %s", cap_name(cap, buf, sizeof(buf)), strerror(errno));
		}
	if (keep && prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0)
		return fail("PR_SET_KEEPCAPS off: %s", strerror(errno));
	/* 5. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return fail("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	/* 6. */
	if (verify(keep, last, uid, gid, groups, ngroups, ro, nro) != 0)
		return 126;

	int total = last + 1, kept = __builtin_popcountll(keep);
	char line[2048];
	int len = snprintf(line, sizeof(line), "agentguard sandbox: %s%suid %u, gid %u, capabilities dropped: ",
			   label ? label : "", label ? ", " : "", uid, gid);
	if (kept == 0)
		len += snprintf(line + len, sizeof(line) - len, "all %d", total);
	else
		len += snprintf(line + len, sizeof(line) - len, "%d of %d", total - kept, total);
	len += snprintf(line + len, sizeof(line) - len, " (bounding, effective, permitted, inheritable, ambient)");
	if (kept) {
		len += snprintf(line + len, sizeof(line) - len, ", kept:");
		for (int cap = 0; cap <= last; cap++)
			if ((keep >> cap) & 1) {
				char buf[16];
				len += snprintf(line + len, sizeof(line) - len, " %s", cap_name(cap, buf, sizeof(buf)));
			}
	}
	len += snprintf(line + len, sizeof(line) - len, ", no_new_privs, supplementary groups %s",
			ngroups ? "set" : "cleared");
	if (nro)
		len += snprintf(line + len, sizeof(line) - len, ", read-only: %d guard paths", nro);
	fprintf(stderr, "%s\n", line);
	execvp(command[0], command);
	fprintf(stderr, "agentguard sandbox: cannot run %s: %s\n", command[0], strerror(errno));
	return 127;
}
