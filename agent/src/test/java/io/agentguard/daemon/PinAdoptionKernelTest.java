package io.agentguard.daemon;

import io.agentguard.cli.Main;
import io.agentguard.config.AgentConfig;
import io.agentguard.config.AgentConfigLoader;
import io.agentguard.log.Log;
import io.agentguard.pipeline.KernelFindings;
import io.agentguard.proto.v1.TamperEvent;
import io.agentguard.proto.v1.Violation;
import io.agentguard.scope.AgentCgroups;
import io.agentguard.scope.Cgroup2Mount;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A restart over tampered pins: while no daemon ran, root detached a pinned link and pinned
 * another link under a second hook's name. The restarted daemon asks the kernel before it
 * adopts anything: both are replaced (enforcement back), and both are reported.
 */
class PinAdoptionKernelTest {
    @BeforeAll
    static void needsRoot() {
        KernelAgentExtension.requireRoot();
    }

    private static String connect(Path cgroup) throws Exception {
        Process p = new ProcessBuilder(AgentCgroups.argvInside(cgroup, List.of(
                KernelAgentExtension.nativeTool("connector").toString(), "tcp4", "127.66.0.1", "80")))
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        p.waitFor();
        return out;
    }

    @Test
    void aRestartDoesNotAdoptADetachedOrForeignPinnedLinkButReplacesAndReportsIt() throws Exception {
        String id = UUID.randomUUID().toString().substring(0, 8);
        String relative = "agentguard-test/adopt-" + id;
        Path mount = Cgroup2Mount.find();
        Path cgroup = mount.resolve(relative);
        Path pins = Path.of("/sys/fs/bpf/agentguard-test-" + id);
        Path run = Files.createTempDirectory("agentguard-adopt");
        AgentConfig config = AgentConfigLoader.embeddedDefault().toBuilder()
                .agentCgroups(List.of(relative)).createMissingCgroups(true)
                .defaultPolicy(AgentConfigLoader.parse("test", """
                        agent_cgroups: [x]
                        policies:
                          default:
                            egress: {default: allow, deny: [127.66.0.0/24]}
                        """).defaultPolicy())
                .enforce(true).rulePaths(List.of()).ruleWatchMs(0).statsIntervalMs(0)
                .emitEvents(false).pinPath(pins.toString()).verifyIntervalMs(200)
                .runtimeDir(run.toString()).metricsListen("")
                // the test's processes run as root with every capability: not what this test is about
                .posture(new io.agentguard.config.AgentConfig.Posture(false, 600_000, 0)).build();
        List<Violation> violations = new CopyOnWriteArrayList<>();
        try {
            try (Agent first = Agent.start(config, e -> { }, violations::add, Log.stderr())) {
                assertThat(connect(cgroup)).isEqualTo("EPERM");
            }   // a clean stop: the pinned hooks stay
            // nothing but the block of its denied connect (every block is a violation): no drift at a clean stop
            assertThat(violations).allMatch(v -> v.getBlockKind() == io.agentguard.proto.v1.BlockKind.BLOCK_KIND_CONNECT);
            long root = AgentCgroups.inode(cgroup);
            Path connect4 = pins.resolve("links/ag_connect4@" + root);
            Path connect6 = pins.resolve("links/ag_connect6@" + root);
            Path sendmsg4 = pins.resolve("links/ag_sendmsg4@" + root);

            // the red team, with no daemon running
            Bpftool.run("link", "detach", "id", String.valueOf(Bpftool.id(Bpftool.json("link", "show", "pinned",
                    connect4.toString()))));
            Files.delete(connect6);
            Bpftool.run("link", "pin", "id", String.valueOf(Bpftool.id(Bpftool.json("link", "show", "pinned",
                    sendmsg4.toString()))), connect6.toString());
            assertThat(connect(cgroup)).as("the attack took effect").isEqualTo("ECONNREFUSED");

            try (Agent second = Agent.start(config, e -> { }, violations::add, Log.stderr())) {
                assertThat(connect(cgroup)).as("enforcing again at once").isEqualTo("EPERM");
                assertThat(second.hooks().get("pinning")).containsPattern(": \\d+ attachments adopted from a previous run, 2 made now");
                List<TamperEvent> drift = awaitDrift(violations, 2);
                assertThat(drift).extracting(TamperEvent::getObjectName)
                        .containsExactlyInAnyOrder("ag_connect4@" + root, "ag_connect6@" + root);
                assertThat(drift).filteredOn(t -> t.getObjectName().startsWith("ag_connect4")).singleElement()
                        .satisfies(t -> {
                            assertThat(t.getDrift()).startsWith("pinned link not adopted: detached from its cgroup");
                            assertThat(t.getRepaired()).isTrue();
                        });
                assertThat(drift).filteredOn(t -> t.getObjectName().startsWith("ag_connect6")).singleElement()
                        .satisfies(t -> assertThat(t.getDrift()).isEqualTo("pinned link not adopted: attach type "
                                + io.agentguard.bpf.BpfInfo.ATTACH_CGROUP_UDP4_SENDMSG + " instead of "
                                + io.agentguard.bpf.BpfInfo.ATTACH_CGROUP_INET6_CONNECT));
                assertThat(Bpftool.json("link", "show", "pinned", connect4.toString()))
                        .contains("\"cgroup_id\":" + root + ",", "\"attach_type\":\"cgroup_inet4_connect\"");
                assertThat(Bpftool.json("link", "show", "pinned", connect6.toString()))
                        .contains("\"cgroup_id\":" + root + ",", "\"attach_type\":\"cgroup_inet6_connect\"");
            }
        } finally {
            if (Files.exists(pins)) {
                Main.execute("unload", "--pin-path", pins.toString());
            }
            Files.deleteIfExists(cgroup);
        }
    }

    /** The drift violations, once n arrived (or 30 s passed). */
    private static List<TamperEvent> awaitDrift(List<Violation> violations, int n) throws InterruptedException {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (true) {
            List<TamperEvent> drift = violations.stream()
                    .filter(v -> v.getRule().equals(KernelFindings.STATE_DRIFT_REPAIRED.rule()))
                    .map(v -> v.getEvidence(0).getTamper()).toList();
            if (drift.size() >= n || System.nanoTime() > deadline) {
                return drift;
            }
            Thread.sleep(20);
        }
    }
}
