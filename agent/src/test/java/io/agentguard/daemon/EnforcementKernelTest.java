package io.agentguard.daemon;

import io.agentguard.config.AgentConfigLoader;
import io.agentguard.config.Policy;
import io.agentguard.proto.v1.ConnectEvent;
import io.agentguard.proto.v1.ConnectOutcome;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.GpuIoctl;
import io.agentguard.proto.v1.TamperKind;
import io.agentguard.proto.v1.Verdict;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Enforce mode on the real kernel: what a policy denies fails (EPERM) or dies before it
 * takes effect, what it allows works, and every decision is an event with its verdict.
 */
class EnforcementKernelTest {
    static final int DENIED_V6_PORT = 5999;
    static final Path SCRATCH;

    static {
        try {
            SCRATCH = Files.createTempDirectory("agentguard-enforce");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Policy policies(String yaml) {
        return AgentConfigLoader.parse("test", "agent_cgroups: [x]\npolicies:\n  default:\n" + yaml).defaultPolicy();
    }

    @RegisterExtension
    static final KernelAgentExtension KERNEL = new KernelAgentExtension(4096).configure(b -> {
        Policy base = policies("""
                    egress:
                      default: allow
                      deny: [127.66.9.0/24, "::1/128 tcp/%d"]
                    gpu: {devices: none, compute: false}
                    exec: {deny: [xmrig]}
                """.formatted(DENIED_V6_PORT));
        return b.enforce(true).defaultPolicy(base);
    });

    private Path policyCgroup(String suffix, boolean devices, boolean compute, List<String> computeExes) throws Exception {
        // cgroup policies are placed at start; this test adds them by restarting the policy set
        Path cg = KERNEL.newCgroup(suffix);
        KERNEL.agent().addPolicyForTest(new Policy(KERNEL.mount().relativize(cg).toString(), null, false, List.of(),
                devices, 0, compute, computeExes, List.of("xmrig"), List.of()));
        return cg;
    }

    private static String connector() {
        return KernelAgentExtension.nativeTool("connector").toString();
    }

    private List<ConnectEvent> connects(Path cg, int n) throws InterruptedException {
        return KERNEL.await(e -> e.getProcess().getCgroupId() == KERNEL.cgroupId(cg) && e.hasConnect(), n,
                Duration.ofSeconds(10)).stream().map(Event::getConnect).toList();
    }

    @Test
    void deniedConnectsFailWithEpermAndAllowedOnesGoThrough() throws Exception {
        Path cg = KERNEL.newCgroup("egress");
        try (ServerSocket allowed = new ServerSocket(0, 10, InetAddress.getByName("127.66.0.1"));
             ServerSocket allowed6 = new ServerSocket(0, 10, InetAddress.getByName("::1"))) {
            assertThat(KERNEL.runIn(cg, connector(), "tcp4", "127.66.9.1", "80").stdout()).isEqualTo("EPERM\n");
            assertThat(KERNEL.runIn(cg, connector(), "tcp4", "127.66.0.1", String.valueOf(allowed.getLocalPort()))
                    .stdout()).isEqualTo("ok\n");
            assertThat(KERNEL.runIn(cg, connector(), "tcp6", "::1", String.valueOf(DENIED_V6_PORT)).stdout())
                    .isEqualTo("EPERM\n");
            assertThat(KERNEL.runIn(cg, connector(), "tcp6", "::1", String.valueOf(allowed6.getLocalPort())).stdout())
                    .isEqualTo("ok\n");
            assertThat(KERNEL.runIn(cg, connector(), "udp4", "127.66.9.2", "53").stdout()).isEqualTo("EPERM\n");
            assertThat(KERNEL.runIn(cg, connector(), "sendto4", "127.66.9.3", "53").stdout()).isEqualTo("EPERM\n");
            assertThat(KERNEL.runIn(cg, connector(), "sendto4", "127.66.0.3", "53").stdout()).isEqualTo("ok\n");
        }
        List<ConnectEvent> c = connects(cg, 6);
        assertThat(c).filteredOn(e -> e.getAddress().equals("127.66.9.1")).singleElement().satisfies(e -> {
            assertThat(e.getVerdict()).isEqualTo(Verdict.VERDICT_DENIED);
            assertThat(e.getOutcome()).isEqualTo(ConnectOutcome.CONNECT_OUTCOME_DENIED);
            assertThat(e.getErrorName()).isEqualTo("EPERM");
        });
        assertThat(c).filteredOn(e -> e.getAddress().equals("127.66.0.1")).singleElement()
                .satisfies(e -> assertThat(e.getVerdict()).isEqualTo(Verdict.VERDICT_ALLOWED));
        assertThat(c).filteredOn(e -> e.getPort() == DENIED_V6_PORT).singleElement()
                .satisfies(e -> assertThat(e.getVerdict()).isEqualTo(Verdict.VERDICT_DENIED));
        assertThat(c).filteredOn(e -> e.getAddress().equals("127.66.9.3")).singleElement().satisfies(e -> {
            assertThat(e.getSendmsg()).isTrue();
            assertThat(e.getVerdict()).isEqualTo(Verdict.VERDICT_DENIED);
        });
        assertThat(c).noneMatch(e -> e.getAddress().equals("127.66.0.3"));   // allowed sends are not reported
    }

    @Test
    void nvidiaDeviceOpenIsDeniedWithEpermWhereNoGpuIsGranted() throws Exception {
        Path node = SCRATCH.resolve("nvidia0");
        Process mknod = new ProcessBuilder("mknod", node.toString(), "c", "195", "0").inheritIO().start();
        assertThat(mknod.waitFor()).isZero();
        Path denied = KERNEL.newCgroup("nogpu");
        Path granted = policyCgroup("gpuok", true, true, List.of());
        // no driver here: a granted open reaches the (absent) driver and fails with ENXIO instead
        assertThat(KERNEL.runIn(denied, connector(), "open", node.toString()).stdout()).isEqualTo("EPERM\n");
        assertThat(KERNEL.runIn(granted, connector(), "open", node.toString()).stdout()).isEqualTo("ENXIO\n");
        List<Event> opens = KERNEL.await(e -> e.hasGpu() && e.getGpu().hasOpen()
                && e.getProcess().getCgroupId() == KERNEL.cgroupId(denied), 1, Duration.ofSeconds(10));
        assertThat(opens.getFirst().getGpu().getOpen().getVerdict()).isEqualTo(Verdict.VERDICT_DENIED);
    }

    @Test
    void aDeniedProgramNeverRuns() throws Exception {
        Path marker = SCRATCH.resolve("ran-" + System.nanoTime());
        Path script = SCRATCH.resolve("xmrig");
        Files.writeString(script, "#!/bin/sh\ntouch " + marker + "\n");
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path cg = KERNEL.newCgroup("exec");
        KernelAgentExtension.Run run = KERNEL.runIn(cg, script.toString());
        assertThat(run.exitStatus()).isEqualTo(128 + 9);
        assertThat(marker).doesNotExist();
        List<Event> execs = KERNEL.await(e -> e.hasExec() && e.getExec().getFilename().equals(script.toString()), 1,
                Duration.ofSeconds(10));
        assertThat(execs.getFirst().getExec().getVerdict()).isEqualTo(Verdict.VERDICT_DENIED);
        assertThat(KERNEL.await(e -> e.hasExit() && e.getProcess().getPid() == run.pid(), 1, Duration.ofSeconds(10))
                .getFirst().getExit().getSignalName()).isEqualTo("SIGKILL");
    }

    @Test
    void aProgramDeniedByItsPathNeverRunsAndAnotherPathStillDoes() throws Exception {
        Path marker = SCRATCH.resolve("ran-" + System.nanoTime());
        Path denied = SCRATCH.resolve("payload-" + System.nanoTime());
        Path allowed = SCRATCH.resolve("payload-ok-" + System.nanoTime());
        for (Path script : List.of(denied, allowed)) {
            Files.writeString(script, "#!/bin/sh\ntouch " + marker + "-$(basename $0)\n");
            Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        Path cg = KERNEL.newCgroup("exec-path");
        KERNEL.agent().addPolicyForTest(new Policy(KERNEL.mount().relativize(cg).toString(), null, false, List.of(),
                false, 0, false, List.of(), List.of(), List.of(denied.toString())));
        assertThat(KERNEL.runIn(cg, denied.toString()).exitStatus()).isEqualTo(128 + 9);
        assertThat(Path.of(marker + "-" + denied.getFileName())).doesNotExist();
        assertThat(KERNEL.runIn(cg, allowed.toString()).exitStatus()).isZero();
        assertThat(Path.of(marker + "-" + allowed.getFileName())).exists();
    }

    private KernelAgentExtension.Run replay(Path cg) throws Exception {
        return KERNEL.runIn(cg, KernelAgentExtension.nativeTool("nvreplay").toString(), "-v", "--ctl",
                KERNEL.standin("nvidiactl").toString(), "--gpu", KERNEL.standin("nvidia0").toString(), "--uvm",
                KERNEL.standin("nvidia-uvm").toString());
    }

    @Test
    void aComputeContextWithoutGrantIsKilledBeforeTheIoctlReturns() throws Exception {
        Path cg = policyCgroup("nocompute", true, false, List.of());
        KernelAgentExtension.Run run = replay(cg);
        assertThat(run.exitStatus()).isEqualTo(128 + 9);
        // -v prints each call after it returns: the compute allocation never printed
        assertThat(run.stdout()).contains("class=0xc86f").doesNotContain("class=0xcbc0");
        List<GpuIoctl> ioctls = KERNEL.settle(KERNEL.cgroupId(cg), 300).stream().filter(e -> e.hasGpu()
                && e.getGpu().hasIoctl()).map(e -> e.getGpu().getIoctl()).toList();
        assertThat(ioctls.getLast().getComputeContext()).isTrue();
        assertThat(ioctls.getLast().getVerdict()).isEqualTo(Verdict.VERDICT_DENIED);
    }

    @Test
    void anAllowedExecutableMayCreateComputeContexts() throws Exception {
        Path cg = policyCgroup("exeok", true, false, List.of(KernelAgentExtension.nativeTool("nvreplay").toString()));
        assertThat(replay(cg).exitStatus()).isZero();
        Path trainer = policyCgroup("computeok", true, true, List.of());
        assertThat(replay(trainer).exitStatus()).isZero();
    }

    @Test
    void aProcessInAnAgentCgroupCannotSignalTheDaemon() throws Exception {
        Path cg = KERNEL.newCgroup("tamper");
        long daemon = ProcessHandle.current().pid();
        KernelAgentExtension.Run run = KERNEL.runIn(cg, "/bin/sh", "-c", "kill -WINCH " + daemon + "; echo survived");
        assertThat(run.stdout()).doesNotContain("survived");
        assertThat(run.exitStatus()).isEqualTo(128 + 9);
        List<Event> tamper = KERNEL.await(e -> e.hasTamper() && e.getProcess().getCgroupId() == KERNEL.cgroupId(cg), 1,
                Duration.ofSeconds(10));
        assertThat(tamper.getFirst().getTamper().getKind()).isEqualTo(TamperKind.TAMPER_KIND_SIGNAL);
        assertThat(tamper.getFirst().getTamper().getSignalName()).isEqualTo("SIGWINCH");
        assertThat(tamper.getFirst().getTamper().getTargetPid()).isEqualTo((int) daemon);
        assertThat(tamper.getFirst().getTamper().getVerdict()).isEqualTo(Verdict.VERDICT_DENIED);
        // a violation too, with no rule of the operator's needed
        assertThat(KERNEL.awaitViolations(v -> v.getRule().equals("agentguard: tampering with the agent stopped")
                && v.getProcess().getCgroupId() == KERNEL.cgroupId(cg), 1, Duration.ofSeconds(10)))
                .singleElement().satisfies(v -> assertThat(v.getRuleSource()).isEqualTo("kernel"));
    }

    @Test
    void aPolicyReloadAppliesAtOnceAndABadOneChangesNothing() throws Exception {
        Path cg = KERNEL.newCgroup("reload");
        assertThat(KERNEL.runIn(cg, connector(), "tcp4", "127.66.8.1", "80").stdout()).isEqualTo("ECONNREFUSED\n");
        io.agentguard.config.AgentConfig next = AgentConfigLoader.parse("next.yaml", """
                agent_cgroups: [x]
                policies:
                  default:
                    egress: {default: allow, deny: [127.66.8.0/24, 127.66.9.0/24, "::1/128 tcp/%d"]}
                    gpu: {devices: none, compute: false}
                    exec: {deny: [xmrig]}
                """.formatted(DENIED_V6_PORT));
        assertThat(KERNEL.agent().reloadPolicies(next)).isNull();
        assertThat(KERNEL.runIn(cg, connector(), "tcp4", "127.66.8.1", "80").stdout()).isEqualTo("EPERM\n");
        // a policy for a cgroup outside the agent cgroups is refused as a whole: the 127.66.8.0/24 deny stays
        io.agentguard.config.AgentConfig bad = next.toBuilder().defaultPolicy(io.agentguard.config.Policies.UNRESTRICTED)
                .cgroupPolicies(List.of(new Policy("not/an/agent/cgroup", null, false, List.of(), true, 0, true,
                        List.of(), List.of(), List.of()))).build();
        assertThat(KERNEL.agent().reloadPolicies(bad)).contains("outside every agent cgroup");
        assertThat(KERNEL.runIn(cg, connector(), "tcp4", "127.66.8.1", "80").stdout()).isEqualTo("EPERM\n");
    }
}
