// SPDX-License-Identifier: GPL-2.0-only
/*
 * sandbox_exec: the launcher behind `agentguard sandbox`. Java cannot act between fork and
 * exec, so this small program takes the keys away and then execs the agent's command:
 *
 *   sandbox_exec [--cgroup-procs FILE] [--label TEXT] [--ro PATH]... [--writable PATH]...
 *                [--user NAME|UID] [--group NAME|GID] [--groups G[,G...]] [--keep CAP[,CAP...]]
 *                -- CMD [ARGS...]
 *
 * In this order (each step needs what the later ones take away):
 *   1. writes its own pid to FILE (the agent cgroup's cgroup.procs): CMD starts inside;
 *   2. a private mount namespace (changes never propagate back) in which every --ro PATH
 *      (cgroupfs, bpffs, agentguard's config, rules, spool and runtime paths) is a read-only
 *      bind mount, submounts included: uid 0 without capabilities still owns those files,
 *      and would otherwise write them (cgroup.procs, cgroup.freeze, the config).
 *      When CMD runs as uid 0 (or keeps chown, dac_override or fowner, which get past file
 *      permissions, or setuid, which makes it uid 0 again), file permissions protect nothing of root's: a capless uid 0 could still
 *      plant a cron job, a systemd unit, a .bashrc or a new agentguard jar and get every key back
 *      later. So first, as systemd's ProtectSystem=strict, every mount is made read-only
 *      (mount_setattr(AT_RECURSIVE) on "/", kernel 5.12+; without it CMD does not run) except
 *      the writable paths: /tmp, /var/tmp, /dev/shm, the working directory when it is a
 *      workspace (see cwd_is_workspace), and every --writable PATH; /dev and /proc keep their
 *      mounts as they were, less the kernel's tunables (/proc/sys, /proc/sysrq-trigger, ...);
 *      /sys, /run, /etc, /usr, /boot, /root, /var, /home and all the rest are read-only.
 *      A --writable PATH at or inside a guard path is refused (exit 125);
 *   3. supplementary groups: cleared, or exactly --groups; then gid and uid (real, effective,
 *      saved) to --group / --user (a user's primary group when --group is absent);
 *   4. capabilities: every one not kept leaves the bounding set, then effective, permitted and
 *      inheritable become exactly the kept set, and the ambient set too (so that a kept
 *      capability survives exec for a non-root uid; it is empty when nothing is kept);
 *   5. no_new_privs: no setuid binary or file capability can give any back;
 *   6. verifies all of it, with capget/prctl and again from /proc/self/status, and the mounts
 *      with statvfs and /proc/self/mountinfo (uid 0: "/", /etc and every mount outside the
 *      writable paths, /dev and /proc read-only; each writable path and a workspace cwd
 *      writable): anything left that should not be, and it refuses to exec (exit 126).
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
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif

#define MAX_RO 64
#define MAX_OPEN 80

/* Writable for uid 0 in a read-only system when they exist and were writable before. */
static const char *const DEFAULT_WRITABLE[] = { "/tmp", "/var/tmp", "/dev/shm" };
/* Kept as they were mounted (device nodes are written whatever the mount says; /proc/self is
 * written by ordinary programs), less the kernel's tunables below. */
static const char *const KEPT_AS_MOUNTED[] = { "/dev", "/proc" };
/* Root's files that set the kernel (systemd's ProtectKernelTunables): read-only for uid 0
 * whether or not the caller names them with --ro. /sys is read-only with the rest of the tree
 * (module parameters, /sys/power/state are mode 0644 root, no capability checked). */
static const char *const KERNEL_TUNABLES[] = {
	"/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs", "/proc/acpi",
	"/proc/asound", "/proc/latency_stats", "/proc/timer_stats",
};
/* Where a workspace lives: a working directory strictly below one of these is writable for
 * uid 0 without --writable (but not a home directory itself, /home/NAME, whose dotfiles a login
 * runs). Anywhere else ("/", /etc, /usr, /root, /var/lib, /opt...) it stays read-only: an
 * allow list, so that an unforeseen place fails safe (read-only, and the line says so). */
