package io.agentguard.enforce;

import io.agentguard.config.AgentConfig;
import io.agentguard.config.AgentConfigLoader;
import io.agentguard.config.Policy;
import io.agentguard.process.KnownPrograms;
import io.agentguard.rules.PolicyView;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.ToLongFunction;

/**
 * The policies in force as the rule fields read them: an immutable copy that
 * {@link PolicyController} builds after every change of the policies in force and publishes
 * with one volatile write (the consumer thread reads it per event, lock-free, as it reads
 * the rule set). Compute executables are resolved to file identities here, as the kernel's
 * compute map holds them, so that policy.compute_granted agrees with the kernel's verdict.
 */
public final class PolicySnapshot implements PolicyView {
    private final boolean globalEnforce;
    private final Policy[] policies;        // 0: the default policy
    private final long[][] computeExes;     // per policy: dev, ino, dev, ino, ...
    private final KnownPrograms programs;
    private final ToLongFunction<String> births;   // cgroup path -> birth, wall clock ns; -1 unknown

    private PolicySnapshot(boolean globalEnforce, Policy defaultPolicy, List<Policy> cgroupPolicies,
                           KnownPrograms programs, ToLongFunction<String> births, io.agentguard.process.HostRoot host) {
        this.globalEnforce = globalEnforce;
        List<Policy> all = new ArrayList<>();
        all.add(defaultPolicy);
        all.addAll(cgroupPolicies);
        this.policies = all.toArray(Policy[]::new);
        this.computeExes = new long[policies.length][];
        for (int i = 0; i < policies.length; i++) {
            List<String> exes = policies[i].computeExecutables();
            long[] ids = new long[exes.size() * 2];
            int n = 0;
            for (String exe : exes) {
                FileIdentity id = FileIdentity.of(host.resolve(exe));
                if (id != null) {
                    ids[n++] = id.dev();
                    ids[n++] = id.ino();
                }
            }
            computeExes[i] = java.util.Arrays.copyOf(ids, n);
        }
        this.programs = programs;
        this.births = births;
    }

    /**
     * @param globalEnforce the global mode (a policy without a mode of its own takes it)
     * @param programs      the known programs as resolved at start or the last reload
     * @param births        cgroup path (relative to the cgroup2 mount) to its birth, wall clock ns, -1 if
     *                      unknown: {@link #directoryCtime} in the daemon
     */
    public static PolicySnapshot of(boolean globalEnforce, Policy defaultPolicy, List<Policy> cgroupPolicies,
                                    KnownPrograms programs, ToLongFunction<String> births) {
        return of(globalEnforce, defaultPolicy, cgroupPolicies, programs, births, io.agentguard.process.HostRoot.SLASH);
    }

    /** As above, compute_executables identified under host_root (the daemon's). */
    public static PolicySnapshot of(boolean globalEnforce, Policy defaultPolicy, List<Policy> cgroupPolicies,
                                    KnownPrograms programs, ToLongFunction<String> births, io.agentguard.process.HostRoot host) {
        return new PolicySnapshot(globalEnforce, defaultPolicy, List.copyOf(cgroupPolicies), programs, births, host);
    }

    /** A configuration's mode and policies, the known programs of this machine, no cgroup births (tests). */
    public static PolicySnapshot forTests(AgentConfig config) {
        return forTests(config, KnownPrograms.resolve(), path -> -1);
    }

    /** A configuration's mode and policies with given programs and cgroup births (tests). */
    public static PolicySnapshot forTests(AgentConfig config, KnownPrograms programs, ToLongFunction<String> births) {
        return of(config.enforce(), config.defaultPolicy(), config.cgroupPolicies(), programs, births);
    }

    /**
     * From the text of an agentguard.yaml (usually just a {@code mode:} and a
     * {@code policies:} section; everything else at its defaults), as the daemon parses it (tests).
     */
    public static PolicySnapshot forTests(String configYaml) {
        return forTests(AgentConfigLoader.parse("test-policies.yaml", configYaml));
    }

    /** The same with given programs and cgroup births (tests). */
    public static PolicySnapshot forTests(String configYaml, KnownPrograms programs, ToLongFunction<String> births) {
        return forTests(AgentConfigLoader.parse("test-policies.yaml", configYaml), programs, births);
    }

    /** Number of policies (the default one included). */
    public int size() {
        return policies.length;
    }

    public Policy policy(int index) {
        return policies[index];
    }

    public KnownPrograms programs() {
        return programs;
    }

    /** The nearest policy root at or above the cgroup, as the kernel's policy_slot() finds it. */
    @Override
    public int policyOf(String cgroupPath) {
        int best = 0;
        int bestLength = -1;
        for (int i = 1; i < policies.length; i++) {
            String root = policies[i].cgroup();
            boolean within = cgroupPath.equals(root) || cgroupPath.startsWith(root)
                    && cgroupPath.length() > root.length() && cgroupPath.charAt(root.length()) == '/';
            if (within && root.length() > bestLength) {
                best = i;
                bestLength = root.length();
            }
        }
        return best;
    }

    @Override
    public boolean enforcing(int policy) {
        return policies[policy].enforcing(globalEnforce);
    }

    @Override
    public boolean gpuGranted(int policy, int gpuIndex) {
        Policy p = policies[policy];
        if (p.gpuAll()) {
            return true;
        }
        return gpuIndex < 0 ? p.gpuAllowed() != 0 : gpuIndex < 64 && (p.gpuAllowed() & (1L << gpuIndex)) != 0;
    }

    @Override
    public boolean computeGranted(int policy, long exeDev, long exeIno) {
        if (policies[policy].computeAllowed()) {
            return true;
        }
        long[] ids = computeExes[policy];
        for (int i = 0; i < ids.length; i += 2) {
            if (ids[i] == exeDev && ids[i + 1] == exeIno && exeIno != 0) {
                return true;
            }
        }
        return false;
    }

    @Override
    public String program(long exeDev, long exeIno) {
        return programs.name(exeDev, exeIno);
    }

    @Override
    public long cgroupBirthNs(String cgroupPath) {
        return births.applyAsLong(cgroupPath);
    }

    /**
     * Births as the daemon reads them: the ctime of the cgroup's directory. cgroup2 (kernfs) keeps no creation time: a
     * kernfs inode's times are set when the inode is first instantiated, which is the first
     * path walk through the directory (measured on 6.18: mkdir alone does not instantiate
     * it, a stat or the first write to its cgroup.procs does), and stay unless kernfs keeps
     * attributes for the node (chown, xattrs), when adding a child moves them later. So this
     * is no later than the first task entering the cgroup (moving in walks the path): a file
     * written from inside the cgroup is always younger. Files inside (cgroup.controllers)
     * are worse: their inodes appear when someone first looks at them, often the daemon.
     */
    public static ToLongFunction<String> directoryCtime(Path mount) {
        return cgroupPath -> {
            try {
                FileTime ctime = (FileTime) Files.getAttribute(mount.resolve(cgroupPath), "unix:ctime");
                return ctime.to(TimeUnit.NANOSECONDS);
            } catch (java.io.IOException | RuntimeException e) {
                return -1;
            }
        };
    }
}
