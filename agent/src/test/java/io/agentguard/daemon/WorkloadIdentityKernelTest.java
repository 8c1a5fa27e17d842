package io.agentguard.daemon;

import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.Violation;
import io.agentguard.proto.v1.Workload;
import io.agentguard.proto.v1.WorkloadKind;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Real cgroup trees laid out as kubelet (systemd driver, containerd), Docker and Slurm make
 * them, below the test's agent root; a process run in each: its events and violations carry
 * the workload the path says, rules match on container.id and k8s.pod.uid, and a cgroup a
 * process names inside its container like another container stays that container.
 */
class WorkloadIdentityKernelTest {
    static final String CONTAINER = randomHex();
    static final String DOCKER = randomHex();
    static final String IMPOSTOR = randomHex();
    static final String POD_UID = UUID.randomUUID().toString();
    static final Path RULES_DIR;

    static {
        try {
            RULES_DIR = Files.createTempDirectory("agentguard-workload-rules");
            Files.writeString(RULES_DIR.resolve("50-workload.yaml"), """
                    - rule: Test pod container ran true
                      desc: an exec in the test pod's container, matched by its identity
                      condition: evt.type = exec and proc.name = true and container.id = "%s" and k8s.pod.uid = "%s"
                      output: "%%proc.name in %%container.runtime container %%container.id (pod %%k8s.pod.uid, %%workload.kind)"
                      priority: WARNING
                    - rule: Test docker container ran true
                      desc: an exec in the test Docker container, by its full id
                      condition: evt.type = exec and proc.name = true and container.full_id = "%s"
                      output: "%%proc.name in %%container.id unit %%systemd.unit"
                      priority: WARNING
                    - rule: Test slurm step ran true
                      desc: an exec in the test Slurm job's step 0
                      condition: evt.type = exec and proc.name = true and slurm.job_id = "4242" and slurm.step_id = "0"
                      output: "%%proc.name in job %%slurm.job_id step %%slurm.step_id"
                      priority: WARNING
                    """.formatted(CONTAINER.substring(0, 12), POD_UID, DOCKER));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @RegisterExtension
    static final KernelAgentExtension KERNEL = new KernelAgentExtension(4096).withRules(List.of(RULES_DIR + "/*.yaml"));

    static String randomHex() {
        byte[] b = new byte[32];
        ThreadLocalRandom.current().nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    @Test
    void aProcessInAKubeletContainerdContainerCarriesItsPodAndContainerAndMatchesRulesOnThem() throws Exception {
        Path cg = Files.createDirectories(KERNEL.newCgroup("k8s").resolve("kubepods.slice/kubepods-burstable.slice/"
                + "kubepods-burstable-pod" + POD_UID.replace('-', '_') + ".slice/cri-containerd-" + CONTAINER + ".scope"));
        KERNEL.runIn(cg, "/bin/sh", "-c", "/bin/true; exit 0");

        Workload expected = Workload.newBuilder().setKind(WorkloadKind.WORKLOAD_KIND_KUBERNETES).setRuntime("containerd")
                .setContainerId(CONTAINER).setPodUid(POD_UID).setUnit("cri-containerd-" + CONTAINER + ".scope").build();
        List<Event> execs = KERNEL.await(e -> e.hasExec() && e.getProcess().getCgroupId() == KERNEL.cgroupId(cg), 1,
                Duration.ofSeconds(10));
        assertThat(execs).isNotEmpty().allSatisfy(e -> assertThat(e.getProcess().getWorkload()).isEqualTo(expected));
        List<Violation> v = KERNEL.awaitViolations(x -> x.getRule().equals("Test pod container ran true"), 1,
                Duration.ofSeconds(10));
        assertThat(v).hasSize(1);
        assertThat(v.getFirst().getWorkload()).isEqualTo(expected);
        assertThat(v.getFirst().getOutput()).isEqualTo("true in containerd container " + CONTAINER.substring(0, 12)
                + " (pod " + POD_UID + ", kubernetes)");
    }

    @Test
    void aCgroupNamedLikeAnotherContainerInsideADockerContainerStaysThatContainer() throws Exception {
        Path docker = Files.createDirectories(KERNEL.newCgroup("docker").resolve("system.slice/docker-" + DOCKER + ".scope"));
        Path impostor = Files.createDirectories(docker.resolve("docker-" + IMPOSTOR + ".scope"));
        KERNEL.runIn(impostor, "/bin/sh", "-c", "/bin/true; exit 0");

        List<Violation> v = KERNEL.awaitViolations(x -> x.getRule().equals("Test docker container ran true"), 1,
                Duration.ofSeconds(10));
        assertThat(v).hasSize(1);
        assertThat(v.getFirst().getCgroupPath()).endsWith("docker-" + IMPOSTOR + ".scope");
        assertThat(v.getFirst().getWorkload().getContainerId()).isEqualTo(DOCKER);
        assertThat(v.getFirst().getWorkload().getRuntime()).isEqualTo("docker");
        assertThat(v.getFirst().getOutput()).isEqualTo("true in " + DOCKER.substring(0, 12) + " unit docker-" + DOCKER + ".scope");
        assertThat(KERNEL.snapshot(e -> e.getProcess().getWorkload().getContainerId().equals(IMPOSTOR))).isEmpty();
    }

    @Test
    void aProcessInASlurmStepCarriesItsJobAndStep() throws Exception {
        Path task = Files.createDirectories(KERNEL.newCgroup("slurm").resolve("system.slice/slurmstepd.scope/job_4242/step_0/"
                + "user/task_0"));
        KERNEL.runIn(task, "/bin/sh", "-c", "/bin/true; exit 0");

        List<Violation> v = KERNEL.awaitViolations(x -> x.getRule().equals("Test slurm step ran true"), 1,
                Duration.ofSeconds(10));
        assertThat(v).hasSize(1);
        assertThat(v.getFirst().getWorkload()).isEqualTo(Workload.newBuilder().setKind(WorkloadKind.WORKLOAD_KIND_SLURM)
                .setRuntime("slurm").setJobId("4242").setStepId("0").setUnit("slurmstepd.scope").build());
        assertThat(v.getFirst().getProcess().getWorkload().getJobId()).isEqualTo("4242");
        assertThat(v.getFirst().getOutput()).isEqualTo("true in job 4242 step 0");
    }
}
