package io.agentguard.scope;

import io.agentguard.bpf.Libc;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.function.LongFunction;
import java.util.stream.Stream;

/**
 * cgroup id to path (relative to the cgroup2 mount). Ids are directory inode numbers, so
 * an unknown id is looked up by rescanning the agent roots' subtrees (cgroups are created
 * at any time). An id that a rescan did not find is not rescanned for again before
 * {@code rescanIntervalNs}, so a burst of events from a vanished cgroup costs one walk.
 * Consumer thread only.
 */
public final class CgroupPaths implements LongFunction<String> {
    private static final int MAX_ENTRIES = 65536;

    private final AgentCgroups cgroups;
    private final Map<Long, String> byId = new HashMap<>();
    private final Set<Long> notFound = new HashSet<>();
    private final long rescanIntervalNs;
    private long lastRescanNs = Long.MIN_VALUE / 2;

    public CgroupPaths(AgentCgroups cgroups, long rescanIntervalNs) {
        this.cgroups = cgroups;
        this.rescanIntervalNs = rescanIntervalNs;
        rescan();
    }

    @Override
    public String apply(long id) {
        String path = byId.get(id);
        if (path != null) {
            return path;
        }
        long now = System.nanoTime();
        if (now - lastRescanNs >= rescanIntervalNs) {
            notFound.clear();
        }
        if (notFound.size() < 4096 && notFound.add(id)) {
            rescan();
            path = byId.get(id);
            if (path == null) {
                path = outside(id);   // outside the agent roots (where an escaping task went)
            }
        }
        return path != null ? path : "";
    }

    private String outside(long id) {
        String absolute = Libc.cgroupPathById(cgroups.mount().toString(), id);
        if (absolute == null || !absolute.startsWith(cgroups.mount().toString())) {
            return null;
        }
        String path = cgroups.mount().relativize(Path.of(absolute)).toString();
        byId.put(id, path);
        return path;
    }

    private void rescan() {
        lastRescanNs = System.nanoTime();
        if (byId.size() > MAX_ENTRIES) {
            byId.clear();
        }
        Path mount = cgroups.mount();
        for (AgentCgroups.Root root : cgroups.roots()) {
            try (Stream<Path> dirs = Files.walk(root.directory())) {
                dirs.filter(Files::isDirectory).forEach(dir -> {
                    try {
                        long id = AgentCgroups.inode(dir);
                        byId.put(id, mount.relativize(dir).toString());
                    } catch (RuntimeException ignored) {
                        // removed while walking
                    }
                });
            } catch (IOException | RuntimeException ignored) {
                // a cgroup vanished under the walk: the next rescan sees the new state
            }
        }
    }
}
