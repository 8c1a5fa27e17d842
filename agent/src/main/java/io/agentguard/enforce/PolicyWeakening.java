package io.agentguard.enforce;

import io.agentguard.config.Policy;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What a reload takes away: every way in which the policies after it allow what the policies
 * before it denied (or would report as denied), one line each. A reload that weakens
 * enforcement is itself a violation (issue: root in an agent cgroup edited the configuration to
 * {@code mode: monitor} and sent SIGHUP): it still goes through, an operator may mean it, but
 * it is never silent.
 *
 * <p>Compared per policy (the default, then each cgroup policy by path); a cgroup policy that
 * is gone counts as removed whatever now applies there. Additions that restrict are not listed.
 */
public final class PolicyWeakening {
    private PolicyWeakening() {
    }

    /** The policies in force and the global mode: one side of the comparison. */
    public record State(boolean enforce, Policy defaultPolicy, List<Policy> cgroupPolicies) {
    }

    /** One line per weakening, in a stable order; empty when nothing is weaker. */
    public static List<String> between(State before, State after) {
        List<String> out = new ArrayList<>();
        if (before.enforce() && !after.enforce()) {
            out.add("mode enforce -> monitor");
        }
        compare("default policy", before.defaultPolicy(), before.enforce(), after.defaultPolicy(), after.enforce(), out);
        Map<String, Policy> afterByCgroup = new LinkedHashMap<>();
        for (Policy p : after.cgroupPolicies()) {
            afterByCgroup.put(p.cgroup(), p);
        }
        for (Policy was : before.cgroupPolicies()) {
            Policy now = afterByCgroup.get(was.cgroup());
            if (now == null) {
                out.add("policy for " + was.cgroup() + " removed");
            } else {
                compare("policy for " + was.cgroup(), was, before.enforce(), now, after.enforce(), out);
            }
        }
        return out;
    }

    private static void compare(String what, Policy was, boolean wasGlobal, Policy now, boolean nowGlobal,
                                List<String> out) {
        // the global switch is listed once above; a policy's own mode only where it differs from it
        boolean wasEnforcing = was.enforcing(wasGlobal);
        boolean nowEnforcing = now.enforcing(nowGlobal);
        if (wasEnforcing && !nowEnforcing && !(wasGlobal && !nowGlobal && was.enforce() == null && now.enforce() == null)) {
            out.add(what + ": enforce -> monitor");
        }
        if (was.egressDefaultDeny() && !now.egressDefaultDeny()) {
            out.add(what + ": egress default deny -> allow");
        }
        Set<String> denies = egress(was, false);
        denies.removeAll(egress(now, false));
        if (!denies.isEmpty()) {
            out.add(what + ": egress deny entries removed " + denies);
        }
        Set<String> allows = egress(now, true);
        allows.removeAll(egress(was, true));
        if (!allows.isEmpty()) {
            out.add(what + ": egress allow entries added " + allows);
        }
        if (!was.gpuAll() && now.gpuAll()) {
            out.add(what + ": every NVIDIA device allowed");
        } else if (!was.gpuAll() && !now.gpuAll() && (now.gpuAllowed() & ~was.gpuAllowed()) != 0) {
            out.add(what + ": NVIDIA devices allowed " + devices(now.gpuAllowed() & ~was.gpuAllowed()));
        }
        if (!was.computeAllowed() && now.computeAllowed()) {
            out.add(what + ": GPU compute allowed to every process");
        } else if (!was.computeAllowed() && !now.computeAllowed()) {
            removed(what + ": GPU compute allowed to executables", now.computeExecutables(), was.computeExecutables(), out);
        }
        removed(what + ": exec deny names removed", was.execDenyNames(), now.execDenyNames(), out);
        removed(what + ": exec deny paths removed", was.execDenyPaths(), now.execDenyPaths(), out);
        removed(what + ": exec deny digests removed", was.execDenySha256(), now.execDenySha256(), out);
        if (was.execDenyFileless() && !now.execDenyFileless()) {
            out.add(what + ": fileless execs allowed");
        }
        if (was.execDenyLoader() && !now.execDenyLoader()) {
            out.add(what + ": running the dynamic loader directly allowed");
        }
        if (!was.rawSocketsAllowed() && now.rawSocketsAllowed()) {
            out.add(what + ": raw and packet sockets allowed");
        }
        if (was.unixOutsideDeny() && !now.unixOutsideDeny()) {
            out.add(what + ": Unix connects to listeners outside the agent cgroups allowed");
        }
        shellKeysWeakened(what, was, now, out);
    }

    private static void shellKeysWeakened(String what, Policy was, Policy now, List<String> out) {
        if (was.shellConnectDeny() && !now.shellConnectDeny()) {
            out.add(what + ": shells may connect out (egress.shells: allow)");
        }
        if (was.execDenySocketShell() && !now.execDenySocketShell()) {
            out.add(what + ": processes on a network socket as stdio no longer killed (exec.deny_socket_shell)");
        }
    }

    /** Entries of one kind as written (network, protocol, ports), not by object identity. */
    private static Set<String> egress(Policy p, boolean allow) {
        Set<String> out = new LinkedHashSet<>();
        for (Policy.EgressEntry e : p.egress()) {
            if (e.allow() == allow) {
                out.add(e.text());
            }
        }
        return out;
    }

    /** What `from` has that `than` lacks, listed under `line` when any. */
    private static void removed(String line, List<String> from, List<String> than, List<String> out) {
        Set<String> gone = new LinkedHashSet<>(from);
        than.forEach(gone::remove);
        if (!gone.isEmpty()) {
            out.add(line + " " + gone);
        }
    }

    private static String devices(long bits) {
        List<String> names = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
            if ((bits & (1L << i)) != 0) {
                names.add("/dev/nvidia" + i);
            }
        }
        return names.toString();
    }
}
