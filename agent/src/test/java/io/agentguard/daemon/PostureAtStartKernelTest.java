package io.agentguard.daemon;

import io.agentguard.posture.PostureMonitor;
import io.agentguard.proto.v1.PostureSource;
import io.agentguard.proto.v1.Violation;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A root process with every capability already in an agent cgroup when the daemon starts (it
 * exec'd before anyone watched): the start scan finds and reports it.
 */
class PostureAtStartKernelTest {
    private static Process early;

    @RegisterExtension
    static final KernelAgentExtension KERNEL = new KernelAgentExtension(4096).beforeStart(root -> {
        try {
            Path cg = root.resolve("early");
            Files.createDirectories(cg);
            early = new ProcessBuilder("/bin/sh", "-c", "echo $$ > \"$0\" && exec sleep 60",
                    cg.resolve("cgroup.procs").toString()).start();
            Path comm = Path.of("/proc/" + early.pid() + "/comm");
            for (int i = 0; i < 500 && !Files.readString(comm).trim().equals("sleep"); i++) {
                Thread.sleep(10);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    });

    @AfterAll
    static void stopEarly() {
        if (early != null) {
            early.destroyForcibly();
        }
    }

    @Test
    void rootProcessAlreadyInTheCgroupAtStartIsReported() throws Exception {
        List<Violation> found = KERNEL.awaitViolations(v -> v.getRule().equals(PostureMonitor.PRIVILEGES.rule()), 1,
                Duration.ofSeconds(15));
        assertThat(found).hasSize(1);
        var posture = found.getFirst().getEvidence(0).getPosture();
        assertThat(posture.getSource()).isEqualTo(PostureSource.POSTURE_SOURCE_START);
        assertThat(posture.getCapabilitiesList()).contains("sys_admin", "bpf", "dac_override");
        assertThat(found.getFirst().getProcess().getPid()).isEqualTo((int) early.pid());
        assertThat(found.getFirst().getOutput()).contains("sleep (pid " + early.pid() + ", uid 0, cgroup "
                + KERNEL.rootRelative() + "/early)").contains("can write ").contains(KERNEL.mount().resolve("cgroup.procs") + " (cgroupfs");
    }
}
