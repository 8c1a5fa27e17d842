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
        return sandbox(null, cgroup, options, command);
    }

    /** The same, started in the working directory cwd (null: this JVM's). */
    static Sandboxed sandbox(Path cwd, Path cgroup, List<String> options, String... command)
            throws IOException, InterruptedException {
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
            Process p = new ProcessBuilder(argv).directory(cwd == null ? null : cwd.toFile())
                    .redirectError(err.toFile()).start();
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
    void sandboxedRootCannotOpenABlockDeviceWhichReadOnlyMountsDoNotCover() throws Exception {
        Path cg = KERNEL.newCgroup("sandbox");
        Path dir = Files.createTempDirectory(Path.of("/tmp"), "agentguard-blk");
        Path node = dir.resolve("disk");
        try {
            // a block node the agent can reach (mode 0666: file permissions let it in); loop 250 need not exist:
            // the device check comes before the driver's open (ENXIO without the check)
            assertThat(new ProcessBuilder("mknod", "-m", "0666", node.toString(), "b", "7", "250").start().waitFor()).isZero();
            Sandboxed root = sandbox(cg, List.of(), "sh", "-c", "exec 3<>" + node + " && echo opened");
            assertThat(root.stdout()).doesNotContain("opened");
            assertThat(root.stderr()).contains("Operation not permitted");
            List<io.agentguard.proto.v1.Violation> v = KERNEL.awaitViolations(
                    x -> x.getRule().equals("agentguard: block device open denied")
                            && x.getCgroupPath().equals(KERNEL.mount().relativize(cg).toString()), 1, java.time.Duration.ofSeconds(10));
            assertThat(v).hasSize(1);
            assertThat(v.getFirst().getOutput()).contains("block device 7:250 open denied: sh");
        } finally {
            Files.deleteIfExists(node);
            Files.deleteIfExists(dir);
        }
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

    /** Fresh directories the test makes (as full root, outside the sandbox) and always removes. */
    private static final class TempDirs implements AutoCloseable {
        final List<Path> dirs = new ArrayList<>();

        Path in(String parent) throws IOException {
            Path d = Files.createTempDirectory(Path.of(parent), "agentguard-sandbox-test");
            dirs.add(d);
            return d;
        }

        @Override
        public void close() throws IOException {
            for (Path d : dirs.reversed()) {
                try (var files = Files.walk(d)) {
                    for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                        Files.deleteIfExists(f);
                    }
                }
            }
        }
    }

    @Test
    void sandboxedRootCannotPlantACronJobAUnitADotfileOrABinaryButWritesTmp() throws Exception {
        // uid 0 without capabilities still owns /etc, /root, /usr: a cron job, a systemd unit, a .bashrc or a new
        // binary there gives every key back later, outside the sandbox. Fresh directories in each stand for them
        Path cg = KERNEL.newCgroup("sandbox");
        try (TempDirs temp = new TempDirs()) {
            List<Path> system = new ArrayList<>(List.of(temp.in("/etc"), temp.in("/root"), temp.in("/usr/local/bin")));
            if (Files.isDirectory(Path.of("/etc/systemd/system"))) {
                system.add(temp.in("/etc/systemd/system"));
            }
            List<Path> scratch = List.of(temp.in("/tmp"), temp.in("/var/tmp"), temp.in("/dev/shm"));
            Path cwd = temp.in("/etc");    // not a workspace: stays read-only, and the line says so
            StringBuilder script = new StringBuilder();
            for (Path d : system) {
                script.append("echo planted > ").append(d.resolve("x")).append(" && echo '").append(d).append(" WRITABLE'; ");
            }
            script.append("echo planted > here && echo 'cwd WRITABLE'; ");
            for (Path d : scratch) {
                script.append("echo ok > ").append(d.resolve("x")).append(" && echo '").append(d).append(" written'; ");
            }
            Sandboxed s = sandbox(cwd, cg, List.of(), "sh", "-c", script.toString());
            assertThat(s.stdout()).as(s.stderr()).doesNotContain("WRITABLE");
            for (Path d : system) {
                assertThat(s.stderr()).contains(d.resolve("x") + ": Read-only file system");
                assertThat(d.resolve("x")).doesNotExist();
            }
            assertThat(s.stderr()).contains("here: Read-only file system");
            assertThat(cwd.resolve("here")).doesNotExist();
            for (Path d : scratch) {
                assertThat(s.stdout()).contains(d + " written");
                assertThat(d.resolve("x")).hasContent("ok");
            }
            assertThat(s.stderr()).contains(", read-only: everything but /tmp, /var/tmp, /dev/shm, /dev, /proc;")
                    .contains("cwd " + cwd + " read-only (--writable to write it)");
        }
    }

    @Test
    void sandboxedRootWritesItsWorkspaceAndEachWritablePathButNothingBesideThem() throws Exception {
        Path cg = KERNEL.newCgroup("sandbox");
        try (TempDirs temp = new TempDirs()) {
            Path workspace = temp.in("/srv");          // a workspace: strictly below /srv
            Path data = temp.in("/var/lib");           // --writable
            Path beside = temp.in("/var/lib");         // not named: read-only
            Sandboxed s = sandbox(workspace, cg, List.of("--writable", data.toString()), "sh", "-c",
                    "echo ok > out && echo 'workspace written'; echo ok > " + data.resolve("x") + " && echo 'data written';"
                            + " echo planted > " + beside.resolve("x") + " && echo 'beside WRITABLE'");
            assertThat(s.stdout()).as(s.stderr()).contains("workspace written").contains("data written")
                    .doesNotContain("WRITABLE");
            assertThat(workspace.resolve("out")).hasContent("ok");
            assertThat(data.resolve("x")).hasContent("ok");
            assertThat(s.stderr()).contains(beside.resolve("x") + ": Read-only file system")
                    .contains("read-only: everything but /tmp, /var/tmp, /dev/shm, " + workspace + " (cwd), " + data
                            + ", /dev, /proc;");
            assertThat(beside.resolve("x")).doesNotExist();
        }
    }

    @Test
    void aWritableGuardPathIsRefusedAndNothingRuns() throws Exception {
        Path cg = KERNEL.newCgroup("sandbox");
        // through agentguard sandbox: every guard path, existing or not
        Sandboxed s = sandbox(cg, List.of("--writable", "/etc/agentguard"), "echo", "ran");
        assertThat(s.exitStatus()).as(s.stderr()).isEqualTo(2);
        assertThat(s.stdout()).doesNotContain("ran");
        assertThat(s.stderr()).contains("agentguard sandbox: --writable /etc/agentguard: is the guard path /etc/agentguard,"
                + " which stays read-only");
        // the launcher alone (the demo, scripts): a path inside cgroupfs
        Process p = new ProcessBuilder(KernelAgentExtension.nativeTool("sandbox_exec").toString(), "--ro", "/sys/fs/cgroup",
                "--writable", cg.toString(), "--", "echo", "ran").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(out).isEqualTo(125);
        assertThat(out).isEqualTo("agentguard sandbox: --writable " + cg + ": is inside the guard path /sys/fs/cgroup,"
                + " which stays read-only\n");
    }

    @Test
    void anotherUserKeepingSetuidMakesItselfRootButFindsTheTreeReadOnly() throws Exception {
        // setuid(0) is a system call, not an exec: no_new_privs does not stop it, and uid 0 owns /etc again
        Path cg = KERNEL.newCgroup("sandbox");
        try (TempDirs temp = new TempDirs()) {
            Path roots = temp.in("/etc");
            Sandboxed s = sandbox(cg, List.of("--user", "nobody", "--keep-cap", "setuid"), "/usr/bin/perl", "-e",
                    "$< = 0; $> = 0; print \"uid $<\\n\"; open(F, '>', '" + roots.resolve("x")
                            + "') or die \"open: $!\\n\"; print \"etc WRITABLE\\n\"");
            assertThat(s.stdout()).as(s.stderr()).contains("uid 0").doesNotContain("WRITABLE");
            assertThat(s.stderr()).contains("open: Read-only file system").contains("kept: setuid")
                    .contains("read-only: everything but");
            assertThat(roots.resolve("x")).doesNotExist();
        }
    }

    @Test
    void anotherUserKeepsTheMountsAsTheyAreAndFilePermissionsDecide() throws Exception {
        // not a new guarantee: --user keeps today's behaviour (root's files are protected by their permissions, the
        // user's own stay writable anywhere), with the guard paths read-only as before
        Path cg = KERNEL.newCgroup("sandbox");
        try (TempDirs temp = new TempDirs()) {
            Path own = temp.in("/var/lib");
            Files.setOwner(own, own.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("nobody"));
            Path roots = temp.in("/etc");
            Sandboxed s = sandbox(cg, List.of("--user", "nobody"), "sh", "-c", "echo ok > " + own.resolve("x")
                    + " && echo 'own written'; echo planted > " + roots.resolve("x") + " && echo 'etc WRITABLE'");
            assertThat(s.stdout()).as(s.stderr()).contains("own written").doesNotContain("WRITABLE");
            assertThat(s.stderr()).contains(roots.resolve("x") + ": Permission denied")
                    .contains("uid 65534").contains("guard paths").doesNotContain("everything but");
            assertThat(own.resolve("x")).hasContent("ok");
        }
    }
}
