package io.agentguard.daemon;

import io.agentguard.posture.PostureMonitor;
import io.agentguard.proto.v1.PostureSource;
import io.agentguard.proto.v1.Violation;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Privileges that defeat the guard, held by processes in an agent cgroup: a root process with
 * every capability started into the cgroup (not through the sandbox) is reported once, naming
 * the capabilities; capless ones are not, unless they can still write cgroupfs.
 * One agent cgroup root per class: findings are counted per (agent cgroup, finding), so the
 * order of the cases matters and is fixed.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PostureKernelTest {
    @RegisterExtension
    static final KernelAgentExtension KERNEL = new KernelAgentExtension(4096);

    private static List<Violation> privileges(Path cgroup) throws InterruptedException {
        return KERNEL.awaitViolations(v -> v.getRule().equals(PostureMonitor.PRIVILEGES.rule())
                && v.getCgroupPath().equals(KERNEL.mount().relativize(cgroup).toString()), 0, Duration.ZERO);
    }

    /** sandbox_exec straight (no JVM in between): into cgroup, with these options, then CMD; still running. */
    private static Process sandboxed(Path cgroup, List<String> options, String... command) throws Exception {
        List<String> argv = new ArrayList<>(List.of(KernelAgentExtension.nativeTool("sandbox_exec").toString(),
                "--cgroup-procs", cgroup.resolve("cgroup.procs").toString()));
        argv.addAll(options);
        argv.add("--");
        argv.addAll(List.of(command));
        return new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    }

    /** Waits until the launcher exec'd its command (sleep). */
    private static Process execd(Process p) throws Exception {
        Path comm = Path.of("/proc/" + p.pid() + "/comm");
        for (int i = 0; i < 500 && !(java.nio.file.Files.exists(comm) && java.nio.file.Files.readString(comm).trim()
                .equals("sleep")); i++) {
            Thread.sleep(10);
        }
        return p;
    }

    @Test
    @Order(1)
    void rootWithEveryCapabilityStartedIntoTheCgroupIsReportedOnceNamingTheCapabilities() throws Exception {
        Path cg = KERNEL.newCgroup("root");
        for (int i = 0; i < 3; i++) {
            assertThat(KERNEL.runIn(cg, "true").exitStatus()).isZero();
        }
        List<Violation> found = KERNEL.awaitViolations(v -> v.getRule().equals(PostureMonitor.PRIVILEGES.rule()), 1,
                Duration.ofSeconds(15));
        assertThat(found).hasSize(1);
        Violation v = found.getFirst();
        var posture = v.getEvidence(0).getPosture();
        assertThat(posture.getSource()).isEqualTo(PostureSource.POSTURE_SOURCE_EXEC);
        assertThat(posture.getAgentCgroup()).isEqualTo(KERNEL.rootRelative());
        assertThat(posture.getCapabilitiesList()).contains("sys_admin", "bpf", "perfmon", "net_admin", "net_raw",
                "sys_ptrace", "sys_module", "dac_override");
        assertThat(posture.getEuid()).isZero();
        assertThat(v.getOutput()).contains("holds dac_override, net_admin, net_raw, sys_module, sys_ptrace, sys_admin,"
                + " perfmon, bpf").contains("cgroup " + KERNEL.mount().relativize(cg));
        assertThat(v.getEvidence(1).getExec().getFilename()).endsWith("true");
        Thread.sleep(500);   // the repeats had their chance
        assertThat(KERNEL.awaitViolations(x -> x.getRule().equals(PostureMonitor.PRIVILEGES.rule()), 0, Duration.ZERO))
                .hasSize(1);
        assertThat(KERNEL.agent().status()).contains("\"findingsTotal\"").contains("holds dac_override");
    }

    @Test
    @Order(2)
    void caplessProcessesThatCannotWriteTheGuardAreNotReported() throws Exception {
        Path nobody = KERNEL.newCgroup("nobody");
        Path readOnly = KERNEL.newCgroup("root-read-only");
        Path writable = KERNEL.newCgroup("root-capless");
        Path userNs = KERNEL.newCgroup("nobody-user-ns");
        List<String> ro = new ArrayList<>();
        for (String p : List.of("/sys/fs/cgroup", KERNEL.mount().toString(), "/sys/fs/bpf",
                KERNEL.standin("run").toString())) {
            ro.add("--ro");
            ro.add(p);
        }
        // alive while the posture thread reads their mounts; the reported one goes last, after the
        // others exec'd: the ring and the posture thread keep that order, so its violation is a barrier
        List<Process> running = new ArrayList<>();
        try {
            running.add(execd(sandboxed(nobody, List.of("--user", "nobody"), "sleep", "20")));
            running.add(execd(sandboxed(readOnly, ro, "sleep", "20")));
            // every capability, but in a user namespace of its own (rootless containers, bwrap): none acts on the host
            running.add(execd(sandboxed(userNs, List.of("--user", "nobody"), "unshare", "-Ur", "sleep", "20")));
            // uid 0 gets a read-only mount tree from the launcher: cgroupfs named writable (no guard path here) plays
            // a capless root on a writable cgroupfs
            running.add(execd(sandboxed(writable, List.of("--writable", KERNEL.mount().toString()), "sleep", "20")));
            List<Violation> barrier = KERNEL.awaitViolations(v -> v.getRule().equals(PostureMonitor.PRIVILEGES.rule())
                    && v.getCgroupPath().equals(KERNEL.mount().relativize(writable).toString()), 1, Duration.ofSeconds(15));
            assertThat(barrier).hasSize(1);
            var posture = barrier.getFirst().getEvidence(0).getPosture();
            assertThat(posture.getCapabilitiesList()).isEmpty();
            assertThat(posture.getRegainableCapabilitiesList()).isEmpty();
            assertThat(posture.getNoNewPrivs()).isTrue();
            assertThat(posture.getWritablePathsList())
                    .anyMatch(p -> p.startsWith(KERNEL.mount().resolve("cgroup.procs") + " "));
            assertThat(privileges(nobody)).isEmpty();
            assertThat(privileges(readOnly)).isEmpty();
            assertThat(privileges(userNs)).isEmpty();
        } finally {
            running.forEach(Process::destroyForcibly);
        }
    }
}
