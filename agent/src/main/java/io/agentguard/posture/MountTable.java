package io.agentguard.posture;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A process's mounts (/proc/PID/mountinfo), enough to tell whether a file of the host is
 * visible to that process and through a writable mount: the sandbox, a container or a
 * systemd unit's ReadOnlyPaths= make a file safe by mounting it read-only or not at all.
 */
public final class MountTable {
    /** One mountinfo line: device, the mount's root inside its file system, where it is mounted, ro or rw. */
    public record Mount(int id, String device, String root, String point, boolean readOnly, String fsType) {
    }

    private final List<Mount> mounts;

    private MountTable(List<Mount> mounts) {
        this.mounts = mounts;
    }

    public static MountTable read(Path mountinfo) throws IOException {
        List<Mount> out = new ArrayList<>();
        // bytes, not UTF-8: a mount point is any bytes, and one name that is not UTF-8 (a mount an
        // agent made in its own user namespace) must not make the whole table unreadable
        for (String line : Files.readAllLines(mountinfo, StandardCharsets.ISO_8859_1)) {
            String[] f = line.split(" ");
            int dash = List.of(f).indexOf("-");
            if (f.length < 10 || dash < 6 || dash + 3 >= f.length) {
                continue;
            }
            boolean ro = hasOption(f[5], "ro") || hasOption(f[dash + 3], "ro");
            out.add(new Mount(Integer.parseInt(f[0]), f[2], unescape(f[3]), unescape(f[4]), ro, f[dash + 1]));
        }
        return new MountTable(out);
    }

    private static boolean hasOption(String options, String name) {
        for (String o : options.split(",")) {
            if (o.equals(name)) {
                return true;
            }
        }
        return false;
    }

    /** mountinfo escapes space, tab, newline and backslash as \ooo; then the bytes as UTF-8, as Java names paths. */
    private static String unescape(String s) {
        if (s.indexOf('\\') < 0) {
            return new String(s.getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.UTF_8);
        }
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 3 < s.length()) {
                try {
                    b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                    i += 3;
                    continue;
                } catch (NumberFormatException | StringIndexOutOfBoundsException e) {
                    // not an escape: keep the backslash
                }
            }
            b.append(c);
        }
        return new String(b.toString().getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.UTF_8);
    }

    /** The mount a path resolves to: the longest mount point above it, the last one mounted there. */
    public Mount mountOf(String path) {
        Mount best = null;
        for (Mount m : mounts) {
            if (under(path, m.point()) && (best == null || m.point().length() >= best.point().length())) {
                best = m;
            }
        }
        return best;
    }

    /** Where a host file is, as the host's mounts name it: its device and its path inside that file system. */
    public record FsLocation(String device, String fsPath) {
    }

    public FsLocation locate(Path hostPath) {
        String p = hostPath.toString();
        Mount m = mountOf(p);
        return m == null ? null : new FsLocation(m.device(), join(m.root(), relative(p, m.point())));
    }

    /**
     * A mount of this table through which the file at {@code where} is visible and that is not
     * read-only, with the path the process names it by; null when every way to it is read-only,
     * covered by another mount, or absent.
     */
    public Visible writableView(FsLocation where) {
        for (Mount m : mounts) {
            if (!m.device().equals(where.device()) || !under(where.fsPath(), m.root())) {
                continue;
            }
            String path = join(m.point(), relative(where.fsPath(), m.root()));
            Mount top = mountOf(path);
            if (top != null && top.id() == m.id() && !m.readOnly()) {
                return new Visible(m, path);
            }
        }
        return null;
    }

    /** A writable way to a file: the mount and the path the process names it by. */
    public record Visible(Mount mount, String path) {
    }

    static boolean under(String path, String dir) {
        return dir.equals("/") || path.equals(dir) || path.startsWith(dir) && path.charAt(dir.length()) == '/';
    }

    private static String relative(String path, String dir) {
        return dir.equals("/") ? path : path.substring(dir.length());
    }

    private static String join(String dir, String rest) {
        if (rest.isEmpty()) {
            return dir;
        }
        return dir.equals("/") ? rest : dir + rest;
    }
}
