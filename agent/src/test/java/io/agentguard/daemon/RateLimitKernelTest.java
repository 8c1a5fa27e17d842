package io.agentguard.daemon;

import io.agentguard.config.AgentConfig;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.Violation;
import io.agentguard.scope.AgentCgroups;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * One agent cgroup's flood cannot blind the agent to the others: the kernel holds each agent
 * cgroup to its record budget, counts what it drops, and the agent raises an "events lost"
 * violation for the flooding cgroup only.
 */
class RateLimitKernelTest {
    @RegisterExtension
    static final KernelAgentExtension KERNEL = new KernelAgentExtension(256, 1 << 20,
            io.agentguard.config.SyscallOutcomes.OFF).configure(b -> b.enforce(true)
            .recordLimits(new AgentConfig.RecordLimits(500, 100, 1 << 17))
            .defaultPolicy(EnforcementKernelTest.policies("""
                    egress: {default: allow, deny: [127.66.9.0/24]}
                    gpu: {devices: all, compute: true}
                    exec: {deny: [xmrig]}
                """)));

    @Test
    void aFloodingCgroupIsHeldToItsBudgetAndReportedWhileAnotherIsSeenInFull() throws Exception {
        Path flooding = KERNEL.newCgroup("flooding");
        Path quiet = KERNEL.newCgroup("quiet");
        int closedPort;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            closedPort = s.getLocalPort();
        }
        Process flood = new ProcessBuilder(AgentCgroups.argvInside(flooding, List.of(
                KernelAgentExtension.nativeTool("attacker").toString(), "connect-flood", "127.0.0.1",
                String.valueOf(closedPort), "20000"))).start();
        for (int i = 0; i < 5; i++) {
            assertThat(KERNEL.runIn(quiet, "/bin/true").exitStatus()).isZero();
        }
        assertThat(flood.waitFor(60, TimeUnit.SECONDS)).isTrue();

        long quietId = KERNEL.cgroupId(quiet);
        assertThat(KERNEL.await(e -> e.getProcess().getCgroupId() == quietId && e.hasExec()
                && e.getExec().getFilename().equals("/bin/true"), 5, Duration.ofSeconds(10))).hasSize(5);
        String flooder = KERNEL.mount().relativize(flooding).toString();
        List<Violation> lost = KERNEL.awaitViolations(v -> v.getRule().equals("agentguard: events lost")
                && v.getCgroupPath().equals(flooder), 1, Duration.ofSeconds(10));
        assertThat(lost).isNotEmpty();
        Event first = lost.getFirst().getEvidence(0);
        assertThat(first.getLoss().getRateLimited()).isPositive();
        assertThat(first.getLoss().getCgroupId()).isEqualTo(KERNEL.cgroupId(flooding));
        long seenFromFlood = KERNEL.snapshot(e -> e.getProcess().getCgroupId() == KERNEL.cgroupId(flooding)
                && e.hasConnect()).size();
        assertThat(seenFromFlood).isLessThan(20000);
        String quietPath = KERNEL.mount().relativize(quiet).toString();
        assertThat(KERNEL.awaitViolations(v -> v.getRule().equals("agentguard: events lost")
                && v.getCgroupPath().equals(quietPath), 1, Duration.ZERO)).isEmpty();
    }

    @Test
    void aFloodOfDenialsOverThePriorityBudgetCannotHideAKill() throws Exception {
        Path cg = KERNEL.newCgroup("denials");
        Path dir = java.nio.file.Files.createTempDirectory("agentguard-ratelimit");
        Path miner = dir.resolve("xmrig");
        java.nio.file.Files.writeString(miner, "#!/bin/sh\necho mined\n");
        java.nio.file.Files.setPosixFilePermissions(miner,
                java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        // 2000 denied connects (each a priority record; the budget is 100/s), then the miner at once
        KernelAgentExtension.Run run = KERNEL.runIn(cg, "/bin/sh", "-c", KernelAgentExtension.nativeTool("attacker")
                + " connect-flood 127.66.9.1 80 2000; exec " + miner);
        assertThat(run.exitStatus()).isEqualTo(128 + 9);
        assertThat(run.stdout()).doesNotContain("mined");
        long id = KERNEL.cgroupId(cg);
        assertThat(KERNEL.await(e -> e.getProcess().getCgroupId() == id && e.hasExec()
                && e.getExec().getVerdict() == io.agentguard.proto.v1.Verdict.VERDICT_DENIED, 1, Duration.ofSeconds(10)))
                .hasSize(1);
        assertThat(KERNEL.snapshot(e -> e.getProcess().getCgroupId() == id && e.hasConnect())).hasSizeLessThan(2000);
        String path = KERNEL.mount().relativize(cg).toString();
        assertThat(KERNEL.awaitViolations(v -> v.getRule().equals("agentguard: events lost")
                && v.getCgroupPath().equals(path), 1, Duration.ofSeconds(10))).isNotEmpty();
    }
}
