package io.agentguard.process;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * Where the host's file system is, as the daemon reaches it (config {@code host_root}): "/"
 * for the .deb, the host's root through {@code /proc/1/root} for the daemon in a container
 * (host PID namespace), whose own "/" is the image. Host programs, loaders and exec deny
 * paths are looked up under it, so their (dev, ino) are the host's files, which are what
 * the BPF programs see executed; paths shown to users stay host paths.
 *
 * <p>Symlinks are followed inside the root: an absolute target ({@code /lib64/ld-linux-x86-64.so.2
 * -> /lib/x86_64-linux-gnu/...}, {@code /etc/alternatives/nc -> /bin/nc.openbsd}) is the
 * host's path, which the kernel would resolve against the daemon's own root instead. Off the
 * hot path: start, reload, the periodic recheck, loader execs.
 */
public record HostRoot(Path root) {
    /** The daemon's root is the host's (the .deb, systemd). */
    public static final HostRoot SLASH = new HostRoot(Path.of("/"));
    /** The default of host_root where the configuration has none (the container image sets it). */
    public static final String ENV = "AGENTGUARD_HOST_ROOT";
    /** As the kernel's MAXSYMLINKS: a loop is no file. */
    private static final int MAX_SYMLINKS = 40;

    public HostRoot {
        root = root.toAbsolutePath().normalize();
    }

    public static HostRoot of(String root) {
        return root.equals("/") ? SLASH : new HostRoot(Path.of(root));
    }

    public boolean isSlash() {
        return root.getNameCount() == 0;
    }

    /** The file an absolute host path names, as this process opens it (symlinks resolved inside the root). */
    public Path resolve(String hostPath) {
        if (isSlash()) {
            return Path.of(hostPath);
        }
        Deque<String> todo = new ArrayDeque<>(List.of(hostPath.split("/")));
        List<String> at = new ArrayList<>();   // the host path resolved so far: no symlink in it
        int links = 0;
        while (!todo.isEmpty()) {
            String c = todo.removeFirst();
            if (c.isEmpty() || c.equals(".")) {
                continue;
            }
            if (c.equals("..")) {
                if (!at.isEmpty()) {
                    at.removeLast();   // the parent of "/" is "/", as in any root
                }
                continue;
            }
            Path next = under(at).resolve(c);
            if (Files.isSymbolicLink(next)) {
                String target;
                try {
                    target = Files.readSymbolicLink(next).toString();
                } catch (IOException | RuntimeException e) {
                    return next;
                }
                if (++links > MAX_SYMLINKS) {
                    return next;
                }
                List<String> parts = List.of(target.split("/"));
                for (int i = parts.size() - 1; i >= 0; i--) {
                    todo.addFirst(parts.get(i));
                }
                if (target.startsWith("/")) {
                    at.clear();
                }
            } else {
                at.add(c);
            }
        }
        return under(at);
    }

    /** {@link #resolve(String)} of a host path. */
    public Path resolve(Path hostPath) {
        return resolve(hostPath.toString());
    }

    private Path under(List<String> parts) {
        return parts.isEmpty() ? root : root.resolve(String.join("/", parts));
    }

    /** A path under the root as the host names it ("/proc/1/root/usr/bin/ssh" is "/usr/bin/ssh"). */
    public Path hostPath(Path local) {
        if (isSlash() || !local.startsWith(root)) {
            return local;
        }
        return Path.of("/").resolve(root.relativize(local));
    }

    @Override
    public String toString() {
        return root.toString();
    }
}
