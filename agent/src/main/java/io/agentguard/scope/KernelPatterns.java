package io.agentguard.scope;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The patterns the kernel matches new cgroups against (ag_scope_patterns), in the kernel's
 * order: the cgroup policies' patterns first (file order), then the agent_cgroups patterns not
 * already among them. The kernel records a new cgroup under the first pattern that matches its
 * path (bpf/scope.bpf.c); {@link #indexOf} is the same decision for a path, so that the rule
 * fields' policy.* agree with the kernel's policy_slot().
 *
 * @param patterns       the kernel's list (index = kernel pattern index)
 * @param agentPatterns  those from agent_cgroups
 * @param policyPatterns those of cgroup policies
 * @param fixedRoots     the fixed agent cgroups (relative paths): their scope entry is the agent's (value 0),
 *                       so no pattern is recorded for them
 */
public record KernelPatterns(List<CgroupPattern> patterns, Set<CgroupPattern> agentPatterns,
                             Set<CgroupPattern> policyPatterns, Set<String> fixedRoots) {
    public static final KernelPatterns NONE = new KernelPatterns(List.of(), Set.of(), Set.of(), Set.of());

    public KernelPatterns {
        patterns = List.copyOf(patterns);
        agentPatterns = Set.copyOf(agentPatterns);
        policyPatterns = Set.copyOf(policyPatterns);
        fixedRoots = Set.copyOf(fixedRoots);
    }

    /** From the configured agent_cgroups entries and the cgroups of the cgroup policies (both as written). */
    public static KernelPatterns of(List<String> agentCgroups, List<String> policyCgroups) {
        List<CgroupPattern> order = new ArrayList<>();
        Set<CgroupPattern> policy = new HashSet<>();
        for (String c : policyCgroups) {
            if (CgroupPattern.isPattern(c)) {
                CgroupPattern p = CgroupPattern.parse(c);
                policy.add(p);
                if (!order.contains(p)) {
                    order.add(p);
                }
            }
        }
        Set<CgroupPattern> agent = new HashSet<>();
        Set<String> fixed = new HashSet<>();
        for (String c : agentCgroups) {
            if (CgroupPattern.isPattern(c)) {
                CgroupPattern p = CgroupPattern.parse(c);
                agent.add(p);
                if (!order.contains(p)) {
                    order.add(p);
                }
            } else {
                fixed.add(AgentCgroups.normalize(c));
            }
        }
        return new KernelPatterns(order, agent, policy, fixed);
    }

    /** The kernel pattern a cgroup at this path (relative to the mount) is recorded under, or -1. */
    public int indexOf(String relativePath) {
        if (patterns.isEmpty() || fixedRoots.contains(relativePath)) {
            return -1;
        }
        for (int i = 0; i < patterns.size(); i++) {
            if (patterns.get(i).matches(relativePath)) {
                return i;
            }
        }
        return -1;
    }
}
