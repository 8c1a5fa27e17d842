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
                maps.apply(Maps.EXEC_DENY_NAMES), maps.apply(Maps.EXEC_DENY_PATHS), maps.apply(Maps.COMPUTE_EXES),
                config.generation(), config::policy);
    }

    /** The agent is closing the maps: later changes are refused (they would write freed maps). */
    public synchronized void close() {
        closed = true;
    }

    /** Puts the configured policies in force (start). */
    public synchronized void apply() {
        applyPolicies();
        config.tamperEnforce(selfProtection && globalEnforce);
    }

    /**
     * Puts the mode and policies of a (re)loaded configuration in force, as one generation
     * switch. On any error the policies in force stay, and the error is returned (else null).
     */
    public synchronized String reload(AgentConfig next) {
        Policy oldDefault = defaultPolicy;
        List<Policy> oldCgroups = cgroupPolicies;
        boolean oldEnforce = globalEnforce;
        try {
            defaultPolicy = next.defaultPolicy();
            cgroupPolicies = List.copyOf(next.cgroupPolicies());
            globalEnforce = next.enforce();
            applyPolicies();
            config.tamperEnforce(selfProtection && globalEnforce);
            log.info("policies reloaded: mode " + mode() + ", " + cgroupPolicies.size() + " cgroup policies");
            return null;
        } catch (RuntimeException e) {
            defaultPolicy = oldDefault;
            cgroupPolicies = oldCgroups;
            globalEnforce = oldEnforce;
            log.warn("policy reload failed, keeping the policies in force: " + e.getMessage());
            return e.getMessage();
        }
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
                all.add(new Policy(cg, eff.enforce(), eff.egressDefaultDeny(), eff.egress(), eff.gpuAll(),
                        eff.gpuAllowed(), eff.computeAllowed(), eff.computeExecutables(), eff.execDenyNames(),
                        eff.execDenyPaths()));
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
        maps.apply(defaults, placed, deny);
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
