package io.agentguard.process;

import io.agentguard.enforce.FileIdentity;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a program is by identity, not by name: the files that well-known programs (SSH
 * clients, tunnel tools, shells, interpreters, downloaders, NVIDIA tools) resolve to on the
 * standard PATH directories, keyed by file system and inode. A hard link or a bind mount of
 * {@code /usr/bin/ssh} is the same inode and so is "ssh" whatever it is called; a copy is a
 * new inode and is not (proc.exe_created_in_cgroup and digests cover copies).
 *
 * <p>Resolved off the consumer thread (start, reload); immutable afterwards. {@link #name}
 * is an open-addressing lookup on two longs: no allocation, no boxing.
 */
public final class KnownPrograms {
    /** The directories searched, in PATH order. */
    public static final List<Path> PATH_DIRS = List.of(Path.of("/usr/local/sbin"), Path.of("/usr/local/bin"),
            Path.of("/usr/sbin"), Path.of("/usr/bin"), Path.of("/sbin"), Path.of("/bin"));

    /** The programs looked for; the value of proc.exe_program is the name in this list. */
    public static final List<String> NAMES = List.of("ssh", "scp", "sftp", "ssh-keyscan", "git", "curl", "wget",
            "python3", "perl", "ruby", "node", "bash", "sh", "dash", "zsh", "nc", "ncat", "netcat", "socat",
            "autossh", "sshuttle", "dbclient", "nvidia-smi", "nvidia-cuda-mps-control", "nvidia-cuda-mps-server");

    /** Nothing known (replay, tests without files). */
    public static final KnownPrograms NONE = new KnownPrograms(Map.of());

    private final long[] devs;
    private final long[] inos;
    private final String[] names;
    private final int mask;
    private final Map<String, String> described;   // name -> "dev:ino" (diagnostics, tests)

    private KnownPrograms(Map<FileIdentity, String> byIdentity) {
        int n = Integer.highestOneBit(Math.max(4, byIdentity.size() * 2 - 1)) << 1;
        devs = new long[n];
        inos = new long[n];
        names = new String[n];
        mask = n - 1;
        Map<String, String> d = new LinkedHashMap<>();
        for (Map.Entry<FileIdentity, String> e : byIdentity.entrySet()) {
            long dev = e.getKey().dev();
            long ino = e.getKey().ino();
            int i = hash(dev, ino) & mask;
            while (names[i] != null && !(devs[i] == dev && inos[i] == ino)) {
                i = (i + 1) & mask;
            }
            if (names[i] == null) {
                devs[i] = dev;
                inos[i] = ino;
                names[i] = e.getValue();
            }
            d.merge(e.getValue(), dev + ":" + ino, (a, b) -> a + "," + b);
        }
        described = Map.copyOf(d);
    }

    /** The known programs on the standard PATH directories, symlinks followed. */
    public static KnownPrograms resolve() {
        return resolve(HostRoot.SLASH);
    }

    /** The known programs on the host's standard PATH directories (under host_root: the host's ssh in a container). */
    public static KnownPrograms resolve(HostRoot host) {
        return resolve(host, PATH_DIRS, NAMES);
    }

    /** {@link #resolve(HostRoot, List, List)} in this process's root. */
    public static KnownPrograms resolve(List<Path> dirs, List<String> names) {
        return resolve(HostRoot.SLASH, dirs, names);
    }

    /**
     * Each name looked up in each directory; every file found counts (a directory earlier
     * in PATH does not hide a later one: both are the program). Where two names are the
     * same file (sh a symlink to dash, ncat and nc one binary), the earlier name in the
     * list wins.
     */
    public static KnownPrograms resolve(HostRoot host, List<Path> dirs, List<String> names) {
        Map<FileIdentity, String> found = new LinkedHashMap<>();
        for (String name : names) {
            for (Path dir : dirs) {
                FileIdentity id = FileIdentity.of(host.resolve(dir.resolve(name)));
                if (id != null) {
                    found.putIfAbsent(new FileIdentity(id.dev(), id.ino(), 0, 0), name);
                }
            }
        }
        return new KnownPrograms(found);
    }

    /** Explicit identities (tests): files (kernel dev_t and inode; size and time ignored) to names. */
    public static KnownPrograms of(Map<FileIdentity, String> identities) {
        Map<FileIdentity, String> m = new LinkedHashMap<>();
        identities.forEach((k, v) -> m.put(new FileIdentity(k.dev(), k.ino(), 0, 0), v));
        return new KnownPrograms(m);
    }

    private static int hash(long dev, long ino) {
        long h = (ino * 0x9E3779B97F4A7C15L) ^ (dev * 0xC2B2AE3D27D4EB4FL);
        return (int) (h ^ (h >>> 32));
    }

    /** The program a file is (kernel dev_t, inode), or "" when it is none of the known ones. */
    public String name(long dev, long ino) {
        if (ino == 0) {
            return "";
        }
        int i = hash(dev, ino) & mask;
        while (true) {
            String n = names[i];
            if (n == null) {
                return "";
            }
            if (devs[i] == dev && inos[i] == ino) {
                return n;
            }
            i = (i + 1) & mask;
        }
    }

    /** Name to "dev:ino[,dev:ino]" of what was found (logs, tests). */
    public Map<String, String> found() {
        return described;
    }

    @Override
    public String toString() {
        List<String> parts = new ArrayList<>();
        described.forEach((k, v) -> parts.add(k + "=" + v));
        return "KnownPrograms" + Arrays.toString(parts.toArray());
    }
}
