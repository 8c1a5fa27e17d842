package io.agentguard.packaging;

import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** What the .deb tests share: the built package, commands run with a server's clean environment, dpkg into a throwaway root. */
final class PackageCommands {
    private PackageCommands() {
    }

    record Result(int exit, String output) {
    }

    /**
     * The package named by the pattern in the package phase's output directory. dpkg --root still chowns to root (and
     * the agent's daemon loads BPF): aborts without root, except where AGENTGUARD_REQUIRE_BPF=1 (CI), as the kernel tests.
     */
    static Path builtPackage(String fileNamePattern, String script) throws IOException {
        if (!"root".equals(System.getProperty("user.name"))) {
            if ("1".equals(System.getenv("AGENTGUARD_REQUIRE_BPF"))) {
                throw new IllegalStateException("the package tests need root and AGENTGUARD_REQUIRE_BPF=1");
            }
            Assumptions.abort("the package tests need root");
        }
        try (Stream<Path> files = Files.list(Path.of(System.getProperty("agentguard.deb.dir", "target")))) {
            return files.filter(p -> p.getFileName().toString().matches(fileNamePattern)).findFirst().orElseThrow(
                    () -> new AssertionError("no " + fileNamePattern + ": the package phase builds it (" + script + ")"));
        }
    }

    static ProcessBuilder clean(List<String> argv) {
        ProcessBuilder pb = new ProcessBuilder(argv).redirectErrorStream(true);
        // nodes and servers have no JDK: nothing from the build's Java may leak into the launcher
        pb.environment().remove("JAVA_HOME");
        pb.environment().remove("NOTIFY_SOCKET");
        pb.environment().put("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        return pb;
    }

    static Result exec(List<String> argv) throws IOException, InterruptedException {
        Process p = clean(argv).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).as(String.join(" ", argv)).isTrue();
        return new Result(p.exitValue(), out);
    }

    static Result exec(String... argv) throws IOException, InterruptedException {
        return exec(List.of(argv));
    }

    static Result dpkg(Path root, String... args) throws IOException, InterruptedException {
        List<String> argv = new ArrayList<>(List.of("dpkg", "--root=" + root, "--force-script-chrootless",
                "--force-depends", "--log=/dev/null"));
        argv.addAll(Arrays.asList(args));
        return exec(argv);
    }

    /** dpkg -i into root, creating the dpkg database there on first use. */
    static void install(Path root, Path deb) throws IOException, InterruptedException {
        Files.createDirectories(root.resolve("var/lib/dpkg/updates"));
        Files.createDirectories(root.resolve("var/lib/dpkg/info"));
        if (!Files.exists(root.resolve("var/lib/dpkg/status"))) {
            Files.createFile(root.resolve("var/lib/dpkg/status"));
        }
        Result r = dpkg(root, "-i", deb.toString());
        assertThat(r.exit()).as(r.output()).isZero();
    }
}
