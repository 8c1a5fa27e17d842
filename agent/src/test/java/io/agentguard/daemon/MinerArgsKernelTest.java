package io.agentguard.daemon;

import io.agentguard.config.Policy;
import io.agentguard.proto.v1.Violation;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Miner flags hidden past the exec record: 6 KiB of filler arguments, then
 * {@code --donate-level 1 -o stratum+tcp://127.66.0.9:3333}, with exec.max_args_bytes 4096,
 * so no rule sees them in the record. The daemon reads /proc/PID/cmdline and kills it.
 */
class MinerArgsKernelTest {
    @RegisterExtension
    static final KernelAgentExtension KERNEL = new KernelAgentExtension(4096).configure(b -> b.enforce(true)
            .defaultPolicy(EnforcementKernelTest.policies("""
                        egress: {default: allow}
                    """)));

    private static final String RULE = "agentguard: miner arguments beyond the exec record";

    /** python3 sleeping, whatever its argv says (a miner's stand-in: it only needs to be running). */
    private static String[] argv(double seconds, boolean miner) {
        return argv(seconds, miner, 600);
    }

    private static String[] argv(double seconds, boolean miner, int fillers) {
        List<String> a = new ArrayList<>(List.of("/usr/bin/python3", "-c", "import time; time.sleep(" + seconds + ")"));
        for (int i = 0; i < fillers; i++) {
            a.add("object-" + i + ".o");
        }
        if (miner) {
            a.addAll(List.of("--donate-level", "1", "-o", "stratum+tcp://127.66.0.9:3333"));
        }
        return a.toArray(String[]::new);
    }

    private static List<Violation> violations(Path cg, String rule, int min, Duration timeout) throws InterruptedException {
        return KERNEL.awaitViolations(v -> v.getRule().equals(rule) && v.getProcess().getCgroupId() == KERNEL.cgroupId(cg),
                min, timeout);
    }

    @Test
    void minerFlagsAfterSixKilobytesOfArgvAreFoundAndKilled() throws Exception {
        Path cg = KERNEL.newCgroup("miner-long-argv");
        KernelAgentExtension.Run run = KERNEL.runIn(cg, argv(30, true));
        assertThat(run.exitStatus()).isEqualTo(128 + 9);
        List<Violation> v = violations(cg, RULE, 1, Duration.ofSeconds(10));
        assertThat(v).hasSize(1);
        assertThat(v.getFirst().getEvidence(0).getExec().getArgsTruncated()).isTrue();
        assertThat(v.getFirst().getOutput()).contains("killed").contains("--donate-level at byte");
    }

    @Test
    void minerFlagsAfterHundredsOfKilobytesOfArgvAreFoundToo() throws Exception {
        // red team: flags after 70 KiB of filler ran free while the daemon read 64 KiB of argv
        Path cg = KERNEL.newCgroup("miner-huge-argv");
        KernelAgentExtension.Run run = KERNEL.runIn(cg, argv(30, true, 30_000));   // ~450 KiB
        assertThat(run.exitStatus()).isEqualTo(128 + 9);
        List<Violation> v = violations(cg, RULE, 1, Duration.ofSeconds(10));
        assertThat(v).hasSize(1);
        assertThat(v.getFirst().getOutput()).contains("--donate-level at byte");
    }

    @Test
    void inMonitorModeTheMinerRunsAndIsReported() throws Exception {
        Path cg = KERNEL.newCgroup("miner-monitor");
        Policy base = EnforcementKernelTest.policies("    egress: {default: allow}\n");
        KERNEL.agent().addPolicyForTest(new Policy(KERNEL.mount().relativize(cg).toString(), false, false, base.egress(),
                true, 0, true, List.of(), List.of(), List.of(), List.of(), false, false, false, false));
        KernelAgentExtension.Run run = KERNEL.runIn(cg, argv(2, true));
        assertThat(run.exitStatus()).isZero();
        assertThat(violations(cg, RULE + " (monitor)", 1, Duration.ofSeconds(10))).hasSize(1);
    }

    @Test
    void aLongArgvWithoutMinerSignalsRunsAndIsQuiet() throws Exception {
        Path cg = KERNEL.newCgroup("long-argv");
        KernelAgentExtension.Run run = KERNEL.runIn(cg, argv(2, false));
        assertThat(run.exitStatus()).isZero();
        assertThat(violations(cg, RULE, 1, Duration.ofSeconds(1))).isEmpty();
    }
}
