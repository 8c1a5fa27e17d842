package io.agentguard.daemon;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** bpftool, as the red team used it against the daemon (root; the build needs bpftool anyway). */
final class Bpftool {
    private static final Pattern ID = Pattern.compile("^\\[?\\{\"id\":(\\d+),");

    private Bpftool() {
    }

    private static String path() {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (Files.isExecutable(Path.of(dir, "bpftool"))) {
                return Path.of(dir, "bpftool").toString();
            }
        }
        return "/usr/sbin/bpftool";
    }

    /** Runs bpftool; its output, or an AssertionError saying why it failed. */
    static String run(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(path()));
        cmd.addAll(List.of(args));
        java.nio.file.Path output = java.nio.file.Files.createTempFile("bpftool", ".out");
        try {
            // to a file, so that the timeout holds whatever bpftool writes (or does not)
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(output.toFile()).start();
            boolean done = p.waitFor(30, TimeUnit.SECONDS);
            if (!done) {
                p.destroyForcibly();
            }
            String out = java.nio.file.Files.readString(output, StandardCharsets.UTF_8);
            if (!done || p.exitValue() != 0) {
                throw new AssertionError(String.join(" ", cmd) + (done ? " failed: " : " timed out: ") + out);
            }
            return out;
        } finally {
            java.nio.file.Files.deleteIfExists(output);
        }
    }

    /** bpftool -j ...: one line of JSON. */
    static String json(String... args) throws IOException, InterruptedException {
        List<String> a = new ArrayList<>(List.of("-j"));
        a.addAll(List.of(args));
        return run(a.toArray(String[]::new)).strip();
    }

    /** The "id" an object's JSON starts with. */
    static long id(String json) {
        Matcher m = ID.matcher(json);
        if (!m.find()) {
            throw new AssertionError("no id in " + json);
        }
        return Long.parseLong(m.group(1));
    }

    private static final Pattern KEY = Pattern.compile("\"key\":\\[([^\\]]*)\\]");

    /** The keys of a map dump, each as the hex bytes "key hex" takes. */
    static List<List<String>> keys(String dumpJson) {
        List<List<String>> keys = new ArrayList<>();
        Matcher m = KEY.matcher(dumpJson);
        while (m.find()) {
            List<String> bytes = new ArrayList<>();
            for (String b : m.group(1).split(",")) {
                bytes.add(b.strip().replace("\"", "").replace("0x", ""));
            }
            keys.add(bytes);
        }
        return keys;
    }

    /** args, then a u64 map key as bpftool wants it: "key hex" and its little-endian bytes. */
    static String[] withKey(long value, String... args) {
        List<String> a = new ArrayList<>(List.of(args));
        a.addAll(List.of("key", "hex"));
        for (int i = 0; i < 8; i++) {
            a.add(String.format("%02x", (value >>> (8 * i)) & 0xff));
        }
        return a.toArray(String[]::new);
    }
}
