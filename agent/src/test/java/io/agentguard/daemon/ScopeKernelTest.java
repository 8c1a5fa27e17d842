package io.agentguard.daemon;

import io.agentguard.config.Policies;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.ScopeExit;
import io.agentguard.proto.v1.Verdict;
import io.agentguard.proto.v1.Violation;
import io.agentguard.scope.AgentCgroups;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Scope follows the task (enforce mode): an agent process that leaves its cgroup, by writing
 * cgroup.procs or by clone3(CLONE_INTO_CGROUP), is killed before it runs outside, and the
 * violation names the cgroup it came from. Each test plays the move the red team made.
 */
class ScopeKernelTest {
    /** Started before the agent, in the agent root; it waits on the fifo, then moves itself out. */
    private static Process earlyBird;
    private static Path earlyFifo;
    private static Path earlyOutside;

    @RegisterExtension
    static final KernelAgentExtension KERNEL = new KernelAgentExtension(4096)
            .configure(b -> b.enforce(true).defaultPolicy(Policies.UNRESTRICTED))
            .beforeStart(root -> {
                try {
                    Path dir = Files.createTempDirectory("agentguard-scope");
                    earlyFifo = dir.resolve("go");
                    earlyOutside = root.getParent().resolve("early-outside-" + root.getFileName());
                    Files.createDirectories(earlyOutside);
                    new ProcessBuilder("mkfifo", earlyFifo.toString()).start().waitFor();
                    // shell builtins only after the move in: no exec, no fork the kernel would see
                    earlyBird = new ProcessBuilder(AgentCgroups.argvInside(root, List.of("/bin/sh", "-c",
                            "read x < " + earlyFifo + "; echo $$ > " + earlyOutside + "/cgroup.procs; echo moved")))
                            .redirectErrorStream(true).start();
                    awaitIn(earlyBird.pid(), root);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });

    @AfterAll
    static void removeEarlyOutside() throws IOException {
        if (earlyBird != null) {
            earlyBird.destroyForcibly();
        }
        if (earlyOutside != null) {
            Files.deleteIfExists(earlyOutside);
        }
    }

    private static void awaitIn(long pid, Path cgroup) throws IOException, InterruptedException {
        for (int i = 0; i < 500; i++) {
            if (Files.readAllLines(cgroup.resolve("cgroup.procs")).contains(String.valueOf(pid))) {
                return;
            }
            Thread.sleep(10);
        }
        throw new IllegalStateException(pid + " never reached " + cgroup);
    }

    private static String relative(Path cgroup) {
        return KERNEL.mount().relativize(cgroup).toString();
    }

    private static List<Violation> leftScope(Path origin, int count) throws InterruptedException {
        return leftScope(origin, count, Duration.ofSeconds(10));
    }

    private static List<Violation> leftScope(Path origin, int count, Duration timeout) throws InterruptedException {
        return KERNEL.awaitViolations(v -> v.getRule().startsWith("agentguard: process left the agent cgroups")
                && v.getEvidence(0).getScope().getOriginCgroupPath().equals(relative(origin)), count, timeout);
    }

    @Test
    void aProcessThatMovesItselfOutIsKilledBeforeItCanConnect() throws Exception {
        Path cg = KERNEL.newCgroup("self-move");
        Path outside = KERNEL.outsideCgroup("self-move");
        try (ServerSocket pool = new ServerSocket(0, 10, InetAddress.getByName("127.66.0.1"))) {
            pool.setSoTimeout(500);
            KernelAgentExtension.Run run = KERNEL.runIn(cg, "/bin/sh", "-c", "echo $$ > " + outside
                    + "/cgroup.procs; echo moved; exec " + KernelAgentExtension.nativeTool("connector") + " tcp4 127.66.0.1 "
                    + pool.getLocalPort());
            assertThat(run.exitStatus()).isEqualTo(128 + 9);
            assertThat(run.stdout()).doesNotContain("moved");
            try (var accepted = pool.accept()) {
                throw new AssertionError("the escaped process reached the pool: " + accepted);
            } catch (SocketTimeoutException expected) {
                // nothing connected
            }
        }
        Violation v = leftScope(cg, 1).getFirst();
        assertThat(v.getRule()).isEqualTo("agentguard: process left the agent cgroups");
        assertThat(v.getPriority().name()).isEqualTo("PRIORITY_CRITICAL");
        Event e = v.getEvidence(0);
        assertThat(e.getScope().getHow()).isEqualTo(ScopeExit.SCOPE_EXIT_CGROUP_WRITE);
        assertThat(e.getScope().getVerdict()).isEqualTo(Verdict.VERDICT_DENIED);
        assertThat(e.getScope().getDestCgroupPath()).isEqualTo(relative(outside));
        assertThat(e.getScope().getMoverWatched()).isTrue();
        assertThat(v.getOutput()).contains(relative(cg)).contains(relative(outside));
    }

    @Test
    void aProcessThatHasIoUringWriteCgroupProcsForItIsKilledToo() throws Exception {
        // the write is made by an io-wq worker: a thread the kernel made without a fork
        Path cg = KERNEL.newCgroup("uring-move");
        Path outside = KERNEL.outsideCgroup("uring-move");
        KernelAgentExtension.Run run = KERNEL.runIn(cg, KernelAgentExtension.nativeTool("attacker").toString(),
                "uring-write", outside.resolve("cgroup.procs").toString(), "0", "/bin/sh", "-c", "echo escaped");
        assertThat(run.exitStatus()).isEqualTo(128 + 9);
        assertThat(run.stdout()).doesNotContain("escaped");
        Event e = leftScope(cg, 1).getFirst().getEvidence(0);
        assertThat(e.getScope().getVerdict()).isEqualTo(Verdict.VERDICT_DENIED);
        assertThat(e.getScope().getMoverWatched()).isTrue();
    }

    @Test
    void aProcessWhoseMainThreadHasExitedIsKilledWhenItsOtherThreadMovesItOut() throws Exception {
        // the kernel leaves an exiting leader behind and names it to the tracepoint
        Path cg = KERNEL.newCgroup("leader-exit");
        Path outside = KERNEL.outsideCgroup("leader-exit");
        KernelAgentExtension.Run run = KERNEL.runIn(cg, KernelAgentExtension.nativeTool("attacker").toString(),
                "leader-exit-move", outside.resolve("cgroup.procs").toString(), "/bin/sh", "-c", "echo escaped");
        assertThat(run.stdout()).doesNotContain("escaped");
        assertThat(run.exitStatus()).isEqualTo(128 + 9);
        Event e = leftScope(cg, 1).getFirst().getEvidence(0);
        assertThat(e.getScope().getVerdict()).isEqualTo(Verdict.VERDICT_DENIED);
    }

    @Test
    void aChildMovedOutByItsParentIsKilledAndTheParentGoesOn() throws Exception {
        Path cg = KERNEL.newCgroup("parent-move");
        Path outside = KERNEL.outsideCgroup("parent-move");
        KernelAgentExtension.Run run = KERNEL.runIn(cg, "/bin/sh", "-c", "sleep 5 & child=$!; echo $child > " + outside
                + "/cgroup.procs; wait $child; echo child status $?");
        assertThat(run.exitStatus()).isZero();
        assertThat(run.stdout()).endsWith("child status " + (128 + 9) + "\n");
        Event e = leftScope(cg, 1).getFirst().getEvidence(0);
        assertThat(e.getScope().getVerdict()).isEqualTo(Verdict.VERDICT_DENIED);
        assertThat(e.getScope().getTaskPid()).isNotEqualTo(e.getProcess().getPid());   // the mover is the parent
        assertThat(e.getProcess().getPid()).isEqualTo(run.pid());
    }

    @Test
    void aChildBornOutsideByClone3IntoCgroupIsKilledBeforeItRuns() throws Exception {
        Path cg = KERNEL.newCgroup("clone3");
        Path outside = KERNEL.outsideCgroup("clone3");
        KernelAgentExtension.Run run = KERNEL.runIn(cg, KernelAgentExtension.nativeTool("attacker").toString(),
                "clone-into", outside.toString(), "/bin/sh", "-c", "echo escaped");
        assertThat(run.stdout()).isEqualTo("killed by signal 9\n");
        Event e = leftScope(cg, 1).getFirst().getEvidence(0);
        assertThat(e.getScope().getHow()).isEqualTo(ScopeExit.SCOPE_EXIT_CLONE_INTO_CGROUP);
        assertThat(e.getScope().getDestCgroupPath()).isEqualTo(relative(outside));
        assertThat(e.getScope().getVerdict()).isEqualTo(Verdict.VERDICT_DENIED);
    }

    @Test
    void aProcessThatWasThereBeforeTheAgentStartedIsFollowedToo() throws Exception {
        Files.writeString(earlyFifo, "go\n");   // the early bird reads it and moves itself out
        assertThat(earlyBird.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(earlyBird.exitValue()).isEqualTo(128 + 9);
        assertThat(new String(earlyBird.getInputStream().readAllBytes(), StandardCharsets.UTF_8)).doesNotContain("moved");
        Path root = KERNEL.mount().resolve(KERNEL.rootRelative());
        assertThat(leftScope(root, 1)).singleElement().satisfies(v ->
                assertThat(v.getEvidence(0).getScope().getTaskPid()).isEqualTo((int) earlyBird.pid()));
    }

    @Test
    void aProcessMovedOutByTheHostIsReleasedWithoutAViolation() throws Exception {
        Path cg = KERNEL.newCgroup("host-move");
        Path outside = KERNEL.outsideCgroup("host-move");
        Process p = new ProcessBuilder(AgentCgroups.argvInside(cg, List.of("/bin/sleep", "1"))).start();
        awaitIn(p.pid(), cg);
        Files.writeString(outside.resolve("cgroup.procs"), String.valueOf(p.pid()));   // by this JVM: the host
        assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isZero();
        List<Event> scope = KERNEL.await(e -> e.hasScope() && e.getScope().getTaskPid() == p.pid(), 1,
                Duration.ofSeconds(10));
        assertThat(scope).singleElement().satisfies(e -> {
            assertThat(e.getScope().getVerdict()).isEqualTo(Verdict.VERDICT_ALLOWED);
            assertThat(e.getScope().getMoverWatched()).isFalse();
        });
        assertThat(leftScope(cg, 1, Duration.ZERO)).isEmpty();   // made with the event, if at all
    }
}
