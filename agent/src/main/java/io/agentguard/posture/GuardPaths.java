package io.agentguard.posture;

import io.agentguard.config.AgentConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The files the guard's guarantees rest on, and who can write them. Two checks:
 * {@link #unsafe}, the owner and mode of each path and of every directory above it (anyone
 * who can write one can replace the configuration, the rules, the pins), and
 * {@link #writableBy}, whether a given process (an agent's) can write them through its own
 * mounts (read-only or absent mounts make a path safe whatever its mode).
 *
 * @param paths what each path is ("configuration", "rules", ...) and where
 */
public record GuardPaths(List<Guarded> paths) {
    /** A path the guard relies on: what it is, where, and whether a directory's entries count too. */
    public record Guarded(String what, Path path) {
    }

    private static final int S_ISVTX = 01000;

    /**
     * The configuration file (null when the embedded default is in use), rule files and
     * directories, the spool, the runtime directory (status socket, lock), the pin directory,
     * and the cgroupfs files that move processes between cgroups or freeze the daemon.
     */
    public static GuardPaths of(AgentConfig config, Path configFile, Path cgroupMount, String daemonCgroup) {
        List<Guarded> out = new ArrayList<>();
        if (configFile != null) {
            out.add(new Guarded("configuration", configFile.toAbsolutePath()));
        }
        for (String r : config.rulePaths()) {
            out.add(new Guarded("rules", Path.of(r).toAbsolutePath()));
        }
        if (config.report() != null && config.report().spoolDir() != null && !config.report().spoolDir().isEmpty()) {
            out.add(new Guarded("spool", Path.of(config.report().spoolDir()).toAbsolutePath()));
        }
        out.add(new Guarded("runtime directory", Path.of(config.runtimeDir()).toAbsolutePath()));
        if (!config.pinPath().isEmpty()) {
            out.add(new Guarded("pins (bpffs)", Path.of(config.pinPath())));
        }
        out.add(new Guarded("cgroupfs: the root cgroup's cgroup.procs, which moves any process anywhere",
                cgroupMount.resolve("cgroup.procs")));
        if (daemonCgroup != null && !daemonCgroup.isEmpty() && !daemonCgroup.equals("/")) {
            Path own = cgroupMount.resolve(daemonCgroup.substring(1));
            out.add(new Guarded("cgroupfs: the daemon's cgroup.freeze", own.resolve("cgroup.freeze")));
            out.add(new Guarded("cgroupfs: the daemon's cgroup.procs", own.resolve("cgroup.procs")));
        }
        return new GuardPaths(List.copyOf(out));
    }

    /** The daemon's own cgroup v2 path ("/system.slice/agentguard.service"), or "" when unknown. */
    public static String ownCgroup() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/cgroup"))) {
                if (line.startsWith("0::")) {
                    return line.substring(3);
                }
            }
        } catch (IOException e) {
            // no cgroup v2 line: the cgroupfs targets of the daemon's own cgroup are left out
        }
        return "";
    }

    /**
     * Paths that someone other than root and the daemon's user could write or replace: group or
     * other writable (a sticky directory aside), or owned by another uid; the path itself, the
     * entries of a guarded directory, and every directory above. One line each:
     * "configuration /etc/x.yaml: writable by others (mode 0666)".
     */
    public List<String> unsafe(int daemonUid) {
        Set<String> out = new LinkedHashSet<>();
        for (Guarded g : paths) {
            if (g.what().startsWith("cgroupfs") || !Files.exists(g.path())) {
                continue;   // cgroupfs: the kernel's own files, judged per process by writableBy
            }
            Path real;
            try {
                real = g.path().toRealPath();
            } catch (IOException e) {
                continue;
            }
            String self = problem(real, daemonUid);
            if (self != null) {
                out.add(g.what() + " " + g.path() + ": " + self);
            }
            if (Files.isDirectory(real) && !g.what().startsWith("pins")) {
                try (Stream<Path> entries = Files.list(real)) {
                    for (Path e : entries.sorted().toList()) {
                        String p = problem(e, daemonUid);
                        if (p != null) {
                            out.add(g.what() + " " + e + ": " + p);
                        }
                    }
                } catch (IOException e) {
                    out.add(g.what() + " " + g.path() + ": cannot be listed (" + e.getMessage() + ")");
                }
            }
            for (Path d = real.getParent(); d != null; d = d.getParent()) {
                String p = problem(d, daemonUid);
                if (p != null) {
                    out.add(g.what() + " " + g.path() + ": directory " + d + " " + p);
                }
            }
        }
        return List.copyOf(out);
    }

    /** What is wrong with one file or directory's owner or mode, or null. */
    private static String problem(Path p, int daemonUid) {
        try {
            int mode = (int) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
            int uid = (int) Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS);
            int gid = (int) Files.getAttribute(p, "unix:gid", LinkOption.NOFOLLOW_LINKS);
            boolean stickyDir = Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) && (mode & S_ISVTX) != 0;
            String octal = String.format("mode %04o", mode & 07777);
            if (uid != 0 && uid != daemonUid) {
                return "is owned by uid " + uid + " (" + octal + ")";
            }
            if ((mode & 0002) != 0 && !stickyDir) {
                return "is writable by others (" + octal + ")";
            }
            if ((mode & 0020) != 0 && !stickyDir) {
                return "is writable by group " + gid + " (" + octal + ")";
            }
            return null;
        } catch (IOException | UnsupportedOperationException e) {
            return null;   // gone meanwhile
        }
    }

    /**
     * The guard paths a process with these credentials and mounts can write or replace:
     * visible through a mount that is not read-only, and writable by the kernel's DAC rules
     * (the file itself, or a directory above it on the same mount). One line each.
     */
    public List<String> writableBy(Credentials c, MountTable processMounts, MountTable hostMounts) {
        List<String> out = new ArrayList<>();
        for (Guarded g : paths) {
            if (!Files.exists(g.path())) {
                continue;
            }
            try {
                Path real = g.path().toRealPath();
                MountTable.FsLocation where = hostMounts.locate(real);
                MountTable.Visible view = where == null ? null : processMounts.writableView(where);
                if (view == null) {
                    continue;   // read-only or not visible to the process
                }
                if (mayWrite(c, real)) {
                    out.add(g.path() + " (" + g.what() + ")");
                    continue;
                }
                if (g.what().startsWith("cgroupfs")) {
                    continue;   // cgroupfs files cannot be replaced, only written
                }
                // a directory above it, as far as the same mount goes, lets it be replaced
                Path inProcess = Path.of(view.path());
                Path mountPoint = Path.of(view.mount().point());
                Path d = real.getParent();
                for (Path pd = inProcess.getParent(); d != null && pd != null && pd.startsWith(mountPoint);
                     pd = pd.getParent(), d = d.getParent()) {
                    if (mayReplaceIn(c, d)) {
                        out.add(g.path() + " (" + g.what() + ", replaceable through " + d + ")");
                        break;
                    }
                }
            } catch (IOException e) {
                // gone meanwhile
            }
        }
        return out;
    }

    private static boolean mayWrite(Credentials c, Path p) throws IOException {
        return c.mayWrite((int) Files.getAttribute(p, "unix:uid"), (int) Files.getAttribute(p, "unix:gid"),
                (int) Files.getAttribute(p, "unix:mode"));
    }

    /** Entries of a directory can be renamed or removed: it is writable, and not sticky against this user. */
    private static boolean mayReplaceIn(Credentials c, Path dir) throws IOException {
        int mode = (int) Files.getAttribute(dir, "unix:mode");
        int uid = (int) Files.getAttribute(dir, "unix:uid");
        boolean stickyAgainst = (mode & S_ISVTX) != 0 && uid != c.fsuid()
                && (c.nestedUserNs() || (c.capEffective() & Capabilities.bit(Capabilities.FOWNER)) == 0);
        return !stickyAgainst && c.mayWrite(uid, (int) Files.getAttribute(dir, "unix:gid"), mode);
    }
}
