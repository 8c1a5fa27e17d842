package io.agentguard.daemon;

import io.agentguard.config.AgentConfig;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.Verdict;
import io.agentguard.scope.AgentCgroups;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.agentguard.daemon.EnforcementKernelTest.policies;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Enforcement never depends on ring space: while one agent cgroup floods a small ring (no
 * rate limit here, so that the ring really is full), denials elsewhere still deny and are
 * still reported, from the space ordinary records must leave free. The red team's flood let
 * 39 of 40 compute contexts through and lost the records of a killed miner and a denied connect.
 */
class FailClosedKernelTest {
    private static final int ATTEMPTS = 20;

    @RegisterExtension
    static final KernelAgentExtension KERNEL = new KernelAgentExtension(256, 16384,
            io.agentguard.config.SyscallOutcomes.OFF).configure(b -> b.enforce(true)
            .recordLimits(new AgentConfig.RecordLimits(0, 0, 4096))
            .defaultPolicy(policies("""
                    egress: {default: allow, deny: [127.66.9.0/24]}
                    gpu: {devices: all, compute: false}
                    exec: {deny: [xmrig]}
                """)));

    private static List<Process> flood(Path cgroup, int processes) throws Exception {
        List<Process> flooders = new ArrayList<>();
        for (int i = 0; i < processes; i++) {
            flooders.add(new ProcessBuilder(AgentCgroups.argvInside(cgroup, List.of(
                    KernelAgentExtension.nativeTool("attacker").toString(), "ioctl-flood",
                    KERNEL.standin("nvidia0").toString(), "100000000"))).start());
        }
        return flooders;
    }

    private static void stop(List<Process> flooders) throws InterruptedException {
        for (Process p : flooders) {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void computeContextsAreKilledAndDenialsReportedWhileAFloodFillsTheRing() throws Exception {
        Path flooding = KERNEL.newCgroup("flooding");
        Path victim = KERNEL.newCgroup("denied");
        Path dir = Files.createTempDirectory("agentguard-failclosed");
        Path miner = dir.resolve("xmrig");
        Files.writeString(miner, "#!/bin/sh\ntouch " + dir.resolve("mined") + "\n");
        Files.setPosixFilePermissions(miner, PosixFilePermissions.fromString("rwxr-xr-x"));
        List<Process> flooders = flood(flooding, 2);
        try {
            Thread.sleep(200);   // the ring is full from here on
            for (int i = 0; i < ATTEMPTS; i++) {
                KernelAgentExtension.Run replay = KERNEL.runIn(victim, KernelAgentExtension.nativeTool("nvreplay").toString(),
                        "--ctl", KERNEL.standin("nvidiactl").toString(), "--gpu", KERNEL.standin("nvidia0").toString(),
                        "--uvm", KERNEL.standin("nvidia-uvm").toString());
                assertThat(replay.exitStatus()).as("compute attempt %d", i).isEqualTo(128 + 9);
                assertThat(KERNEL.runIn(victim, KernelAgentExtension.nativeTool("connector").toString(), "tcp4",
                        "127.66.9.1", "80").stdout()).isEqualTo("EPERM\n");
            }
            assertThat(KERNEL.runIn(victim, miner.toString()).exitStatus()).isEqualTo(128 + 9);
            assertThat(dir.resolve("mined")).doesNotExist();
        } finally {
            stop(flooders);
        }
        long victimId = KERNEL.cgroupId(victim);
        List<Event> seen = KERNEL.await(e -> e.getProcess().getCgroupId() == victimId && (
                (e.hasConnect() && e.getConnect().getVerdict() == Verdict.VERDICT_DENIED)
                || (e.hasGpu() && e.getGpu().hasIoctl() && e.getGpu().getIoctl().getVerdict() == Verdict.VERDICT_DENIED)
                || (e.hasExec() && e.getExec().getVerdict() == Verdict.VERDICT_DENIED)), 2 * ATTEMPTS + 1,
                Duration.ofSeconds(20));
        assertThat(seen.stream().filter(Event::hasConnect)).hasSize(ATTEMPTS);
        assertThat(seen.stream().filter(Event::hasGpu)).hasSize(ATTEMPTS);
        assertThat(seen.stream().filter(Event::hasExec)).hasSize(1);
        // a rule of the default pack names the miner; without one, "agentguard: exec killed by policy" would
        assertThat(KERNEL.awaitViolations(v -> v.getProcess().getCgroupId() == victimId && v.getEvidence(0).hasExec()
                && v.getEvidence(0).getExec().getVerdict() == Verdict.VERDICT_DENIED, 1, Duration.ofSeconds(5))).isNotEmpty();
        // the flood itself lost records, and the agent says so, naming the flooding cgroup
        String flooder = KERNEL.mount().relativize(flooding).toString();
        assertThat(KERNEL.awaitViolations(v -> v.getRule().equals("agentguard: events lost")
                && v.getCgroupPath().equals(flooder), 1, Duration.ofSeconds(5)))
                .first().satisfies(v -> assertThat(v.getEvidence(0).getLoss().getRingFull()).isPositive());
    }
}
