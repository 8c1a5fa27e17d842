package io.agentguard.daemon;

import io.agentguard.config.AgentConfigLoader;
import io.agentguard.proto.v1.ConnectOutcome;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.GpuIoctl;
import io.agentguard.proto.v1.Verdict;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Monitor mode: the same policy lets everything through and reports would_block verdicts. */
class MonitorModeKernelTest {
    @RegisterExtension
    static final KernelAgentExtension KERNEL = new KernelAgentExtension(4096).configure(b -> b.wakeupDelayMs(0).enforce(false)
            .defaultPolicy(AgentConfigLoader.parse("t", """
                    agent_cgroups: [x]
                    policies:
                      default:
                        egress: {default: allow, deny: [127.66.9.0/24]}
                        gpu: {devices: all, compute: false}
                        exec: {deny: [xmrig]}
                    """).defaultPolicy()));

    @Test
    void deniedThingsHappenAndAreReportedAsWouldBlock() throws Exception {
        Path cg = KERNEL.newCgroup("monitor");
        Path dir = Files.createTempDirectory("agentguard-monitor");
        Path marker = dir.resolve("ran");
        Path script = dir.resolve("xmrig");
        Files.writeString(script, "#!/bin/sh\ntouch " + marker + "\n");
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));

        String connector = KernelAgentExtension.nativeTool("connector").toString();
        assertThat(KERNEL.runIn(cg, connector, "tcp4", "127.66.9.1", "80").stdout()).isEqualTo("ECONNREFUSED\n");
        assertThat(KERNEL.runIn(cg, script.toString()).exitStatus()).isZero();
        assertThat(marker).exists();
        KernelAgentExtension.Run replay = KERNEL.runIn(cg, KernelAgentExtension.nativeTool("nvreplay").toString(),
                "--ctl", KERNEL.standin("nvidiactl").toString(), "--gpu", KERNEL.standin("nvidia0").toString(),
                "--uvm", KERNEL.standin("nvidia-uvm").toString());
        assertThat(replay.exitStatus()).isZero();
        long daemon = ProcessHandle.current().pid();
        assertThat(KERNEL.runIn(cg, "/bin/sh", "-c", "kill -WINCH " + daemon + "; echo survived").stdout())
                .isEqualTo("survived\n");

        List<Event> events = KERNEL.settle(KERNEL.cgroupId(cg), 500);
        assertThat(events).filteredOn(Event::hasConnect).singleElement().satisfies(e -> {
            assertThat(e.getConnect().getVerdict()).isEqualTo(Verdict.VERDICT_WOULD_BLOCK);
            assertThat(e.getConnect().getOutcome()).isEqualTo(ConnectOutcome.CONNECT_OUTCOME_REFUSED);
        });
        assertThat(events).filteredOn(e -> e.hasExec() && e.getExec().getFilename().equals(script.toString()))
                .singleElement().satisfies(e -> assertThat(e.getExec().getVerdict()).isEqualTo(Verdict.VERDICT_WOULD_BLOCK));
        List<GpuIoctl> compute = events.stream().filter(e -> e.hasGpu() && e.getGpu().hasIoctl())
                .map(e -> e.getGpu().getIoctl()).filter(GpuIoctl::getComputeContext).toList();
        assertThat(compute).singleElement().satisfies(i -> assertThat(i.getVerdict()).isEqualTo(Verdict.VERDICT_WOULD_BLOCK));
        assertThat(events).filteredOn(Event::hasTamper).singleElement()
                .satisfies(e -> assertThat(e.getTamper().getVerdict()).isEqualTo(Verdict.VERDICT_WOULD_BLOCK));
    }

    @Test
    void aProcessThatLeavesTheAgentCgroupsRunsOnAndIsStillFollowed() throws Exception {
        Path cg = KERNEL.newCgroup("leaves");
        Path outside = KERNEL.outsideCgroup("leaves");
        KernelAgentExtension.Run run = KERNEL.runIn(cg, "/bin/sh", "-c", "echo $$ > " + outside
                + "/cgroup.procs; echo moved; exec /bin/true");
        assertThat(run.exitStatus()).isZero();
        assertThat(run.stdout()).isEqualTo("moved\n");
        String origin = KERNEL.mount().relativize(cg).toString();
        assertThat(KERNEL.awaitViolations(v -> v.getRule().equals("agentguard: process left the agent cgroups (monitor)")
                && v.getEvidence(0).getScope().getOriginCgroupPath().equals(origin), 1, java.time.Duration.ofSeconds(10)))
                .singleElement().satisfies(v -> assertThat(v.getEvidence(0).getScope().getVerdict())
                        .isEqualTo(Verdict.VERDICT_WOULD_BLOCK));
        // outside, its exec is still seen (the tracepoints follow the task, not the cgroup)
        assertThat(KERNEL.await(e -> e.hasExec() && e.getProcess().getPid() == run.pid()
                && e.getExec().getFilename().equals("/bin/true"), 1, java.time.Duration.ofSeconds(10)))
                .singleElement().satisfies(e -> assertThat(e.getProcess().getCgroupId()).isEqualTo(KERNEL.cgroupId(outside)));
    }
}
