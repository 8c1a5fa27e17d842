package io.agentguard.config;

import java.util.List;

/**
 * What processes of a cgroup may do, as configured (validated by the loader).
 *
 * @param cgroup          path relative to the cgroup2 mount; "" for the default policy
 * @param enforce         true: block; false: monitor (would_block only); null: the global mode
 * @param egressDefaultDeny  destinations no entry names are denied (else allowed)
 * @param egress          allow/deny entries, most specific network wins
 * @param gpuAll          every NVIDIA device may be opened
 * @param gpuAllowed      bit N: /dev/nvidiaN may be opened (and the shared control/uvm nodes)
 * @param computeAllowed  any process may create GPU compute contexts
 * @param computeExecutables executables (paths) allowed compute although computeAllowed is false
 * @param execDenyNames   program names (file name, first 15 bytes) that may not run
 * @param execDenyPaths   program paths that may not run: the files they name (identity: device and
 *                        inode, symlinks followed; and their SHA-256) and the path as passed to execve
 * @param execDenySha256  SHA-256 digests (lower-case hex) of program files that may not run
 * @param execDenyFileless  executions without a file name (memfd, deleted file, execveat AT_EMPTY_PATH) are denied
 * @param execDenyLoader  running the dynamic loader directly (ld.so PROGRAM) is denied; --list/--verify stay allowed
 * @param rawSocketsAllowed raw and ping IP sockets and packet sockets, which egress policy cannot govern, may be
 *                        created (they are reported either way); default false
 * @param unixOutsideDeny Unix connects to listeners whose owner is outside the agent cgroups are denied
 *                        (they are reported either way); default false
 * @param shellConnectDeny   egress.shells: deny: shells and socket relays (bash /dev/tcp, nc, socat) reach only
 *                        explicitly allowed destinations and exactly 127.0.0.1/::1; default false (allow)
 * @param execDenySocketShell exec.deny_socket_shell: a process that puts a remote inet socket on its stdio (dup2,
 *                        exec or fork on one) is killed in the kernel; default false
 * @param tunnelDeny      egress.tunnels: deny: SSH forwarding and tunnel programs (tunnels.programs) reach only
 *                        explicitly allowed destinations; their execs are held until judged (docs/ENFORCEMENT.md,
 *                        "Tunnels"); default false (allow)
 * @param protocolsDeny   egress.protocols: deny: a TCP connection no allow entry decided may not speak SSH (unless
 *                        from the host's ssh) or stratum: its first payload is dropped and the process killed;
 *                        default false (allow)
 */
