package io.agentguard.scope;

import io.agentguard.abi.KernelAbi;
import io.agentguard.bpf.BpfMap;
import io.agentguard.bpf.MapImage;
import io.agentguard.bpf.ConfigMap;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The configured agent cgroups, resolved against the cgroup2 mount: each root's id (the
 * directory's inode number, what bpf_get_current_ancestor_cgroup_id returns) and level
 * (depth below the mount). A root inside another root is dropped: the outer one covers it.
 * Entries with '*' or '?' are {@link CgroupPattern}s: the kernel adds each cgroup that later
 * gets a matching name (bpf/scope.bpf.c), the agent those that matched before it started.
 * {@link #roots()} is the fixed roots plus the start-up matches.
 */
public final class AgentCgroups {
    /** One agent cgroup root. */
    public record Root(String relativePath, Path directory, long id, int level) {
    }

    private final Path mount;
    private final List<Root> fixed;
    private volatile List<Root> roots;
    private final List<CgroupPattern> patterns;
    /** Cgroup id -> pattern index, of the cgroups the start-up walk matched. */
    private final Map<Long, Integer> matchedAtStart = new HashMap<>();

    private AgentCgroups(Path mount, List<Root> roots, List<CgroupPattern> patterns) {
        this.mount = mount;
        this.fixed = List.copyOf(roots);
        this.roots = this.fixed;
        this.patterns = List.copyOf(patterns);
    }

    /**
     * @param relativePaths paths relative to the mount ("agents" or "/agents.slice/x")
     * @param create        create missing cgroups instead of failing
     */
    public static AgentCgroups resolve(Path mount, List<String> relativePaths, boolean create) {
        List<Root> roots = new ArrayList<>();
        List<CgroupPattern> patterns = new ArrayList<>();
        for (String raw : relativePaths) {
            if (CgroupPattern.isPattern(raw)) {
                CgroupPattern p = CgroupPattern.parse(raw);
                if (!patterns.contains(p)) {
                    patterns.add(p);
                }
                continue;
            }
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
        if (patterns.size() > KernelAbi.AG_SCOPE_PATTERNS) {
            throw new IllegalArgumentException("more than " + KernelAbi.AG_SCOPE_PATTERNS + " agent cgroup patterns");
        }
        return new AgentCgroups(mount, kept, patterns);
    }

    /** The fixed (configured by path) roots. */
    public List<Root> fixedRoots() {
        return fixed;
    }

    /** The agent cgroup patterns, in configuration order (index = kernel pattern index). */
    public List<CgroupPattern> patterns() {
        return patterns;
    }

    /**
     * The cgroups below the mount that match pattern {@code index} now: a walk that descends only
     * into directories whose name matches the pattern's component at that level.
     */
    public List<Path> walk(int index) {
        CgroupPattern pattern = patterns.get(index);
        List<Path> level = List.of(mount);
        for (int depth = 0; depth < pattern.depth() && !level.isEmpty(); depth++) {
            List<Path> next = new ArrayList<>();
            for (Path dir : level) {
                try (java.util.stream.Stream<Path> children = Files.list(dir)) {
                    for (Path child : (Iterable<Path>) children::iterator) {
                        if (pattern.componentMatches(depth, child.getFileName().toString()) && Files.isDirectory(child)
                                && Files.exists(child.resolve("cgroup.procs"))) {
                            next.add(child);
                        }
                    }
                } catch (IOException | UncheckedIOException e) {
                    // removed under the walk: whatever replaces it is the kernel's to match
                }
            }
            level = next;
        }
        return level;
    }

    /**
     * Cgroups that exist now and match a pattern become roots: called once the kernel's mkdir
     * program is attached, so that a cgroup made during the walk is the kernel's, one
     * made before is the walk's, and none is no one's. Writes each to ag_scope_roots (value:
     * pattern index + 1, entries the kernel also writes and removes).
     */
    public void walkPatterns(BpfMap scopeRoots) {
        List<Root> all = new ArrayList<>(fixed);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment key = a.allocate(8, 8);
            MemorySegment value = a.allocate(4, 4);
            for (int i = 0; i < patterns.size(); i++) {
                for (Path dir : walk(i)) {
                    long id;
                    try {
                        id = inode(dir);
                    } catch (UncheckedIOException gone) {
                        continue;
                    }
                    String relative = mount.relativize(dir).toString();
                    boolean covered = fixed.stream().anyMatch(r -> r.relativePath.isEmpty()
                            || relative.equals(r.relativePath) || relative.startsWith(r.relativePath + "/"));
                    if (covered || matchedAtStart.containsKey(id)) {
                        continue;
                    }
                    key.set(JAVA_LONG, 0, id);
                    value.set(JAVA_INT, 0, i + 1);
                    scopeRoots.update(key, value);
                    matchedAtStart.put(id, i);
                    all.add(new Root(relative, dir, id, pattern(i).depth()));
                }
            }
        }
        roots = List.copyOf(all);
    }

    private CgroupPattern pattern(int index) {
        return patterns.get(index);
    }

    /**
     * Where the cgroup programs go: each fixed root, and for each pattern the deepest existing
     * directory of its literal prefix (the mount itself for "*&#47;..."); none inside another.
     * Programs attached above a root check the scope themselves (hooks.bpf.h).
     */
    public List<Root> attachPoints() {
        List<Root> points = new ArrayList<>(fixed);
        for (CgroupPattern p : patterns) {
            String prefix = p.literalPrefix();
            Path dir = prefix.isEmpty() ? mount : mount.resolve(prefix);
            while (!dir.equals(mount) && !Files.isDirectory(dir)) {
                dir = dir.getParent();
            }
            String relative = mount.relativize(dir).toString();
            points.add(new Root(relative, dir, inode(dir), relative.isEmpty() ? 0 : relative.split("/").length));
        }
        List<Root> kept = new ArrayList<>();
        for (Root r : points) {
            boolean covered = points.stream().anyMatch(o -> o != r && (o.relativePath.isEmpty() && !r.relativePath.isEmpty()
                    || !o.relativePath.isEmpty() && r.relativePath.startsWith(o.relativePath + "/")
                    || o.relativePath.equals(r.relativePath) && points.indexOf(o) < points.indexOf(r)));
            if (!covered) {
                kept.add(r);
            }
        }
        return kept;
    }

    /** Bit N set for every pattern of depth N: where the kernel's matched roots sit. */
    public long patternLevelMask() {
        long mask = 0;
        for (CgroupPattern p : patterns) {
            mask |= 1L << p.depth();
        }
        return mask;
    }

    /**
     * Writes the patterns for the kernel's mkdir program (ag_scope_patterns, the count in
     * ag_config) and their levels, before those programs are attached. Entries matched by a
     * previous run's patterns are returned: the caller deletes those the walk does not match again.
     */
    public Set<Long> writePatterns(BpfMap patternMap, BpfMap scopeRoots, ConfigMap config) {
        Set<Long> stale = new HashSet<>();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(4, 4);
            scopeRoots.forEachKey(8, k -> {
                if (scopeRoots.lookup(k, v) && v.get(JAVA_INT, 0) != 0) {
                    stale.add(k.get(JAVA_LONG, 0));
                }
            });
            MemorySegment key = a.allocate(4, 4);
            MemorySegment value = a.allocate(KernelAbi.ScopePattern.SIZEOF, 8);
            for (int i = 0; i < KernelAbi.AG_SCOPE_PATTERNS; i++) {
                value.fill((byte) 0);
                if (i < patterns.size()) {
                    byte[] text = patterns.get(i).text().getBytes(StandardCharsets.US_ASCII);
                    value.set(JAVA_INT, KernelAbi.ScopePattern.LEN, text.length);
                    value.set(JAVA_INT, KernelAbi.ScopePattern.DEPTH, patterns.get(i).depth());
                    MemorySegment.copy(text, 0, value, JAVA_BYTE, KernelAbi.ScopePattern.TEXT, text.length);
                }
                key.set(JAVA_INT, 0, i);
                patternMap.update(key, value);
            }
        }
        config.scope(levelMask(), patterns.size());
        return stale;
    }

    /** Deletes the previous run's pattern entries that this run's walk did not match. */
    public void dropStale(BpfMap scopeRoots, Set<Long> stale) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment key = a.allocate(8, 8);
            for (long id : stale) {
                if (!matchedAtStart.containsKey(id)) {
                    key.set(JAVA_LONG, 0, id);
                    scopeRoots.delete(key);
                }
            }
        }
    }

    /** One cgroup in scope by pattern now, for status. */
    public record Matched(String path, long id, String pattern) {
    }

    /**
     * The cgroups in scope by pattern now: ag_scope_roots' pattern entries, named by a walk of
     * each pattern's matches (one the walk missed is named by id).
     */
    public List<Matched> matched(BpfMap scopeRoots) {
        Map<Long, String> names = new HashMap<>();
        for (int i = 0; i < patterns.size(); i++) {
            for (Path dir : walk(i)) {
                try {
                    names.put(inode(dir), mount.relativize(dir).toString());
                } catch (UncheckedIOException gone) {
                    // removed meanwhile
                }
            }
        }
        List<Matched> out = new ArrayList<>();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(4, 4);
            scopeRoots.forEachKey(8, k -> {
                if (scopeRoots.lookup(k, v) && v.get(JAVA_INT, 0) > 0 && v.get(JAVA_INT, 0) <= patterns.size()) {
                    long id = k.get(JAVA_LONG, 0);
                    String path = names.get(id);
                    if (path == null) {
                        String absolute = io.agentguard.bpf.Libc.cgroupPathById(mount.toString(), id);
                        path = absolute == null ? "" : mount.relativize(Path.of(absolute)).toString();
                    }
                    out.add(new Matched(path, id, patterns.get(v.get(JAVA_INT, 0) - 1).text()));
                }
            });
        }
        out.sort(java.util.Comparator.comparing(Matched::path));
        return out;
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
            for (Root root : fixed) {
                key.set(JAVA_LONG, 0, root.id());
                scopeRoots.update(key, value);
                ids.add(root.id());
            }
        }
        config.scope(levelMask(), patterns.size());
        // pattern entries (value > 0) are the kernel's and the walk's: not removed here
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(4, 4);
            scopeRoots.deleteIf(key -> !ids.contains(key.get(JAVA_LONG, 0))
                    && !(scopeRoots.lookupRaw(key, v) && v.get(JAVA_INT, 0) != 0));
        }
    }

    /** Bit N set when some root sits at level N, or a pattern matches there (what the BPF scope check walks). */
    public long levelMask() {
        long mask = patternLevelMask();
        for (Root r : fixed) {
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
