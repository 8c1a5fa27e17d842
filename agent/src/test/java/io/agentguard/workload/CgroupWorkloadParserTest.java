package io.agentguard.workload;

import io.agentguard.proto.v1.WorkloadKind;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.stream.Stream;

import static io.agentguard.proto.v1.WorkloadKind.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

/**
 * Cgroup paths exactly as each runtime makes them (systemd and cgroupfs drivers, nested), and
 * paths a process that names its own cgroups might make to pass for another workload.
 */
class CgroupWorkloadParserTest {
    static final String ID = "3f4e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f";
    static final String ID2 = "aaaabbbbccccddddeeeeffff00001111222233334444555566667777888899990";
    static final String OTHER = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    static final String UID = "0d8e4a8c-1b2f-4c7e-9a51-6f0c2b7d9e13";
    static final String UID_ = UID.replace('-', '_');
    static final String STATIC_UID = "d41d8cd98f00b204e9800998ecf8427e";
    static final String POD = "9e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7";

    record Expected(WorkloadKind kind, String runtime, String containerId, String podUid, String jobId, String stepId,
                    String unit) {
    }

    static Expected x(WorkloadKind kind, String runtime, String containerId, String podUid, String jobId, String stepId,
                      String unit) {
        return new Expected(kind, runtime, containerId, podUid, jobId, stepId, unit);
    }

