package io.agentguard.daemon;

import io.agentguard.config.Policy;
import io.agentguard.proto.v1.Priority;
import io.agentguard.proto.v1.Violation;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Real processes in a test cgroup trigger rules end to end: kernel, ring, table, classifier, violation. */
class RulesKernelTest {
    static final Path RULES_DIR;

    static {
        try {
            RULES_DIR = Files.createTempDirectory("agentguard-rules");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @RegisterExtension
    static final KernelAgentExtension KERNEL = new KernelAgentExtension(4096).withRules(List.of(RULES_DIR + "/*.yaml"));

    @Test
    void aMinerBinaryStartedInTheCgroupIsAViolationWithAncestryAndEvidence() throws Exception {
        Path dir = Files.createTempDirectory("agentguard-miner");
        Path miner = Files.copy(Path.of("/bin/true"), dir.resolve("xmrig"), StandardCopyOption.COPY_ATTRIBUTES);
        Path cg = KERNEL.newCgroup("miner");
        KERNEL.runIn(cg, "/bin/sh", "-c", miner + " --donate-level 1; exit 0");

        List<Violation> v = KERNEL.awaitViolations(x -> x.getRule().equals("Miner binary started")
                && x.getCgroupPath().equals(KERNEL.mount().relativize(cg).toString()), 1, Duration.ofSeconds(10));
        assertThat(v).hasSize(1);
        Violation violation = v.getFirst();
        assertThat(violation.getPriority()).isEqualTo(Priority.PRIORITY_CRITICAL);
        assertThat(violation.getTagsList()).contains("T1496.001");
        assertThat(violation.getProcess().getExe()).isEqualTo(miner.toString());
        assertThat(violation.getProcess().getCmdline()).isEqualTo(miner + " --donate-level 1");
        assertThat(violation.getAncestryList()).isNotEmpty();
        assertThat(violation.getAncestry(0).getComm()).isEqualTo("sh");
        assertThat(violation.getEvidence(0).getExec().getFilename()).isEqualTo(miner.toString());
        assertThat(violation.getOutput()).contains("xmrig");
        // the same command line also carries a miner flag: that rule fires too, on the same event
        assertThat(KERNEL.awaitViolations(x -> x.getRule().equals("Miner arguments in command line")
                && x.getProcess().getPid() == violation.getProcess().getPid(), 1, Duration.ofSeconds(5))).hasSize(1);
    }

    @Test
    void replayedComputeContextWithoutAComputeGrantIsOneViolation() throws Exception {
        Path cg = KERNEL.newCgroup("gpu");
        // devices granted, compute not, monitor mode: the rule reports, the kernel lets the replay finish
        KERNEL.agent().addPolicyForTest(new Policy(KERNEL.mount().relativize(cg).toString(), false, false, List.of(),
                true, 0, false, List.of(), List.of(), List.of()));
        KERNEL.runIn(cg, KernelAgentExtension.nativeTool("nvreplay").toString(), "--ctl",
                KERNEL.standin("nvidiactl").toString(), "--gpu", KERNEL.standin("nvidia0").toString(), "--uvm",
                KERNEL.standin("nvidia-uvm").toString());
        List<Violation> v = KERNEL.awaitViolations(x -> x.getRule().equals("GPU compute context without a compute grant")
                && x.getCgroupPath().equals(KERNEL.mount().relativize(cg).toString()), 1, Duration.ofSeconds(10));
        assertThat(v).hasSize(1);
        assertThat(v.getFirst().getEvidence(0).getGpu().getIoctl().getComputeContext()).isTrue();
        assertThat(v.getFirst().getProcess().getComm()).isEqualTo("nvreplay");
    }

    @Test
    void aRuleFileAddedWhileRunningIsPickedUpWithoutRestart() throws Exception {
        long before = KERNEL.agent().ruleStatus().succeeded();
        Files.writeString(RULES_DIR.resolve("50-test.yaml"), """
                - rule: Test pool contacted
                  desc: a connect to the test's stand-in pool
                  condition: evt.type = connect and conn.addr = 127.66.0.77 and conn.port = 3999
                  output: "%proc.name -> %conn.addr:%conn.port"
                  priority: ALERT
                  tags: [test, T1496.001]
                """);
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (KERNEL.agent().ruleStatus().succeeded() == before && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertThat(KERNEL.agent().ruleStatus().succeeded()).isGreaterThan(before);

        Path cg = KERNEL.newCgroup("pool");
        KERNEL.runIn(cg, KernelAgentExtension.nativeTool("connector").toString(), "tcp4", "127.66.0.77", "3999");
        List<Violation> v = KERNEL.awaitViolations(x -> x.getRule().equals("Test pool contacted"), 1, Duration.ofSeconds(10));
        assertThat(v).hasSize(1);
        assertThat(v.getFirst().getOutput()).isEqualTo("connector -> 127.66.0.77:3999");
        assertThat(v.getFirst().getPriority()).isEqualTo(Priority.PRIORITY_ALERT);
    }
}