public record Policy(String cgroup, Boolean enforce, boolean egressDefaultDeny, List<EgressEntry> egress, boolean gpuAll,
                     long gpuAllowed, boolean computeAllowed, List<String> computeExecutables, List<String> execDenyNames,
                     List<String> execDenyPaths, List<String> execDenySha256, boolean execDenyFileless,
                     boolean execDenyLoader, boolean rawSocketsAllowed, boolean unixOutsideDeny,
                     boolean shellConnectDeny, boolean execDenySocketShell, boolean tunnelDeny,
                     boolean protocolsDeny) {

    /** Without egress.protocols (allow). */
    public Policy(String cgroup, Boolean enforce, boolean egressDefaultDeny, List<EgressEntry> egress, boolean gpuAll,
                  long gpuAllowed, boolean computeAllowed, List<String> computeExecutables, List<String> execDenyNames,
                  List<String> execDenyPaths, List<String> execDenySha256, boolean execDenyFileless,
                  boolean execDenyLoader, boolean rawSocketsAllowed, boolean unixOutsideDeny,
                  boolean shellConnectDeny, boolean execDenySocketShell, boolean tunnelDeny) {
        this(cgroup, enforce, egressDefaultDeny, egress, gpuAll, gpuAllowed, computeAllowed, computeExecutables,
                execDenyNames, execDenyPaths, execDenySha256, execDenyFileless, execDenyLoader, rawSocketsAllowed,
                unixOutsideDeny, shellConnectDeny, execDenySocketShell, tunnelDeny, false);
    }

    /** Without the reverse-shell and tunnel keys (egress.shells, exec.deny_socket_shell, egress.tunnels at their defaults). */
    public Policy(String cgroup, Boolean enforce, boolean egressDefaultDeny, List<EgressEntry> egress, boolean gpuAll,
                  long gpuAllowed, boolean computeAllowed, List<String> computeExecutables, List<String> execDenyNames,
                  List<String> execDenyPaths, List<String> execDenySha256, boolean execDenyFileless,
                  boolean execDenyLoader, boolean rawSocketsAllowed, boolean unixOutsideDeny) {
        this(cgroup, enforce, egressDefaultDeny, egress, gpuAll, gpuAllowed, computeAllowed, computeExecutables,
                execDenyNames, execDenyPaths, execDenySha256, execDenyFileless, execDenyLoader, rawSocketsAllowed,
                unixOutsideDeny, false, false, false);
    }

    /** A policy without digests, fileless or loader denial; raw sockets denied, Unix connects outside allowed. */
    public Policy(String cgroup, Boolean enforce, boolean egressDefaultDeny, List<EgressEntry> egress, boolean gpuAll,
                  long gpuAllowed, boolean computeAllowed, List<String> computeExecutables, List<String> execDenyNames,
                  List<String> execDenyPaths) {
        this(cgroup, enforce, egressDefaultDeny, egress, gpuAll, gpuAllowed, computeAllowed, computeExecutables,
                execDenyNames, execDenyPaths, List.of(), false, false);
    }

    /** With the side-door keys at their defaults: raw sockets denied, Unix connects outside allowed. */
    public Policy(String cgroup, Boolean enforce, boolean egressDefaultDeny, List<EgressEntry> egress, boolean gpuAll,
                  long gpuAllowed, boolean computeAllowed, List<String> computeExecutables, List<String> execDenyNames,
                  List<String> execDenyPaths, List<String> execDenySha256, boolean execDenyFileless,
                  boolean execDenyLoader) {
        this(cgroup, enforce, egressDefaultDeny, egress, gpuAll, gpuAllowed, computeAllowed, computeExecutables,
                execDenyNames, execDenyPaths, execDenySha256, execDenyFileless, execDenyLoader, false, false);
    }

    /** One egress entry: a network, optionally narrowed to a protocol and a port range. */
    public record EgressEntry(boolean allow, String text, long[] range, int prefixBits, int protocol, int portLow,
                              int portHigh) {
        boolean overlaps(EgressEntry o) {
            return (protocol == 0 || o.protocol == 0 || protocol == o.protocol) && portLow <= o.portHigh
                    && o.portLow <= portHigh;
        }
    }

    public Policy {
        egress = List.copyOf(egress);
        computeExecutables = List.copyOf(computeExecutables);
        execDenyNames = List.copyOf(execDenyNames);
        execDenyPaths = List.copyOf(execDenyPaths);
        execDenySha256 = List.copyOf(execDenySha256);
    }

    /** The same policy for another cgroup. */
    public Policy withCgroup(String path) {
        return new Policy(path, enforce, egressDefaultDeny, egress, gpuAll, gpuAllowed, computeAllowed, computeExecutables,
                execDenyNames, execDenyPaths, execDenySha256, execDenyFileless, execDenyLoader, rawSocketsAllowed,
                unixOutsideDeny, shellConnectDeny, execDenySocketShell, tunnelDeny, protocolsDeny);
    }

    /** The same policy with the reverse-shell keys set (egress.shells, exec.deny_socket_shell). */
    public Policy withShellKeys(boolean shellConnectDeny, boolean execDenySocketShell) {
        return new Policy(cgroup, enforce, egressDefaultDeny, egress, gpuAll, gpuAllowed, computeAllowed, computeExecutables,
                execDenyNames, execDenyPaths, execDenySha256, execDenyFileless, execDenyLoader, rawSocketsAllowed,
                unixOutsideDeny, shellConnectDeny, execDenySocketShell, tunnelDeny, protocolsDeny);
    }

    /** The same policy with egress.tunnels set (deny: true). */
    public Policy withTunnelDeny(boolean deny) {
        return new Policy(cgroup, enforce, egressDefaultDeny, egress, gpuAll, gpuAllowed, computeAllowed, computeExecutables,
                execDenyNames, execDenyPaths, execDenySha256, execDenyFileless, execDenyLoader, rawSocketsAllowed,
                unixOutsideDeny, shellConnectDeny, execDenySocketShell, deny, protocolsDeny);
    }

    /** The same policy with egress.protocols set (deny: true). */
    public Policy withProtocolsDeny(boolean deny) {
        return new Policy(cgroup, enforce, egressDefaultDeny, egress, gpuAll, gpuAllowed, computeAllowed, computeExecutables,
                execDenyNames, execDenyPaths, execDenySha256, execDenyFileless, execDenyLoader, rawSocketsAllowed,
                unixOutsideDeny, shellConnectDeny, execDenySocketShell, tunnelDeny, deny);
    }

    /** Whether the daemon must look at this policy's executions after the fact (digests, paths to hash). */
    public boolean execChecksFiles() {
        return !execDenySha256.isEmpty() || !execDenyPaths.isEmpty();
    }

    /** The effective mode given the global one. */
    public boolean enforcing(boolean globalEnforce) {
        return enforce != null ? enforce : globalEnforce;
    }
}