    static Stream<Arguments> layouts() {
        return Stream.of(
                // Docker: systemd driver, cgroupfs driver, rootless (the user manager's tree)
                Arguments.of("system.slice/docker-" + ID + ".scope", x(WORKLOAD_KIND_CONTAINER, "docker", ID, "", "", "", "docker-" + ID + ".scope")),
                Arguments.of("docker/" + ID, x(WORKLOAD_KIND_CONTAINER, "docker", ID, "", "", "", "")),
                Arguments.of("user.slice/user-1000.slice/user@1000.service/app.slice/docker-" + ID + ".scope",
                        x(WORKLOAD_KIND_CONTAINER, "docker", ID, "", "", "", "docker-" + ID + ".scope")),
                // containerd CRI, kubelet systemd driver: burstable, besteffort, guaranteed (directly under kubepods.slice)
                Arguments.of("kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + UID_ + ".slice/cri-containerd-" + ID + ".scope",
                        x(WORKLOAD_KIND_KUBERNETES, "containerd", ID, UID, "", "", "cri-containerd-" + ID + ".scope")),
                Arguments.of("kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + UID_ + ".slice/cri-containerd-" + ID + ".scope",
                        x(WORKLOAD_KIND_KUBERNETES, "containerd", ID, UID, "", "", "cri-containerd-" + ID + ".scope")),
                Arguments.of("kubepods.slice/kubepods-pod" + UID_ + ".slice/cri-containerd-" + ID + ".scope",
                        x(WORKLOAD_KIND_KUBERNETES, "containerd", ID, UID, "", "", "cri-containerd-" + ID + ".scope")),
                // the pod's own slice (no container yet); a static pod (UID: 32 hex)
                Arguments.of("kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + UID_ + ".slice",
                        x(WORKLOAD_KIND_KUBERNETES, "", "", UID, "", "", "")),
                Arguments.of("kubepods.slice/kubepods-pod" + STATIC_UID + ".slice/cri-containerd-" + ID + ".scope",
                        x(WORKLOAD_KIND_KUBERNETES, "containerd", ID, STATIC_UID, "", "", "cri-containerd-" + ID + ".scope")),
                // kubelet cgroupfs driver
                Arguments.of("kubepods/burstable/pod" + UID + "/" + ID, x(WORKLOAD_KIND_KUBERNETES, "", ID, UID, "", "", "")),
                Arguments.of("kubepods/pod" + UID + "/" + ID, x(WORKLOAD_KIND_KUBERNETES, "", ID, UID, "", "", "")),
                Arguments.of("kubepods/besteffort/pod" + UID + "/crio-" + ID, x(WORKLOAD_KIND_KUBERNETES, "cri-o", ID, UID, "", "", "")),
                // CRI-O (systemd): the container, and conmon beside it (a unit, not the container)
                Arguments.of("kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + UID_ + ".slice/crio-" + ID + ".scope",
                        x(WORKLOAD_KIND_KUBERNETES, "cri-o", ID, UID, "", "", "crio-" + ID + ".scope")),
                Arguments.of("kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + UID_ + ".slice/crio-conmon-" + ID + ".scope",
                        x(WORKLOAD_KIND_KUBERNETES, "", "", UID, "", "", "crio-conmon-" + ID + ".scope")),
                Arguments.of("kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + UID_ + ".slice/crio-" + ID + ".scope/container",
                        x(WORKLOAD_KIND_KUBERNETES, "cri-o", ID, UID, "", "", "crio-" + ID + ".scope")),
                // cri-dockerd
                Arguments.of("kubepods.slice/kubepods-pod" + UID_ + ".slice/docker-" + ID + ".scope",
                        x(WORKLOAD_KIND_KUBERNETES, "docker", ID, UID, "", "", "docker-" + ID + ".scope")),
                // Podman: systemd, conmon, pods, cgroupfs (this machine), rootless, the container's own sub-cgroups
                Arguments.of("machine.slice/libpod-" + ID + ".scope", x(WORKLOAD_KIND_CONTAINER, "podman", ID, "", "", "", "libpod-" + ID + ".scope")),
                Arguments.of("machine.slice/libpod-conmon-" + ID + ".scope", x(WORKLOAD_KIND_SYSTEMD_SCOPE, "systemd", "", "", "", "", "libpod-conmon-" + ID + ".scope")),
                Arguments.of("machine.slice/machine-libpod_pod_" + POD + ".slice/libpod-" + ID + ".scope",
                        x(WORKLOAD_KIND_CONTAINER, "podman", ID, POD, "", "", "libpod-" + ID + ".scope")),
                Arguments.of("libpod_parent/libpod-" + ID, x(WORKLOAD_KIND_CONTAINER, "podman", ID, "", "", "", "")),
                Arguments.of("/libpod_parent/libpod-" + ID, x(WORKLOAD_KIND_CONTAINER, "podman", ID, "", "", "", "")),
                Arguments.of("libpod_parent/" + POD + "/libpod-" + ID, x(WORKLOAD_KIND_CONTAINER, "podman", ID, POD, "", "", "")),
                Arguments.of("user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + ID + ".scope",
                        x(WORKLOAD_KIND_CONTAINER, "podman", ID, "", "", "", "libpod-" + ID + ".scope")),
                Arguments.of("machine.slice/libpod-" + ID + ".scope/container", x(WORKLOAD_KIND_CONTAINER, "podman", ID, "", "", "", "libpod-" + ID + ".scope")),
                Arguments.of("machine.slice/libpod-" + ID + ".scope/init.scope", x(WORKLOAD_KIND_CONTAINER, "podman", ID, "", "", "", "libpod-" + ID + ".scope")),
                Arguments.of("machine.slice/libpod-" + ID + ".scope/system.slice/sshd.service",
                        x(WORKLOAD_KIND_CONTAINER, "podman", ID, "", "", "", "libpod-" + ID + ".scope")),
                // containerd outside Kubernetes (nerdctl, systemd driver)
                Arguments.of("system.slice/nerdctl-" + ID + ".scope", x(WORKLOAD_KIND_CONTAINER, "containerd", ID, "", "", "", "nerdctl-" + ID + ".scope")),
                // systemd
                Arguments.of("system.slice/sshd.service", x(WORKLOAD_KIND_SYSTEMD_SERVICE, "systemd", "", "", "", "", "sshd.service")),
                Arguments.of("user.slice/user-1000.slice/session-3.scope", x(WORKLOAD_KIND_SYSTEMD_SCOPE, "systemd", "", "", "", "", "session-3.scope")),
                Arguments.of("user.slice/user-1000.slice/user@1000.service/app.slice/agent.service",
                        x(WORKLOAD_KIND_SYSTEMD_SERVICE, "systemd", "", "", "", "", "agent.service")),
                Arguments.of("user.slice/user-1000.slice/user@1000.service/init.scope",
                        x(WORKLOAD_KIND_SYSTEMD_SCOPE, "systemd", "", "", "", "", "init.scope")),
                Arguments.of("system.slice/agent-7.scope/worker/sub", x(WORKLOAD_KIND_SYSTEMD_SCOPE, "systemd", "", "", "", "", "agent-7.scope")),
                // Slurm, cgroup/v2 plugin: the job, each kind of step, the step's own tree; slurmstepd's own cgroup
                Arguments.of("system.slice/slurmstepd.scope/job_4242/step_0/user/task_0", x(WORKLOAD_KIND_SLURM, "slurm", "", "", "4242", "0", "slurmstepd.scope")),
                Arguments.of("system.slice/slurmstepd.scope/job_4242/step_batch/user/task_0", x(WORKLOAD_KIND_SLURM, "slurm", "", "", "4242", "batch", "slurmstepd.scope")),
                Arguments.of("system.slice/slurmstepd.scope/job_4242/step_extern", x(WORKLOAD_KIND_SLURM, "slurm", "", "", "4242", "extern", "slurmstepd.scope")),
                Arguments.of("system.slice/slurmstepd.scope/job_4242/step_interactive/user/task_special",
                        x(WORKLOAD_KIND_SLURM, "slurm", "", "", "4242", "interactive", "slurmstepd.scope")),
                Arguments.of("system.slice/slurmstepd.scope/job_4242", x(WORKLOAD_KIND_SLURM, "slurm", "", "", "4242", "", "slurmstepd.scope")),
                Arguments.of("system.slice/node1_slurmstepd.scope/job_7/step_3", x(WORKLOAD_KIND_SLURM, "slurm", "", "", "7", "3", "node1_slurmstepd.scope")),
                Arguments.of("system.slice/slurmstepd.scope/system", x(WORKLOAD_KIND_SYSTEMD_SCOPE, "systemd", "", "", "", "", "slurmstepd.scope")),
                // Slurm, the cgroup/v1 plugin's layout
                Arguments.of("slurm/uid_1000/job_55/step_2/task_0", x(WORKLOAD_KIND_SLURM, "slurm", "", "", "55", "2", "")),
                // under a non-runtime root (a test's agent root, a site's own parent)
                Arguments.of("agentguard-test/1234abcd/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + UID_
                        + ".slice/cri-containerd-" + ID + ".scope", x(WORKLOAD_KIND_KUBERNETES, "containerd", ID, UID, "", "", "cri-containerd-" + ID + ".scope")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("layouts")
    void eachRuntimesLayoutGivesItsWorkload(String path, Expected expected) {
        WorkloadIdentity w = CgroupWorkloadParser.parse(path);
        assertThat(new Expected(w.kind(), w.runtime(), w.containerId(), w.podUid(), w.jobId(), w.stepId(), w.unit()))
                .isEqualTo(expected);
        assertThat(w.shortId()).isEqualTo(expected.containerId().isEmpty() ? "" : expected.containerId().substring(0, 12));
    }

    static Stream<Arguments> impersonations() {
        return Stream.of(
                // a process in a container names a sub-cgroup like another container or pod: still its own container
                Arguments.of("system.slice/docker-" + ID + ".scope/docker-" + OTHER + ".scope", "system.slice/docker-" + ID + ".scope"),
                Arguments.of("kubepods.slice/kubepods-pod" + UID_ + ".slice/cri-containerd-" + ID + ".scope/kubepods.slice/kubepods-pod"
                        + STATIC_UID + ".slice/cri-containerd-" + OTHER + ".scope",
                        "kubepods.slice/kubepods-pod" + UID_ + ".slice/cri-containerd-" + ID + ".scope"),
                Arguments.of("libpod_parent/libpod-" + ID + "/docker/" + OTHER, "libpod_parent/libpod-" + ID),
                // in a systemd unit (its delegated subtree): still that unit
                Arguments.of("system.slice/agent-7.scope/docker-" + OTHER + ".scope", "system.slice/agent-7.scope"),
                Arguments.of("system.slice/agent.service/kubepods.slice/kubepods-pod" + UID_ + ".slice/cri-containerd-" + OTHER
                        + ".scope", "system.slice/agent.service"),
                Arguments.of("system.slice/agent.service/sshd.service", "system.slice/agent.service"),
                Arguments.of("system.slice/agent-7.scope/job_1/step_0", "system.slice/agent-7.scope"),
                // in a Slurm job: still that job and step
                Arguments.of("system.slice/slurmstepd.scope/job_4242/step_0/user/task_0/docker-" + OTHER + ".scope",
                        "system.slice/slurmstepd.scope/job_4242/step_0"),
                Arguments.of("system.slice/slurmstepd.scope/job_4242/step_0/job_1/step_9", "system.slice/slurmstepd.scope/job_4242/step_0"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("impersonations")
    void cgroupsNamedInsideAWorkloadStayThatWorkload(String path, String owner) {
        assertThat(CgroupWorkloadParser.parse(path)).isEqualTo(CgroupWorkloadParser.parse(owner));
    }

    static Stream<String> notWorkloads() {
        return Stream.of("", "/", "//", "agentguard/sandbox", "docker", "docker/" + ID.toUpperCase(), "docker/" + ID + "0",
                ".service", "x/.scope",
                "kubepods/pod" + UID.toUpperCase() + "/x", "kubepods/pod" + UID + "x",
                "kubepods.slice/kubepods-guaranteed-pod" + UID_ + ".slice", "kubepods.slice/kubepods-burstable-pod" + UID + ".slice",
                "system.slice/slurmstepd.slice/job_1", "slurm/uid_x/job_1", "slurm/uid_1/job_", "slurm/uid_1/job_12345678901",
                "libpod_parent/libpod-xyz", "a".repeat(300) + "/docker-" + ID + ".scope", "\u0000/\uffff/../..");
    }

    @ParameterizedTest
    @MethodSource("notWorkloads")
    void oddOrMalformedPathsAreNoWorkload(String path) {
        assertThat(CgroupWorkloadParser.parse(path)).isEqualTo(WorkloadIdentity.NONE);
    }

    @Test
    void aMalformedContainerIdIsNoContainerOnlyTheScopeItNames() {
        for (String path : new String[]{"system.slice/docker-" + ID.substring(1) + ".scope", "system.slice/docker-.scope",
                "system.slice/cri-containerd-" + ID.toUpperCase() + ".scope", "machine.slice/libpod-" + ID + "0.scope"}) {
            WorkloadIdentity w = CgroupWorkloadParser.parse(path);
            assertThat(w.kind()).as(path).isEqualTo(WORKLOAD_KIND_SYSTEMD_SCOPE);
            assertThat(w.containerId()).as(path).isEmpty();
        }
    }

    @Test
    void aNullOrHugePathIsAnsweredNeverThrown() {
        assertThat(CgroupWorkloadParser.parse(null)).isEqualTo(WorkloadIdentity.NONE);
        String deep = "system.slice/docker-" + ID + ".scope/" + "x/".repeat(100_000);
        assertThat(CgroupWorkloadParser.parse(deep).containerId()).isEqualTo(ID);
        assertThatCode(() -> CgroupWorkloadParser.parse("/".repeat(1_000_000))).doesNotThrowAnyException();
        // an owner beyond the read limit is not read (a path that long is a tree someone built, not a runtime's)
        assertThat(CgroupWorkloadParser.parse("x/".repeat(3000) + "docker-" + ID + ".scope")).isEqualTo(WorkloadIdentity.NONE);
        assertThat(CgroupWorkloadParser.parse("system.slice/x" + "\u00e9".repeat(10) + ".service").unit()).endsWith(".service");
    }
}
