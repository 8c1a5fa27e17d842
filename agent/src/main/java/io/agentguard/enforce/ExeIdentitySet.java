package io.agentguard.enforce;

import io.agentguard.abi.KernelAbi.FileId;
import io.agentguard.bpf.BpfMap;
import io.agentguard.process.HostRoot;
import io.agentguard.process.KnownPrograms;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A kernel set of program files by identity ({@code FileId} (dev, ino) → 1: {@code ag_shell_exes},
 * {@code ag_ssh_exes}), and the files program names are on this host: each name resolved in the
 * standard PATH directories ({@link KnownPrograms#PATH_DIRS}) under host_root, symlinks followed, so hard links
 * and symlinks are one file; a renamed copy is another inode and is not in the set.
 */
final class ExeIdentitySet {
    private ExeIdentitySet() {
    }

    /** The regular files the names are in the PATH directories now (each once, in name then PATH order). */
    static List<FileIdentity> onPath(HostRoot host, List<String> names) {
        List<FileIdentity> found = new ArrayList<>();
        for (String name : names) {
            for (Path dir : KnownPrograms.PATH_DIRS) {
                Path p = host.resolve(dir.resolve(name));
                FileIdentity id = Files.isRegularFile(p) ? FileIdentity.of(p) : null;
                if (id != null && found.stream().noneMatch(f -> f.sameFile(id.dev(), id.ino()))) {
                    found.add(id);
                }
            }
        }
        return found;
    }

    /** Writes the identities into the set; those in it that are not among them are removed (an upgrade is a new inode). */
    static void write(BpfMap exes, List<FileIdentity> ids) {
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
