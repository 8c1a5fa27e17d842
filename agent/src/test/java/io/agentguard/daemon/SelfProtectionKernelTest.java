package io.agentguard.daemon;

import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.TamperKind;
import io.agentguard.proto.v1.Verdict;
import io.agentguard.proto.v1.Violation;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The daemon (this JVM, enforce mode) against processes in its agent cgroups that go for its
 * threads, its memory and its OOM score (bpf/self_protection.bpf.c, daemon/SelfProtection).
 * Stop and freeze need the daemon in a process and cgroup of its own: {@link SelfProtectionServiceKernelTest}.
 */
class SelfProtectionKernelTest {
    @RegisterExtension
    static final KernelAgentExtension KERNEL = new KernelAgentExtension(4096);

    private static final int PTRACE_SEIZE = 0x4206;

    private static String attacker() {
        return KernelAgentExtension.nativeTool("attacker").toString();
    }

    private static int daemonPid() {
        return (int) ProcessHandle.current().pid();
    }

    /** A thread of this JVM other than the main one: the hooks must know a tid, not only the tgid. */
    private static int daemonThread() throws IOException {
        try (Stream<Path> tasks = Files.list(Path.of("/proc/self/task"))) {
            return tasks.map(p -> Integer.parseInt(p.getFileName().toString())).filter(tid -> tid != daemonPid())
                    .findFirst().orElseThrow();
        }
    }

    private static Event tamperFrom(Path cg, TamperKind kind) throws InterruptedException {
        List<Event> found = KERNEL.await(e -> e.hasTamper() && e.getTamper().getKind() == kind
                && e.getProcess().getCgroupId() == KERNEL.cgroupId(cg), 1, Duration.ofSeconds(10));
        assertThat(found).as("a %s tamper event from %s", kind, cg).isNotEmpty();
        return found.getFirst();
    }

    private static Violation violationFrom(Path cg) throws InterruptedException {
        List<Violation> found = KERNEL.awaitViolations(v -> v.getRule().equals("agentguard: tampering with the agent stopped")
                && v.getProcess().getCgroupId() == KERNEL.cgroupId(cg), 1, Duration.ofSeconds(10));
        assertThat(found).isNotEmpty();
        return found.getFirst();
    }

    /** The daemon still classifies: a later exec in the agent cgroups arrives as an event. */
    private static void daemonStillWorks() throws Exception {
        Path cg = KERNEL.newCgroup("after");
        KernelAgentExtension.Run run = KERNEL.runIn(cg, "/bin/true");
        assertThat(KERNEL.await(e -> e.hasExec() && e.getProcess().getPid() == run.pid()
                && e.getProcess().getCgroupId() == KERNEL.cgroupId(cg), 1, Duration.ofSeconds(10))).isNotEmpty();
    }

    @Test
    void ptraceSeizeOfADaemonThreadKillsTheTracerAndTheDaemonKeepsWorking() throws Exception {
        Path cg = KERNEL.newCgroup("seize");
        int tid = daemonThread();
        KernelAgentExtension.Run run = KERNEL.runIn(cg, attacker(), "ptrace-seize", String.valueOf(tid));
        assertThat(run.exitStatus()).as(run.stdout()).isEqualTo(128 + 9);
        assertThat(run.stdout()).doesNotContain("seized");
        Event e = tamperFrom(cg, TamperKind.TAMPER_KIND_PTRACE);
        assertThat(e.getTamper().getTargetPid()).isEqualTo(daemonPid());
        assertThat(e.getTamper().getTargetTid()).isEqualTo(tid);
        assertThat(e.getTamper().getValue()).isEqualTo(PTRACE_SEIZE);
        assertThat(e.getTamper().getVerdict()).isEqualTo(Verdict.VERDICT_DENIED);
        assertThat(violationFrom(cg).getProcess().getPid()).isEqualTo(run.pid());
        // the tracer died: the kernel detached it, nothing of this JVM is traced
        assertThat(Files.readString(Path.of("/proc/self/task/" + tid + "/status"))).containsPattern("TracerPid:\\s+0\n");
        daemonStillWorks();
    }

    @Test
    void openingTheDaemonsMemoryFromAnAgentCgroupIsReportedAndKilled() throws Exception {
        Path cg = KERNEL.newCgroup("mem");
        KernelAgentExtension.Run run = KERNEL.runIn(cg, attacker(), "open-mem", String.valueOf(daemonPid()));
        assertThat(run.exitStatus()).as(run.stdout()).isEqualTo(128 + 9);
        assertThat(run.stdout()).doesNotContain("opened");
        Event e = tamperFrom(cg, TamperKind.TAMPER_KIND_PROC_MEM);
        assertThat(e.getTamper().getTargetPid()).isEqualTo(daemonPid());
        assertThat(violationFrom(cg).getProcess().getPid()).isEqualTo(run.pid());
    }

    @Test
    void theDaemonIsNotDumpableSoARootProcessWithoutCapabilitiesCannotOpenItsMemory() throws Exception {
        // non-dumpable: ptrace_may_access wants CAP_SYS_PTRACE even from the daemon's own uid (root). Yama
        // (ptrace_scope 1, common) refuses non-descendants too, so the mark itself is checked as well
        assertThat(io.agentguard.bpf.Libc.prctl(io.agentguard.bpf.Libc.PR_GET_DUMPABLE, 0)).isZero();
        // outside the agent cgroups (nothing kills it)
        Process p = new ProcessBuilder("setpriv", "--bounding-set=-all", "--inh-caps=-all", attacker(), "open-mem",
                String.valueOf(daemonPid())).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor()).as(out).isZero();
        assertThat(out).isEqualTo("EACCES\n");
    }

    @Test
    void anOomScoreAdjWriteIsReportedTheWriterKilledAndTheValuePutBack() throws Exception {
        Path self = Path.of("/proc/self/oom_score_adj");
        String before = Files.readString(self).trim();
        Path cg = KERNEL.newCgroup("oom");
        KernelAgentExtension.Run run = KERNEL.runIn(cg, "/bin/sh", "-c", "echo 1000 > /proc/" + daemonPid()
                + "/oom_score_adj; echo survived");
        assertThat(run.stdout()).doesNotContain("survived");
        assertThat(run.exitStatus()).isEqualTo(128 + 9);
        Event e = tamperFrom(cg, TamperKind.TAMPER_KIND_OOM_SCORE_ADJ);
        assertThat(e.getTamper().getValue()).isEqualTo(1000);
        assertThat(e.getTamper().getTargetPid()).isEqualTo(daemonPid());
        assertThat(violationFrom(cg).getProcess().getPid()).isEqualTo(run.pid());
        String now = Files.readString(self).trim();
        for (int i = 0; i < 100 && !now.equals(before); i++) {   // the daemon looks twice a second
            Thread.sleep(50);
            now = Files.readString(self).trim();
        }
        assertThat(now).isEqualTo(before);
    }
}
