package io.agentguard.enforce;

import io.agentguard.abi.KernelAbi.FileId;
import io.agentguard.bpf.BpfMap;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

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
        List<FileIdentity> found = new ArrayList<>();
        for (Path dir : ShellPrograms.PATH) {
            Path p = dir.resolve("ssh");
            FileIdentity id = Files.isRegularFile(p) ? FileIdentity.of(p) : null;
            if (id != null && found.stream().noneMatch(f -> f.sameFile(id.dev(), id.ino()))) {
                found.add(id);
            }
        }
        return found;
    }

    /** Writes the identities; stale ones are removed (an upgraded ssh is a new inode). */
    public static void write(BpfMap exes, List<FileIdentity> ids) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment one = arena.allocate(1);
            one.set(JAVA_BYTE, 0, (byte) 1);
            List<MemorySegment> stale = new ArrayList<>();
            exes.forEachKey(FileId.SIZEOF, k -> stale.add(arena.allocate(FileId.SIZEOF, 8).copyFrom(k)));
            List<MemorySegment> keys = new ArrayList<>();
            for (FileIdentity id : ids) {
                MemorySegment key = arena.allocate(FileId.SIZEOF, 8);
                key.set(JAVA_LONG, FileId.DEV, id.dev());
                key.set(JAVA_LONG, FileId.INO, id.ino());
                exes.update(key, one);
                keys.add(key);
            }
            for (MemorySegment s : stale) {
                if (keys.stream().noneMatch(k -> k.mismatch(s) < 0)) {
                    exes.delete(s);
                }
            }
        }
    }
}
