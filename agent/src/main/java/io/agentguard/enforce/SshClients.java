package io.agentguard.enforce;

import io.agentguard.bpf.BpfMap;

import java.util.List;

/**
 * The host's ssh client by identity ({@code ag_ssh_exes}): under {@code egress.protocols: deny}
 * its "SSH-2.0-" banner is what it is for (payload.bpf.c exempts it; its forwarding is the tunnel
 * judge's business). {@code ssh} resolved on the standard PATH, symlinks followed, so hard links
 * and symlinks are the same file; a renamed copy is another inode and is not exempt.
 */
public final class SshClients {
    private SshClients() {
    }

    /** The files {@code ssh} is on this host now (each once). */
    public static List<FileIdentity> find() {
        return find(io.agentguard.process.HostRoot.SLASH);
    }

    /** The files {@code ssh} is on the host under host_root now (each once). */
    public static List<FileIdentity> find(io.agentguard.process.HostRoot host) {
        return ExeIdentitySet.onPath(host, List.of("ssh"));
    }

    /** Writes the identities; stale ones are removed (an upgraded ssh is a new inode). */
    public static void write(BpfMap exes, List<FileIdentity> ids) {
        ExeIdentitySet.write(exes, ids);
    }
}
