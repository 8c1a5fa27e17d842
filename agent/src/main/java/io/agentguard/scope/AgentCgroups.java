package io.agentguard.scope;

import io.agentguard.bpf.MapImage;
import io.agentguard.bpf.ConfigMap;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The configured agent cgroups, resolved against the cgroup2 mount: each root's id (the
 * directory's inode number, what bpf_get_current_ancestor_cgroup_id returns) and level
 * (depth below the mount). A root inside another root is dropped: the outer one covers it.
 */
public final class AgentCgroups {
    /** One agent cgroup root. */
    public record Root(String relativePath, Path directory, long id, int level) {
    }

    private final Path mount;
    private final List<Root> roots;

    private AgentCgroups(Path mount, List<Root> roots) {
        this.mount = mount;
        this.roots = List.copyOf(roots);
    }

    /**
     * @param relativePaths paths relative to the mount ("agents" or "/agents.slice/x")
     * @param create        create missing cgroups instead of failing
     */
    public static AgentCgroups resolve(Path mount, List<String> relativePaths, boolean create) {
        List<Root> roots = new ArrayList<>();
        for (String raw : relativePaths) {
            String relative = normalize(raw);
            Path dir = relative.isEmpty() ? mount : mount.resolve(relative);
            if (!Files.isDirectory(dir)) {
                if (!create) {
                    throw new IllegalArgumentException("cgroup '" + raw + "' not found under the cgroup2 mount " + mount
                            + ": create it (mkdir " + dir + ") or fix the agent cgroup setting");
                }
                try {
                    Files.createDirectories(dir);
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot create cgroup " + dir + ": " + e.getMessage(), e);
                }
            }
            if (!Files.exists(dir.resolve("cgroup.procs"))) {
                throw new IllegalArgumentException(dir + " is not a cgroup v2 directory (no cgroup.procs)");
            }
            int level = relative.isEmpty() ? 0 : relative.split("/").length;
            roots.add(new Root(relative, dir, inode(dir), level));
        }
        List<Root> kept = new ArrayList<>();
        for (Root r : roots) {
            boolean covered = roots.stream().anyMatch(o -> o != r && (r.relativePath.startsWith(o.relativePath + "/")
                    || o.relativePath.isEmpty() && !r.relativePath.isEmpty()
                    || o.relativePath.equals(r.relativePath) && roots.indexOf(o) < roots.indexOf(r)));
            if (!covered) {
                kept.add(r);
            }
        }
        return new AgentCgroups(mount, kept);
    }

    static String normalize(String path) {
        String p = path.trim();
        while (p.startsWith("/")) {
            p = p.substring(1);
        }
        while (p.endsWith("/")) {
            p = p.substring(0, p.length() - 1);
        }
        if (p.contains("..")) {
            throw new IllegalArgumentException("agent cgroup path '" + path + "' must not contain '..'");
        }
        return p;
    }

    public static long inode(Path dir) {
        try {
            return ((Number) Files.getAttribute(dir, "unix:ino")).longValue();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot stat " + dir, e);
        }
    }

    public Path mount() {
        return mount;
    }

    public List<Root> roots() {
        return roots;
    }

    /**
     * Puts the roots in ag_scope_roots (and their levels in the config), then removes roots a
     * previous run left in adopted maps: added first, so the scope never has a gap.
     */
    public void writeScope(MapImage scopeRoots, ConfigMap config) {
        Set<Long> ids = new HashSet<>();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment key = a.allocate(8, 8);
            MemorySegment value = a.allocate(4, 4);
            for (Root root : roots) {
                key.set(JAVA_LONG, 0, root.id());
                scopeRoots.update(key, value);
                ids.add(root.id());
            }
        }
        config.scope(levelMask());
        scopeRoots.deleteIf(key -> !ids.contains(key.get(JAVA_LONG, 0)));
    }

    /** Bit N set when some root sits at level N (what the BPF scope check walks). */
    public long levelMask() {
        long mask = 0;
        for (Root r : roots) {
            mask |= 1L << r.level;
        }
        return mask;
    }

    /**
     * argv that runs COMMAND inside the cgroup directory: a shell moves itself in, then execs
     * COMMAND, so that COMMAND's own exec already happens inside.
     */
    public static List<String> argvInside(Path cgroupDirectory, List<String> command) {
        List<String> argv = new ArrayList<>(List.of("/bin/sh", "-c", "echo $$ > \"$0\" && exec \"$@\"",
                cgroupDirectory.resolve("cgroup.procs").toString()));
        argv.addAll(command);
        return argv;
    }
}
