package io.agentguard.enforce;

import io.agentguard.abi.KernelAbi.Maps;
import io.agentguard.bpf.BpfMap;
import io.agentguard.bpf.ConfigMap;
import io.agentguard.config.AgentConfig;
import io.agentguard.config.Policies;
import io.agentguard.config.Policy;
import io.agentguard.log.Log;
import io.agentguard.scope.AgentCgroups;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Owns what is in force: the global mode, the default and cgroup policies, and the
 * temporary destination blocks that block_destination actions add. Every change (start,
 * reload, a block, a block expiring) places the policies on their cgroups and writes them
 * to the kernel as one generation switch ({@link PolicyMaps}); a change that fails leaves
 * the policies in force as they were. Thread-safe: the enforcer thread blocks, housekeeping
 * expires, SIGHUP reloads.
 */
public final class PolicyController implements Enforcer.Blocker {
    private final AgentCgroups cgroups;
    private final boolean createMissingCgroups;
    private final boolean selfProtection;
    private final ConfigMap config;
    private final PolicyMaps maps;
    private final Log log;
    private Policy defaultPolicy;
    private List<Policy> cgroupPolicies;
    private boolean globalEnforce;
    private boolean closed;
    /** Temporary denies from block_destination actions: cgroup path -> entries with their expiry. */
    private final Map<String, List<Block>> blocks = new LinkedHashMap<>();

    private record Block(Policy.EgressEntry entry, long expiresAtNs) {
    }

    /** @param maps the loaded object's maps by name; nothing is in force until {@link #apply()} */
    public PolicyController(AgentConfig settings, AgentCgroups cgroups, ConfigMap config, Function<String, BpfMap> maps,
                            Log log) {
        this.cgroups = cgroups;
        this.createMissingCgroups = settings.createMissingCgroups();
        this.selfProtection = settings.selfProtection();
        this.config = config;
        this.log = log;
        this.defaultPolicy = settings.defaultPolicy();
        this.cgroupPolicies = List.copyOf(settings.cgroupPolicies());
        this.globalEnforce = settings.enforce();
        this.maps = new PolicyMaps(maps.apply(Maps.POLICIES), maps.apply(Maps.POLICY_ROOTS), maps.apply(Maps.EGRESS),
                maps.apply(Maps.EXEC_DENY_NAMES), maps.apply(Maps.EXEC_DENY_PATHS), maps.apply(Maps.EXEC_DENY_EXES),
                maps.apply(Maps.COMPUTE_EXES), config.generation(), config::policy,
                settings.hostRoot());
        this.loaderMap = maps.apply(Maps.EXEC_LOADERS);
        this.births = PolicySnapshot.directoryCtime(cgroups.mount());
        this.shellNameMap = maps.apply(Maps.SHELL_NAMES);
        this.shellExeMap = maps.apply(Maps.SHELL_EXES);
        this.sshExeMap = maps.apply(Maps.SSH_EXES);
        this.host = settings.hostRoot();
    }

    /** Where the host's files are (host_root): programs, loaders, deny paths are looked up under it. */
    private final io.agentguard.process.HostRoot host;

    /** The host root the exec deny paths and programs are resolved under. */
    public io.agentguard.process.HostRoot hostRoot() {
        return host;
    }

    /** The host's ssh for egress.protocols (SshClients), as last resolved. */
    private List<FileIdentity> sshClients = List.of();
    private final BpfMap sshExeMap;

    /** Shells and socket relays for egress.shells (ShellPrograms), as last resolved. */
    private List<FileIdentity> shells = List.of();
    private final BpfMap shellNameMap;
    private final BpfMap shellExeMap;

