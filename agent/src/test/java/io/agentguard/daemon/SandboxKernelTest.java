package io.agentguard.daemon;

import io.agentguard.cli.Main;
import io.agentguard.proto.v1.Event;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * `agentguard sandbox` takes the keys away: the command runs in the agent cgroup with every
 * capability set empty and no_new_privs, so that even as uid 0 it cannot do what root could
 * against the guard (leave its cgroup, freeze another, open a raw socket) and, as another
 * user, cannot signal root's processes. Each case plays the agent inside the sandbox.
 */
class SandboxKernelTest {
    @RegisterExtension
    static final KernelAgentExtension KERNEL = new KernelAgentExtension(4096);

    record Sandboxed(int exitStatus, String stdout, String stderr) {
        /** A /proc/self/status line's value ("CapEff" -> "0000000000000000"). */
        String status(String name) {
            Matcher m = Pattern.compile("(?m)^" + name + ":\\s*(\\S+)").matcher(stdout);
            return m.find() ? m.group(1) : "(no " + name + " line in: " + stdout + ")";
        }
    }

    /** `agentguard sandbox --cgroup CGROUP OPTIONS -- CMD` as a user runs it: a process of its own. */
    static Sandboxed sandbox(Path cgroup, List<String> options, String... command) throws IOException, InterruptedException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> argv = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED",
                "--sun-misc-unsafe-memory-access=allow",
                "-Dagentguard.native.dir=" + KernelAgentExtension.nativeTool("sandbox_exec").getParent(),
                "-cp", System.getProperty("java.class.path"), Main.class.getName(), "sandbox",
                "--cgroup", KERNEL.mount().relativize(cgroup).toString()));
        argv.addAll(options);
        argv.add("--");
        argv.addAll(List.of(command));
        Path err = Files.createTempFile("agentguard-sandbox", ".err");
        try {
            Process p = new ProcessBuilder(argv).redirectError(err.toFile()).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
            return new Sandboxed(p.exitValue(), out, Files.readString(err));
        } finally {
            Files.deleteIfExists(err);
        }
    }

    @Test
    void commandRunsInTheAgentCgroupWithNoCapabilitiesAndNoNewPrivs() throws Exception {
        Path cg = KERNEL.newCgroup("sandbox");
        Sandboxed s = sandbox(cg, List.of(), "sh", "-c", "cat /proc/self/status");
        assertThat(s.exitStatus()).as(s.stderr()).isZero();
        for (String set : List.of("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")) {
            assertThat(s.status(set)).as(set).isEqualTo("0000000000000000");
        }
        assertThat(s.status("NoNewPrivs")).isEqualTo("1");
        assertThat(s.status("Uid")).isEqualTo("0");
        assertThat(s.stderr()).contains("agentguard sandbox: cgroup " + KERNEL.mount().relativize(cg) + ", uid 0, gid 0,"
                + " capabilities dropped: all " + io.agentguard.posture.Capabilities.count()
                + " (bounding, effective, permitted, inheritable, ambient), no_new_privs, supplementary groups cleared");
        // the agent saw it run inside: the cat's exec came from the sandbox cgroup
        List<Event> execs = KERNEL.await(e -> e.hasExec() && e.getProcess().getCgroupId() == KERNEL.cgroupId(cg)
                && e.getExec().getFilename().endsWith("cat"), 1, Duration.ofSeconds(10));
        assertThat(execs).isNotEmpty();
    }

    @Test
    void sandboxedRootCannotLeaveItsCgroupFreezeAnotherOrWriteTheGuardsFiles() throws Exception {
        Path cg = KERNEL.newCgroup("sandbox");
        Path outside = KERNEL.outsideCgroup("sandbox-victim");
        Path dir = Files.createTempDirectory("agentguard-sandbox-config");
        Path config = dir.resolve("agentguard.yaml");
        Files.writeString(config, "agent_cgroups: [" + KERNEL.rootRelative() + "]\n");
        try {
            // uid 0 owns these files: without capabilities it could still write them, but not read-only
            Sandboxed s = sandbox(cg, List.of("--config", config.toString()), "sh", "-c",
                    "echo $$ > " + KERNEL.mount().resolve("cgroup.procs") + "; echo 1 > " + outside.resolve("cgroup.freeze")
                            + "; echo 'mode: monitor' >> " + config + "; cat /proc/self/cgroup");
            assertThat(s.stdout()).as(s.stderr()).contains("0::/" + KERNEL.mount().relativize(cg));
            assertThat(s.stderr()).contains(KERNEL.mount().resolve("cgroup.procs") + ": Read-only file system")
                    .contains(outside.resolve("cgroup.freeze") + ": Read-only file system")
                    .contains(config + ": Read-only file system");
            assertThat(Files.readString(outside.resolve("cgroup.freeze")).trim()).isEqualTo("0");
            assertThat(Files.readString(config)).doesNotContain("monitor");
        } finally {
            Files.deleteIfExists(config);
            Files.deleteIfExists(dir);
        }
    }

    @Test
    void sandboxedRootCannotWriteKernelTunables() throws Exception {
        // kernel.core_pattern is root's (0644): "|/path" would run /path as full root outside every cgroup on the next
        // crash. Written here with its own value, so that the old behaviour changes nothing
        Path cg = KERNEL.newCgroup("sandbox");
        Path corePattern = Path.of("/proc/sys/kernel/core_pattern");
        String before = Files.readString(corePattern);
        Sandboxed s = sandbox(cg, List.of(), "sh", "-c", "cat " + corePattern + " > /tmp/.ag-core-pattern-$$"
                + " && cat /tmp/.ag-core-pattern-$$ > " + corePattern + " && echo written; rm -f /tmp/.ag-core-pattern-$$");
        assertThat(s.stdout()).as(s.stderr()).doesNotContain("written");
        assertThat(s.stderr()).contains(corePattern + ": Read-only file system");
        assertThat(Files.readString(corePattern)).isEqualTo(before);
    }

    @Test
    void sandboxedProcessCannotOpenARawSocketAndAnotherUserCannotStopRoot() throws Exception {
        Path cg = KERNEL.newCgroup("sandbox");
        Process decoy = new ProcessBuilder("sleep", "60").start();   // root, outside: the daemon's stand-in
        try {
            String connector = KernelAgentExtension.nativeTool("connector").toString();
            Sandboxed root = sandbox(cg, List.of(), connector, "packet");
            assertThat(root.stdout()).as(root.stderr()).isEqualTo("EPERM\n");

            Sandboxed nobody = sandbox(cg, List.of("--user", "nobody"), "sh", "-c",
                    "cat /proc/self/status; kill -STOP " + decoy.pid() + " && echo stopped; " + connector + " packet");
            assertThat(nobody.status("Uid")).as(nobody.stderr()).isEqualTo("65534");
            assertThat(nobody.status("CapBnd")).isEqualTo("0000000000000000");
            assertThat(nobody.stdout()).doesNotContain("stopped").endsWith("EPERM\n");
            assertThat(nobody.stderr()).contains("Operation not permitted").contains("uid 65534");
            assertThat(ProcessHandle.of(decoy.pid()).orElseThrow().isAlive()).isTrue();
            assertThat(Files.readString(Path.of("/proc/" + decoy.pid() + "/stat"))).doesNotContain(") T ");
        } finally {
            decoy.destroyForcibly();
        }
    }

    @Test
    void keepCapKeepsExactlyThatOneForRootAndForAnotherUser() throws Exception {
        Path cg = KERNEL.newCgroup("sandbox");
        String connector = KernelAgentExtension.nativeTool("connector").toString();
        for (List<String> options : List.of(List.of("--keep-cap", "net_raw"),
                List.of("--keep-cap", "CAP_NET_RAW", "--user", "65534"))) {
            Sandboxed s = sandbox(cg, options, "sh", "-c", "cat /proc/self/status; " + connector + " packet");
            for (String set : List.of("CapPrm", "CapEff", "CapBnd", "CapAmb")) {
                assertThat(s.status(set)).as(options + " " + set + "; " + s.stderr()).isEqualTo("0000000000002000");
            }
            assertThat(s.status("NoNewPrivs")).isEqualTo("1");
            assertThat(s.stdout()).endsWith("ok\n");
            assertThat(s.stderr()).contains("capabilities dropped: " + (io.agentguard.posture.Capabilities.count() - 1)
                    + " of " + io.agentguard.posture.Capabilities.count()).contains("kept: net_raw");
        }
    }

    @Test
    void unknownCapabilityIsAPreciseErrorAndNothingRuns() throws Exception {
        Path cg = KERNEL.newCgroup("sandbox");
        Sandboxed s = sandbox(cg, List.of("--keep-cap", "net_rwa"), "echo", "ran");
        assertThat(s.exitStatus()).isEqualTo(2);
        assertThat(s.stdout()).doesNotContain("ran");
        assertThat(s.stderr()).contains("--keep-cap: unknown capability 'net_rwa' (did you mean 'net_raw'?)");
    }
}
