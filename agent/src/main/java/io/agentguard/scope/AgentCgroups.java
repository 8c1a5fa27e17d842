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
 *
 * <p>Patterns of cgroup policies (policies.cgroups[].cgroup) go into the same kernel pattern
 * list, ahead of the agent_cgroups patterns: the kernel keeps the first pattern that matches a
 * new cgroup, so a cgroup both match is recorded under the policy's pattern (which then picks
 * its policy, hooks.bpf.h policy_slot). A policy pattern must lie inside the agent cgroups
 * ({@link CgroupPattern#within}), so recording its matches never widens the scope.
 */
public final class AgentCgroups {
    /** One agent cgroup root. */
    public record Root(String relativePath, Path directory, long id, int level) {
    }

    private final Path mount;
    private final List<Root> fixed;
    private volatile List<Root> roots;
    private final List<CgroupPattern> patterns;
    /** Per kernel pattern: an agent_cgroups pattern (programs attached above it, its depth a scope level). */
    private final boolean[] scope;
    /** Per kernel pattern: the pattern of some cgroup policy. */
    private final boolean[] policy;
    /** Cgroup id -> pattern index, of the cgroups the start-up walk matched. */
    private final Map<Long, Integer> matchedAtStart = new HashMap<>();

    private AgentCgroups(Path mount, List<Root> roots, KernelPatterns kernel) {
        this.mount = mount;
        this.fixed = List.copyOf(roots);
        this.roots = this.fixed;
        this.patterns = kernel.patterns();
        this.scope = new boolean[patterns.size()];
        this.policy = new boolean[patterns.size()];
        for (int i = 0; i < patterns.size(); i++) {
            scope[i] = kernel.agentPatterns().contains(patterns.get(i));
            policy[i] = kernel.policyPatterns().contains(patterns.get(i));
        }
        this.kernel = kernel;
    }

    private final KernelPatterns kernel;

    /** The kernel's pattern list and how a cgroup path is matched by it (for the policy view). */
    public KernelPatterns kernelPatterns() {
        return kernel;
    }

    /** Without cgroup policies by pattern. */
    public static AgentCgroups resolve(Path mount, List<String> relativePaths, boolean create) {
        return resolve(mount, relativePaths, List.of(), create);
    }

    /**
     * @param relativePaths  paths relative to the mount ("agents" or "/agents.slice/x")
     * @param policyCgroups  the cgroups of the cgroup policies, in file order (patterns among them are matched too)
     * @param create         create missing cgroups instead of failing
     */
    public static AgentCgroups resolve(Path mount, List<String> relativePaths, List<String> policyCgroups,
                                       boolean create) {
        List<Root> roots = new ArrayList<>();
        KernelPatterns kernel = KernelPatterns.of(relativePaths, policyCgroups);
        for (String raw : relativePaths) {
            if (CgroupPattern.isPattern(raw)) {
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
        if (kernel.patterns().size() > KernelAbi.AG_SCOPE_PATTERNS) {
            throw new IllegalArgumentException("more than " + KernelAbi.AG_SCOPE_PATTERNS
                    + " cgroup patterns (agent_cgroups and policies.cgroups together)");
        }
        for (CgroupPattern p : kernel.policyPatterns()) {
            boolean inside = kernel.agentPatterns().stream().anyMatch(p::within)
                    || kept.stream().anyMatch(r -> p.within(r.relativePath()));
            if (!inside) {
                // its matches would be out of scope (no hook looks at them): a policy that governs nothing
                throw new IllegalArgumentException("policy for cgroup pattern '" + p.text() + "' is outside every agent"
                        + " cgroup: every cgroup it matches must lie inside a fixed agent cgroup or match an agent_cgroups"
                        + " pattern (component by component, e.g. 'job_gpu*' inside 'job_*'); add it to agent_cgroups");
            }
        }
        return new AgentCgroups(mount, kept, kernel);
    }

    /** The fixed (configured by path) roots. */
    public List<Root> fixedRoots() {
        return fixed;
    }

    /** The kernel's patterns: the cgroup policies' patterns, then agent_cgroups' (index = kernel pattern index). */
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
                    boolean isFixed = fixed.stream().anyMatch(r -> r.id() == id);
                    // a policy pattern's match is recorded inside a fixed root too, as the kernel's mkdir does:
                    // the entry names its policy (a fixed root itself keeps value 0: KernelPatterns.indexOf)
                    if (isFixed || covered && !policy[i] || matchedAtStart.containsKey(id)) {
                        continue;
                    }
                    key.set(JAVA_LONG, 0, id);
                    value.set(JAVA_INT, 0, i + 1);
                    scopeRoots.update(key, value);
                    matchedAtStart.put(id, i);
                    if (!covered) {
                        all.add(new Root(relative, dir, id, pattern(i).depth()));
                    }
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
        for (int i = 0; i < patterns.size(); i++) {
            if (!scope[i]) {
                continue;   // a policy-only pattern lies inside the agent cgroups: programs are attached above it
            }
            CgroupPattern p = patterns.get(i);
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

    /**
     * Bit N set for every agent_cgroups pattern of depth N: where the kernel's matched roots sit.
     * A policy-only pattern's matches lie in scope through an agent pattern at the same depth or
     * a root above: no level of their own (policy_levels has theirs).
     */
    public long patternLevelMask() {
        long mask = 0;
        for (int i = 0; i < patterns.size(); i++) {
            if (scope[i]) {
                mask |= 1L << patterns.get(i).depth();
            }
        }
        return mask;
    }

    /** Kernel index of a policy's pattern, -1 when the kernel does not match it (added since start). */
    public int patternIndex(String text) {
        for (int i = 0; i < patterns.size(); i++) {
            if (patterns.get(i).text().equals(text)) {
                return i;
            }
        }
        return -1;
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
