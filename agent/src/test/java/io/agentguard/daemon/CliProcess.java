package io.agentguard.daemon;

import io.agentguard.cli.Main;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The agentguard CLI as an operator runs it: `agentguard ARGS` in a JVM of its own (the daemon
 * as systemd runs it), `agentguard status` against it, and its output files read as they grow.
 */
final class CliProcess {
    private CliProcess() {
    }

    /** java, the flags FFM needs, this test's class path, Main, then args. */
    static List<String> argv(String... args) {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> argv = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED",
                "--sun-misc-unsafe-memory-access=allow", "-cp", System.getProperty("java.class.path"),
                Main.class.getName()));
        argv.addAll(List.of(args));
        return argv;
    }

    /** `agentguard run --config CONFIG --format text`, stdout to out and stderr to err. */
    static ProcessBuilder runText(Path config, Path out, Path err) {
        return new ProcessBuilder(argv("run", "--config", config.toString(), "--format", "text"))
                .redirectOutput(out.toFile()).redirectError(err.toFile());
    }

    /** `agentguard status [--json]` against the daemon with this runtime directory; must succeed. */
    static String status(Path runtime, boolean json) {
        PrintStream saved = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true));
        try {
            int rc = json ? Main.execute("status", "--runtime-dir", runtime.toString(), "--json")
                    : Main.execute("status", "--runtime-dir", runtime.toString());
            assertThat(rc).isZero();
        } finally {
            System.setOut(saved);
        }
        return out.toString();
    }

    /** The file's text once it contains text, or after 10 s (the assertion that follows says what was missing). */
    static String awaitContains(Path file, String text) throws Exception {
        String content = Files.exists(file) ? Files.readString(file) : "";
        for (int i = 0; i < 100 && !content.contains(text); i++) {
            Thread.sleep(100);
            content = Files.exists(file) ? Files.readString(file) : "";
        }
        return content;
    }
}