    /** Resolves the shells again; writes only on a change (an upgraded bash is a new inode). */
    private void writeShells(boolean always) {
        List<FileIdentity> now = ShellPrograms.find(host);
        List<String> ids = now.stream().map(f -> f.dev() + ":" + f.ino()).sorted().toList();
        if (always || !ids.equals(shells.stream().map(f -> f.dev() + ":" + f.ino()).sorted().toList())) {
            ShellPrograms.write(shellNameMap, shellExeMap, now);
            shells = now;
        }
        List<FileIdentity> ssh = SshClients.find(host);
        if (always || !ssh.equals(sshClients)) {
            SshClients.write(sshExeMap, ssh);
            sshClients = ssh;
        }
    }

    /** What the deny paths named when last written, and the loaders: the recheck compares with them. */
    private List<String> resolvedDenyFiles = List.of();
    private List<ExecLoaders.Found> loaders = List.of();
    private final BpfMap loaderMap;
    private final List<Runnable> listeners = new ArrayList<>();
    /** What the rule fields read: replaced (one volatile write) after every change of the policies in force. */
    private volatile PolicySnapshot view = PolicySnapshot.of(false, io.agentguard.config.Policies.SAFE_DEFAULT,
            List.of(), io.agentguard.process.KnownPrograms.NONE, path -> -1);
    /** The known programs, resolved at start and at each reload (not at blocks: those change no program). */
    private io.agentguard.process.KnownPrograms programs = io.agentguard.process.KnownPrograms.NONE;
    private final java.util.function.ToLongFunction<String> births;

    /** The policies in force for the rule fields (any thread; the consumer reads it per event). */
    public PolicySnapshot view() {
        return view;
    }

    /** Called after every change of the policies in force (the exec file checker takes its snapshot). */
    public synchronized void onChange(Runnable listener) {
        listeners.add(listener);
        listener.run();
    }

    /** The dynamic loaders as last resolved. */
    public synchronized List<ExecLoaders.Found> loaders() {
        return loaders;
    }

    /** The default and cgroup policies in force (not the block copies). */
    public synchronized List<Policy> policiesInForce() {
        List<Policy> all = new ArrayList<>();
        all.add(defaultPolicy);
        all.addAll(cgroupPolicies);
        return all;
    }

    /**
     * Re-resolves what the exec deny paths and the loader paths name (housekeeping): a denied
     * path replaced by a new file (a new inode), or created since, is denied by its new
     * identity from now on; an upgraded ld.so is recognised again. Writes only on a change.
     */
    public synchronized void recheckExecFiles() {
        if (closed) {
            return;
        }
        try {
            List<ExecLoaders.Found> nowLoaders = ExecLoaders.find(host);
            if (!identities(nowLoaders).equals(identities(loaders))) {
                ExecLoaders.write(loaderMap, nowLoaders);
                loaders = nowLoaders;
                log.info("exec: dynamic loaders " + nowLoaders.stream().map(f -> f.path().toString()).toList());
            }
            writeShells(false);
            if (!denyFiles().equals(resolvedDenyFiles)) {
                applyPolicies();
                log.info("exec: a denied path names another file now; identities rewritten");
            }
        } catch (RuntimeException e) {
            log.warn("exec identity recheck failed: " + e.getMessage());
        }
    }

    private static List<String> identities(List<ExecLoaders.Found> found) {
        return found.stream().map(f -> f.id().dev() + ":" + f.id().ino()).sorted().toList();
    }

    /** path=dev:ino of every exec deny path of every policy, in order. */
    private List<String> denyFiles() {
        List<String> out = new ArrayList<>();
        for (Policy p : policiesInForce()) {
            for (String path : p.execDenyPaths()) {
                FileIdentity id = FileIdentity.of(host.resolve(path));
                out.add(path + "=" + (id == null ? "-" : id.dev() + ":" + id.ino()));
            }
        }
        return out;
    }

    /** The agent is closing the maps: later changes are refused (they would write freed maps). */
    public synchronized void close() {
        closed = true;
    }

    /** Puts the configured policies in force (start). */
    public synchronized void apply() {
        if (!host.isSlash()) {
            log.info("host files (programs, loaders, exec deny paths) are looked up under host_root " + host);
        }
        programs = io.agentguard.process.KnownPrograms.resolve(host);
        loaders = ExecLoaders.find(host);
        ExecLoaders.write(loaderMap, loaders);
        writeShells(true);
        applyPolicies();
        config.tamperEnforce(selfProtection && globalEnforce);
        config.escapeKill(globalEnforce);
    }