static const char *const WORKSPACE_ROOTS[] = {
	"/tmp", "/var/tmp", "/dev/shm", "/home", "/srv", "/mnt", "/media", "/work", "/workspace", "/workspaces",
};
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))
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
		" [--writable PATH]... [--user NAME|UID] [--group NAME|GID] [--groups G[,G...]] [--keep CAP[,CAP...]]"
		" -- CMD [ARGS...]\n", why);
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

/* path is base or inside it (both absolute, no trailing slash but "/"). */
static int path_within(const char *path, const char *base)
{
	size_t len = strlen(base);
	if (strcmp(base, "/") == 0)
		return 1;
	return strncmp(path, base, len) == 0 && (path[len] == 0 || path[len] == '/');
}

/* The working directory may be written by uid 0 without --writable: see WORKSPACE_ROOTS. */
static int cwd_is_workspace(const char *cwd)
{
	for (int i = 0; i < COUNT(WORKSPACE_ROOTS); i++) {
		const char *root = WORKSPACE_ROOTS[i];
		size_t len = strlen(root);
		if (!path_within(cwd, root) || cwd[len] == 0)
			continue;
		if (strcmp(root, "/home") == 0 && !strchr(cwd + len + 1, '/'))
			return 0;
		return 1;
	}
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

/* mountinfo writes space, tab, newline and backslash as \ooo: back to the path. */
static void unescape(char *text)
{
	char *out = text;
	for (char *in = text; *in; in++)
		if (in[0] == '\\' && in[1] >= '0' && in[1] <= '3' && in[2] >= '0' && in[2] <= '7' && in[3] >= '0'
		    && in[3] <= '7') {
			*out++ = (char)((in[1] - '0') * 64 + (in[2] - '0') * 8 + (in[3] - '0'));
			in += 3;
		} else {
			*out++ = *in;
		}
	*out = 0;
}

/* Every mount point at or under path (from /proc/self/mountinfo) must be read-only, except
 * those at or under one of the exempt paths: the last mount listed at a mount point is the one
 * on top, the one a path resolves to. */
static int verify_read_only_except(const char *path, char *const *exempt, int nexempt)
{
	struct statvfs s;
	if (statvfs(path, &s) != 0 || !(s.f_flag & ST_RDONLY))
		return fail("%s is still writable in the sandbox's mount namespace", path);
	FILE *f = fopen("/proc/self/mountinfo", "r");
	if (!f)
		return fail("cannot read /proc/self/mountinfo: %s", strerror(errno));
	enum { MAX_POINTS = 4096, POINT_LEN = 1024 };
	static char points[MAX_POINTS][POINT_LEN];
	static int writable[MAX_POINTS];
	int n = 0;
	char line[8192];
	while (fgets(line, sizeof(line), f)) {
		char point[4096], opts[256];
		if (sscanf(line, "%*s %*s %*s %*s %4095s %255s", point, opts) != 2)
			continue;
		unescape(point);
		if (!path_within(point, path))
			continue;
		int skip = 0;
		for (int k = 0; k < nexempt && !skip; k++)
			skip = path_within(point, exempt[k]);
		if (skip)
			continue;
		int at = 0;
		while (at < n && strcmp(points[at], point) != 0)
			at++;
		if (at == n) {
			if (n == MAX_POINTS || strlen(point) >= POINT_LEN) {
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

static int verify_read_only(const char *path)
{
	return verify_read_only_except(path, NULL, 0);
}

/* /proc/self/status line "Name:\t<number>" in base; -1 when absent. */
static int status_number(const char *name, int base, uint64_t *out)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return -1;
	char line[256];
	size_t len = strlen(name);
	int rc = -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, name, len) == 0 && line[len] == ':') {
			*out = strtoull(line + len + 1, NULL, base);
			rc = 0;
			break;
		}
	fclose(f);
	return rc;
}

static int status_hex(const char *name, uint64_t *out)
{
	return status_number(name, 16, out);
}

static int status_dec(const char *name, uint64_t *out)
{
	return status_number(name, 10, out);
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

/* A path that stays as it was mounted (writable) when everything else is made read-only. */
struct open_path {
	char *path;
	int kept;    /* /dev, /proc: as mounted, not claimed writable */
	int cwd;     /* the working directory, writable as a workspace */
	int fd;      /* its mount tree, cloned before "/" became read-only */
};

static int by_length(const void *a, const void *b)
{
	return (int)strlen(((const struct open_path *)a)->path) - (int)strlen(((const struct open_path *)b)->path);
}

static int writable_mount(const char *path)
{
	struct statvfs s;
	return statvfs(path, &s) == 0 && !(s.f_flag & ST_RDONLY);
}

/* ProtectSystem=strict: the mount trees of the open paths are cloned as they are, "/" and every
 * mount under it become read-only, and the clones go back on top (parents first), so that each
 * open path keeps exactly the mounts and flags it had, read-only submounts included. */
static int read_only_system(struct open_path *open, int nopen)
{
	for (int k = 0; k < nopen; k++) {
		open[k].fd = (int)syscall(SYS_open_tree, AT_FDCWD, open[k].path,
					  OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
		if (open[k].fd < 0)
			return fail("cannot keep %s writable: open_tree: %s", open[k].path, strerror(errno));
	}
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
	if (syscall(SYS_mount_setattr, AT_FDCWD, "/", AT_RECURSIVE, &attr, sizeof(attr)) != 0)
		return fail("cannot make the mount tree read-only for uid 0: mount_setattr(\"/\", AT_RECURSIVE,"
			    " MOUNT_ATTR_RDONLY): %s%s; run the command as another user (--user)", strerror(errno),
			    errno == ENOSYS ? " (it needs Linux 5.12 or later)" : "");
	for (int k = 0; k < nopen; k++) {
		if (syscall(SYS_move_mount, open[k].fd, "", AT_FDCWD, open[k].path, MOVE_MOUNT_F_EMPTY_PATH) != 0)
			return fail("cannot keep %s writable: move_mount: %s", open[k].path, strerror(errno));
		close(open[k].fd);
	}
	return 0;
}

/* Step 6 for uid 0: "/", /etc and every mount outside the open paths read-only, the kernel's
 * tunables too, each writable path writable, and the working directory as the line says. */
static int verify_system(struct open_path *open, int nopen, int cwd_writable)
{
	char *exempt[MAX_OPEN];
	for (int k = 0; k < nopen; k++)
		exempt[k] = open[k].path;
	if (verify_read_only_except("/", exempt, nopen) != 0)
		return 126;
	int etc_open = 0;
	for (int k = 0; k < nopen; k++)
		etc_open |= path_within("/etc", open[k].path);
	struct statvfs s;
	if (!etc_open && (statvfs("/etc", &s) != 0 || !(s.f_flag & ST_RDONLY)))
		return fail("/etc is still writable in the sandbox's mount namespace");
	for (int i = 0; i < COUNT(KERNEL_TUNABLES); i++)
		if (access(KERNEL_TUNABLES[i], F_OK) == 0 && verify_read_only(KERNEL_TUNABLES[i]) != 0)
			return 126;
	for (int k = 0; k < nopen; k++)
		if (!open[k].kept && !writable_mount(open[k].path))
			return fail("%s should be writable but is read-only in the sandbox's mount namespace", open[k].path);
	if (cwd_writable >= 0 && writable_mount(".") != cwd_writable)
		return fail("the working directory is %s, not %s", cwd_writable ? "read-only" : "writable",
			    cwd_writable ? "writable" : "read-only");
	return 0;
}

/* snprintf that stays inside the buffer however much is appended. */
static int append(char *buf, size_t size, int len, const char *fmt, ...)
{
	if (len < 0 || (size_t)len >= size)
		return len;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + len, size - len, fmt, ap);
	va_end(ap);
	return n < 0 ? len : ((size_t)(len + n) >= size ? (int)size - 1 : len + n);
}

int main(int argc, char **argv)
{
	const char *procs = NULL, *label = NULL, *user = NULL, *group = NULL, *groups_arg = NULL, *keep_arg = NULL;
	char *ro[MAX_RO], *writable_arg[MAX_OPEN];
	int nro = 0, nwritable = 0, i;
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
		} else if (strcmp(a, "--writable") == 0) {
			if (nwritable == MAX_OPEN - COUNT(DEFAULT_WRITABLE) - COUNT(KEPT_AS_MOUNTED) - 1)
				return usage("too many --writable paths");
			writable_arg[nwritable++] = argv[++i];
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

	/* uid 0 owns the system's files, and chown, dac_override and fowner get past any owner:
	 * then only a read-only mount keeps them. setuid too: setuid(0) needs no exec, so
	 * no_new_privs does not stop it, and the command is uid 0 again */
	uint64_t past_permissions = 1ull << CAP_CHOWN | 1ull << CAP_DAC_OVERRIDE | 1ull << CAP_FOWNER | 1ull << CAP_SETUID;
	int strict = uid == 0 || (keep & past_permissions);
	/* the guard paths as the kernel resolves them: a writable path must not be one or inside one */
	char *guards[MAX_RO + COUNT(KERNEL_TUNABLES)];
	int nguards = 0;
	for (int k = 0; k < nro; k++)
		if ((guards[nguards] = realpath(ro[k], NULL)))
			nguards++;
	for (int k = 0; k < COUNT(KERNEL_TUNABLES); k++)
		if ((guards[nguards] = realpath(KERNEL_TUNABLES[k], NULL)))
			nguards++;
	struct open_path opens[MAX_OPEN];
	int nopen = 0;
	for (int k = 0; k < nwritable; k++) {
		char *real = realpath(writable_arg[k], NULL);
		if (!real) {
			fprintf(stderr, "agentguard sandbox: --writable %s: %s\n", writable_arg[k], strerror(errno));
			return 125;
		}
		if (strcmp(real, "/") == 0) {
			fprintf(stderr, "agentguard sandbox: --writable %s: that is the whole tree; name the directories the"
				" command writes\n", writable_arg[k]);
			return 125;
		}
		for (int g = 0; g < nguards; g++)
			if (path_within(real, guards[g])) {
				fprintf(stderr, "agentguard sandbox: --writable %s: %s the guard path %s, which stays read-only\n",
					writable_arg[k], strcmp(real, guards[g]) == 0 ? "is" : "is inside", guards[g]);
				return 125;
			}
		if (strict && !writable_mount(real)) {
			fprintf(stderr, "agentguard sandbox: --writable %s: is on a read-only mount already\n", writable_arg[k]);
			return 125;
		}
		opens[nopen++] = (struct open_path){ .path = real };
	}
	/* the working directory: writable for uid 0 when it is a workspace (cwd_is_workspace) */
	char cwd[4096];
	int have_cwd = getcwd(cwd, sizeof(cwd)) != NULL, cwd_writable = -1;
	if (strict) {
		for (int k = 0; k < COUNT(KEPT_AS_MOUNTED); k++)
			if (access(KEPT_AS_MOUNTED[k], F_OK) == 0)
				opens[nopen++] = (struct open_path){ .path = strdup(KEPT_AS_MOUNTED[k]), .kept = 1 };
		for (int k = 0; k < COUNT(DEFAULT_WRITABLE); k++)
			if (writable_mount(DEFAULT_WRITABLE[k]))
				opens[nopen++] = (struct open_path){ .path = strdup(DEFAULT_WRITABLE[k]) };
		if (have_cwd) {
			int inside_guard = 0;
			for (int g = 0; g < nguards; g++)
				inside_guard |= path_within(cwd, guards[g]);
			if (!inside_guard && cwd_is_workspace(cwd) && writable_mount(cwd))
				opens[nopen++] = (struct open_path){ .path = strdup(cwd), .cwd = 1 };
			/* checked where this launcher decides it: in /dev or /proc it is as mounted (-1) */
			int within_kept = 0;
			cwd_writable = 0;
			for (int k = 0; k < nopen; k++)
				if (path_within(cwd, opens[k].path)) {
					within_kept |= opens[k].kept;
					cwd_writable |= !opens[k].kept;
				}
			if (inside_guard)
				cwd_writable = 0;
			else if (!cwd_writable && within_kept)
				cwd_writable = -1;
		}
		qsort(opens, nopen, sizeof(opens[0]), by_length);
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
	/* 2. read-only guard paths (uid 0: a read-only system first) in a mount namespace of our own */
	if (nro > 0 || strict) {
		if (unshare(CLONE_NEWNS) != 0)
			return fail("unshare(CLONE_NEWNS): %s", strerror(errno));
		if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) != 0)
			return fail("making the mount namespace a slave: %s", strerror(errno));
		if (strict) {
			if (read_only_system(opens, nopen) != 0)
				return 126;
			for (int k = 0; k < COUNT(KERNEL_TUNABLES); k++)
				if (access(KERNEL_TUNABLES[k], F_OK) == 0 && make_read_only(KERNEL_TUNABLES[k]) != 0)
					return fail("cannot make %s read-only: %s", KERNEL_TUNABLES[k], strerror(errno));
		}
		for (int k = 0; k < nro; k++)
			if (access(ro[k], F_OK) == 0 && make_read_only(ro[k]) != 0)
				return fail("cannot make %s read-only: %s", ro[k], strerror(errno));
		/* the working directory was looked up before the mounts above: look it up again, so that
		 * relative paths reach the mount now on top (read-only, or the writable clone) */
		if (have_cwd && chdir(cwd) != 0)
			return fail("cannot return to the working directory %s: %s", cwd, strerror(errno));
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
	if (strict && verify_system(opens, nopen, cwd_writable) != 0)
		return 126;

	int total = last + 1, kept = __builtin_popcountll(keep);
	char line[8192];
	int len = append(line, sizeof(line), 0, "agentguard sandbox: %s%suid %u, gid %u, capabilities dropped: ",
			 label ? label : "", label ? ", " : "", uid, gid);
	if (kept == 0)
		len = append(line, sizeof(line), len, "all %d", total);
	else
		len = append(line, sizeof(line), len, "%d of %d", total - kept, total);
	len = append(line, sizeof(line), len, " (bounding, effective, permitted, inheritable, ambient)");
	if (kept) {
		len = append(line, sizeof(line), len, ", kept:");
		for (int cap = 0; cap <= last; cap++)
			if ((keep >> cap) & 1) {
				char buf[16];
				len = append(line, sizeof(line), len, " %s", cap_name(cap, buf, sizeof(buf)));
			}
	}
	len = append(line, sizeof(line), len, ", no_new_privs, supplementary groups %s", ngroups ? "set" : "cleared");
	if (strict) {
		/* the writable paths in the order given: defaults, cwd, --writable, then the kept ones */
		len = append(line, sizeof(line), len, ", read-only: everything but");
		const char *sep = " ";
		for (int pass = 0; pass < 4; pass++)
			for (int k = 0; k < nopen; k++) {
				int is_default = 0;
				for (int d = 0; d < COUNT(DEFAULT_WRITABLE); d++)
					is_default |= strcmp(opens[k].path, DEFAULT_WRITABLE[d]) == 0 && !opens[k].cwd;
				int kind = opens[k].kept ? 3 : is_default ? 0 : opens[k].cwd ? 1 : 2;
				if (kind != pass)
					continue;
				len = append(line, sizeof(line), len, "%s%s%s", sep, opens[k].path, opens[k].cwd ? " (cwd)" : "");
				sep = ", ";
			}
		if (nro)
			len = append(line, sizeof(line), len, "; also in those: %d guard paths and", nro);
		else
			len = append(line, sizeof(line), len, "; also in those:");
		len = append(line, sizeof(line), len, " the kernel's tunables (/proc/sys, /proc/sysrq-trigger...)");
		if (have_cwd && cwd_writable == 0)
			len = append(line, sizeof(line), len, "; cwd %s read-only (--writable to write it)", cwd);
	} else if (nro) {
		len = append(line, sizeof(line), len, ", read-only: %d guard paths", nro);
	}
	fprintf(stderr, "%s\n", line);
	execvp(command[0], command);
	fprintf(stderr, "agentguard sandbox: cannot run %s: %s\n", command[0], strerror(errno));
	return 127;
}
