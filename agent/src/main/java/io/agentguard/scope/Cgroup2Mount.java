package io.agentguard.scope;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Where the cgroup v2 hierarchy is mounted, read from /proc/mounts (never assumed). */
public final class Cgroup2Mount {
    private Cgroup2Mount() {
    }

    public static Path find() {
        return find(Path.of("/proc/mounts"));
    }

    static Path find(Path procMounts) {
        List<String> lines;
        try {
            lines = Files.readAllLines(procMounts);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + procMounts, e);
        }
        for (String line : lines) {
            String[] fields = line.split(" ");
            if (fields.length >= 3 && fields[2].equals("cgroup2")) {
                return Path.of(unescape(fields[1]));
            }
        }
        throw new IllegalStateException("no cgroup2 filesystem in " + procMounts
                + ": agentguard needs the unified cgroup hierarchy (mount -t cgroup2 none /sys/fs/cgroup/unified)");
    }

    /** /proc/mounts escapes space, tab, newline and backslash as octal. */
    static String unescape(String field) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < field.length(); i++) {
            char c = field.charAt(i);
            if (c == '\\' && i + 3 < field.length()) {
                try {
                    sb.append((char) Integer.parseInt(field.substring(i + 1, i + 4), 8));
                    i += 3;
                    continue;
                } catch (NumberFormatException ignored) {
                    // not an escape
                }
            }
            sb.append(c);
        }
        return sb.toString();
    }
}