    /**
     * Puts the mode and policies of a (re)loaded configuration in force, as one generation
     * switch. On any error the policies in force stay, and the error is returned (else null).
     */
    public synchronized String reload(AgentConfig next) {
        Policy oldDefault = defaultPolicy;
        List<Policy> oldCgroups = cgroupPolicies;
        boolean oldEnforce = globalEnforce;
        io.agentguard.process.KnownPrograms oldPrograms = programs;
        try {
            programs = io.agentguard.process.KnownPrograms.resolve(host);   // a program installed or upgraded since
            defaultPolicy = next.defaultPolicy();
            cgroupPolicies = List.copyOf(next.cgroupPolicies());
            globalEnforce = next.enforce();
            applyPolicies();
            config.tamperEnforce(selfProtection && globalEnforce);
            config.escapeKill(globalEnforce);
            log.info("policies reloaded: mode " + mode() + ", " + cgroupPolicies.size() + " cgroup policies");
            return null;
        } catch (RuntimeException e) {
            defaultPolicy = oldDefault;
            cgroupPolicies = oldCgroups;
            globalEnforce = oldEnforce;
            programs = oldPrograms;
            log.warn("policy reload failed, keeping the policies in force: " + e.getMessage());
            return e.getMessage();
        }
    }

    /** The mode and policies in force (not the block copies): what a reload is compared with. */
    public synchronized PolicyWeakening.State state() {
        return new PolicyWeakening.State(globalEnforce, defaultPolicy, cgroupPolicies);
    }

    /** Adds a cgroup policy at run time (tests). */
    public synchronized void add(Policy policy) {
        List<Policy> next = new ArrayList<>(cgroupPolicies);
        next.add(policy);
        cgroupPolicies = List.copyOf(next);
        applyPolicies();
    }

    /** Checks the policy maps against what was written and repairs them (housekeeping); see {@link PolicyMaps#verify}. */
    public List<io.agentguard.bpf.StateDrift> verifyMaps() {
        synchronized (this) {
            if (closed) {
                return List.of();
            }
        }
        return maps.verify();
    }

    /** "enforce" or "monitor": the global mode. */
    public synchronized String mode() {
        return globalEnforce ? "enforce" : "monitor";
    }

    /** The policy in force for a cgroup path: its own, the nearest ancestor's, or the default. */
    public synchronized Policy effectivePolicy(String cgroupPath) {
        Policy best = defaultPolicy;
        int bestLength = -1;
        for (Policy p : cgroupPolicies) {
            if ((cgroupPath.equals(p.cgroup()) || cgroupPath.startsWith(p.cgroup() + "/")) && p.cgroup().length() > bestLength) {
                best = p;
                bestLength = p.cgroup().length();
            }
        }
        return best;
    }

    /** Whether actions in this cgroup are carried out (rules without a mode of their own). */
    public synchronized boolean enforcing(String cgroupPath) {
        return effectivePolicy(cgroupPath).enforcing(globalEnforce);
    }

    /** block_destination: a temporary deny for the cgroup (enforcer thread); "ok" or why not. */
    @Override
    public synchronized String block(String cgroupPath, String address, int protocol, int port, long durationMs) {
        if (cgroupPath.isEmpty()) {
            return "cgroup unknown";
        }
        try {
            Policy.EgressEntry entry = PolicyMaps.denyEntry(address, protocol, port);
            blocks.computeIfAbsent(cgroupPath, k -> new ArrayList<>())
                    .add(new Block(entry, System.nanoTime() + durationMs * 1_000_000L));
            applyPolicies();
            return "ok";
        } catch (RuntimeException e) {
            blocks.computeIfPresent(cgroupPath, (k, v) -> v.size() <= 1 ? null : v.subList(0, v.size() - 1));
            return "failed: " + e.getMessage();
        }
    }

