package io.agentguard.bpf;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Set;
import java.util.TreeSet;

/**
 * Where agentguard pins its maps and links in bpffs, so that enforcement outlives the
 * daemon and a restarted daemon adopts it instead of leaving a gap:
 * <pre>
 *   PIN/maps/NAME          every map (the ring buffer too: events wait there across a restart)
 *   PIN/links/NAME[@CGROUP] every attachment
 *   PIN/v-HASH             marks which BPF object (SHA-256 prefix) the pins belong to
 * </pre>
 */
public final class BpfPins {
    private static final Path BPFFS = Path.of("/sys/fs/bpf");

    private final Path root;
    private final String version;

    public BpfPins(Path root, byte[] elf) {
        this.root = root;
        this.version = "v-" + sha256(elf).substring(0, 16);
    }

    private static String sha256(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    /** Mounts bpffs on /sys/fs/bpf when it is not mounted (pins need it). */
    public static void ensureBpffs(Path root) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/mounts"))) {
                String[] f = line.split(" ");
                if (f.length > 2 && f[2].equals("bpf") && root.startsWith(f[1])) {
                    return;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (!root.startsWith(BPFFS)) {
            throw new IllegalStateException("pin path " + root + " is not on a mounted bpf file system");
        }
        int rc = Libc.mount("bpf", BPFFS.toString(), "bpf");
        if (rc != 0) {
            throw new IllegalStateException("cannot mount the bpf file system on " + BPFFS + ": " + Errno.name(-rc)
                    + "; mount it (mount -t bpf bpf " + BPFFS + ") or set enforcement.pin_path to \"\"");
        }
    }

    public Path root() {
        return root;
    }

    public boolean exists() {
        return Files.isDirectory(root.resolve("maps"));
    }

    /** The pins were made by this very BPF object. */
    public boolean sameVersion() {
        return Files.isDirectory(root.resolve(version));
    }

    public void prepare() {
        try {
            Files.createDirectories(root.resolve("maps"));
            Files.createDirectories(root.resolve("links"));
            Files.createDirectories(root.resolve(version));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + root + ": " + e.getMessage(), e);
        }
    }

    public String mapPath(String name) {
        return root.resolve("maps").resolve(name).toString();
    }

    public String linkPath(String name) {
        return root.resolve("links").resolve(name).toString();
    }

    public boolean linkPinned(String name) {
        return Files.exists(root.resolve("links").resolve(name));
    }

    public Set<String> pinnedLinks() {
        Set<String> names = new TreeSet<>();
        Path links = root.resolve("links");
        if (Files.isDirectory(links)) {
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(links)) {
                ds.forEach(p -> names.add(p.getFileName().toString()));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return names;
    }

    /** Removes a link's pin: the hook detaches once no process holds the link. */
    public void unpinLink(String name) {
        try {
            Files.deleteIfExists(root.resolve("links").resolve(name));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** What {@link #repin} found at one pin and did about it. */
    public record Repin(String name, String found, boolean repaired, String repair) {
    }

    /**
     * Checks that {@code sub/name} pins the object behind fd (kernel id expectedId, kind
     * "bpf-link" or "bpf-map"); pins it again when the pin was removed or names another object.
     * Null when the pin is as it should be.
     */
    public Repin repin(String sub, String name, int fd, int expectedId, String kind) {
        Path path = root.resolve(sub).resolve(name);
        int pinned = BpfInfo.pinned(path.toString());
        String found;
        if (pinned == -Errno.ENOENT) {
            found = "removed";
        } else if (pinned < 0) {
            return new Repin(name, "cannot be opened (" + Errno.name(-pinned) + ")", false, "left as it is");
        } else {
            try {
                String pinnedKind = BpfInfo.kind(pinned);
                if (!pinnedKind.equals(kind)) {
                    found = "replaced by a " + pinnedKind;
                } else {
                    int id = kind.equals("bpf-link") ? BpfInfo.link(pinned).id() : BpfInfo.map(pinned).id();
                    if (id == expectedId) {
                        return null;
                    }
                    found = "replaced by another object (id " + id + " instead of " + expectedId + ")";
                }
            } finally {
                Libc.close(pinned);
            }
        }
        try {
            prepare();
            Files.deleteIfExists(path);
        } catch (IOException | UncheckedIOException e) {
            return new Repin(name, found, false, e.getMessage());
        }
        int rc = BpfInfo.pin(fd, path.toString());
        return rc == 0 ? new Repin(name, found, true, "pinned again")
                : new Repin(name, found, false, "pinning again failed: " + Errno.name(-rc));
    }

    /** Removes every pin: links first (the hooks detach), then maps. Returns how many pins went. */
    public int removeAll() {
        int removed = 0;
        for (String sub : new String[] {"links", "maps"}) {
            Path dir = root.resolve(sub);
            if (!Files.isDirectory(dir)) {
                continue;
            }
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
                for (Path p : ds) {
                    Files.deleteIfExists(p);
                    removed++;
                }
                Files.deleteIfExists(dir);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(root, "v-*")) {
            for (Path p : ds) {
                Files.deleteIfExists(p);
            }
            Files.deleteIfExists(root);
        } catch (java.nio.file.NoSuchFileException e) {
            return removed;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return removed;
    }
}
