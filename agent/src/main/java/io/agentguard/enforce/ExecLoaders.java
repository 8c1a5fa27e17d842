package io.agentguard.enforce;

import io.agentguard.abi.KernelAbi.FileId;
import io.agentguard.bpf.BpfMap;
import io.agentguard.process.HostRoot;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The dynamic loaders of this host (glibc's ld-linux*.so*, musl's ld-musl-*.so*, ld.so), by
 * identity, for ag_exec_loaders: an exec of one of them runs whatever program its argv
 * names, which the kernel's name and identity checks never see ("ld-linux-x86-64.so.2
 * ./xmrig"). Found in the directories where distributions install them; symlinks
 * (/lib64/ld-linux-x86-64.so.2) resolve to the same file.
 */
public final class ExecLoaders {
    static final List<Path> DIRECTORIES = List.of(Path.of("/lib"), Path.of("/lib64"), Path.of("/usr/lib"),
            Path.of("/usr/lib64"), Path.of("/lib32"), Path.of("/usr/lib32"), Path.of("/libx32"));

    private ExecLoaders() {
    }

    /** Paths and identities of the loaders found now (each file once). */
    public static List<Found> find() {
        return find(HostRoot.SLASH);
    }

    /** The host's loaders, under host_root; paths are host paths. */
    public static List<Found> find(HostRoot host) {
        Set<Path> candidates = new LinkedHashSet<>();
        for (Path dir : DIRECTORIES) {
            collect(host, dir, candidates);
            try (DirectoryStream<Path> subdirs = Files.newDirectoryStream(host.resolve(dir), p -> p.getFileName().toString().endsWith("-linux-gnu")
                    || p.getFileName().toString().endsWith("-linux-musl"))) {
                for (Path sub : subdirs) {
                    collect(host, dir.resolve(sub.getFileName()), candidates);
                }
            } catch (IOException | RuntimeException e) {
                // no such directory here
            }
        }
        List<Found> found = new ArrayList<>();
        for (Path p : candidates) {
            Path local = host.resolve(p);
            FileIdentity id = FileIdentity.of(local);
            if (id != null && Files.isRegularFile(local) && found.stream().noneMatch(f -> f.id().sameFile(id.dev(), id.ino()))) {
                found.add(new Found(p, id));
            }
        }
        return found;
    }

    /** A loader: where it was found (a host path) and what it is. */
    public record Found(Path path, FileIdentity id) {
    }

    private static void collect(HostRoot host, Path dir, Set<Path> into) {
        try (DirectoryStream<Path> files = Files.newDirectoryStream(host.resolve(dir), p -> isLoaderName(p.getFileName().toString()))) {
            for (Path f : files) {
                into.add(dir.resolve(f.getFileName()));
            }
        } catch (IOException | RuntimeException e) {
            // no such directory here
        }
    }

    static boolean isLoaderName(String name) {
        return name.startsWith("ld-linux") && name.contains(".so") || name.startsWith("ld-musl-") && name.contains(".so")
                || name.equals("ld.so") || name.startsWith("ld.so.") && !name.endsWith(".conf") && !name.endsWith(".cache");
    }

    /** Replaces the map's contents with these loaders. */
    public static void write(BpfMap map, List<Found> loaders) {
        try (Arena arena = Arena.ofConfined()) {
            List<MemorySegment> stale = new ArrayList<>();
            map.forEachKey(FileId.SIZEOF, k -> stale.add(arena.allocate(FileId.SIZEOF, 8).copyFrom(k)));
            MemorySegment one = arena.allocate(1);
            one.set(JAVA_BYTE, 0, (byte) 1);
            List<MemorySegment> keys = new ArrayList<>();
            for (Found f : loaders) {
                MemorySegment key = arena.allocate(FileId.SIZEOF, 8);
                key.set(JAVA_LONG, FileId.DEV, f.id().dev());
                key.set(JAVA_LONG, FileId.INO, f.id().ino());
                map.update(key, one);
                keys.add(key);
            }
            for (MemorySegment s : stale) {
                if (keys.stream().noneMatch(k -> k.mismatch(s) < 0)) {
                    map.delete(s);
                }
            }
        }
    }
}