    /** Removes blocks whose time is up (housekeeping, every second). */
    public synchronized void expireBlocks() {
        long now = System.nanoTime();
        boolean changed = false;
        for (Iterator<Map.Entry<String, List<Block>>> it = blocks.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<String, List<Block>> e = it.next();
            int before = e.getValue().size();
            e.setValue(new ArrayList<>(e.getValue().stream().filter(b -> b.expiresAtNs() > now).toList()));
            changed |= e.getValue().size() != before;
            if (e.getValue().isEmpty()) {
                it.remove();
            }
        }
        if (changed) {
            try {
                applyPolicies();
                log.info("expired destination blocks removed");
            } catch (RuntimeException ex) {
                log.warn("removing expired blocks failed: " + ex.getMessage());
            }
        }
    }

    /**
     * Places the policies (a cgroup policy must lie inside an agent cgroup) and writes them
     * as a new generation, with the blocked destinations of each cgroup.
     */
    private void applyPolicies() {
        if (closed) {
            throw new IllegalStateException("the agent is stopping");
        }
        PolicyMaps.Placed defaults = new PolicyMaps.Placed(defaultPolicy, 0, 0, defaultPolicy.enforcing(globalEnforce));
        List<Policy> all = new ArrayList<>(cgroupPolicies);
        // a cgroup with blocks but no policy of its own gets a copy of its effective policy
        for (String cg : blocks.keySet()) {
            if (all.stream().noneMatch(p -> p.cgroup().equals(cg))) {
                Policy eff = effectivePolicy(cg);
                all.add(eff.withCgroup(cg));
            }
        }
        Map<Integer, List<Policy.EgressEntry>> deny = new HashMap<>();
        for (int i = 0; i < all.size(); i++) {
            List<Block> b = blocks.get(all.get(i).cgroup());
            if (b != null) {
                deny.computeIfAbsent(i + 1, k -> new ArrayList<>()).addAll(b.stream().map(Block::entry).toList());
            }
        }
        List<PolicyMaps.Placed> placed = new ArrayList<>();
        for (Policy p : all) {
            placed.add(new PolicyMaps.Placed(p, AgentCgroups.inode(directoryOf(p)), p.cgroup().split("/").length,
                    p.enforcing(globalEnforce)));
        }
        if (placed.size() > Policies.MAX_CGROUP_POLICIES) {
            throw new IllegalStateException("more than " + Policies.MAX_CGROUP_POLICIES
                    + " cgroup policies (configured plus blocked cgroups)");
        }
        List<String> denyFiles = denyFiles();   // before writing: a change during the write is seen by the next recheck
        maps.apply(defaults, placed, deny);
        resolvedDenyFiles = denyFiles;
        view = PolicySnapshot.of(globalEnforce, defaultPolicy, cgroupPolicies, programs, births, host);
        for (Runnable l : listeners) {
            l.run();
        }
    }

    /** The cgroup directory a policy applies to, created if allowed. */
    private Path directoryOf(Policy p) {
        boolean inside = cgroups.roots().stream().anyMatch(r -> r.relativePath().isEmpty()
                || p.cgroup().equals(r.relativePath()) || p.cgroup().startsWith(r.relativePath() + "/"));
        if (!inside) {
            throw new IllegalArgumentException("policy for cgroup '" + p.cgroup() + "' is outside every agent cgroup ("
                    + cgroups.roots().stream().map(AgentCgroups.Root::relativePath).toList() + ")");
        }
        Path dir = cgroups.mount().resolve(p.cgroup());
        if (!Files.isDirectory(dir)) {
            if (!createMissingCgroups) {
                throw new IllegalArgumentException("cgroup '" + p.cgroup() + "' of a policy not found under the cgroup2"
                        + " mount " + cgroups.mount() + ": create it or fix policies.cgroups");
            }
            try {
                Files.createDirectories(dir);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return dir;
    }
}
