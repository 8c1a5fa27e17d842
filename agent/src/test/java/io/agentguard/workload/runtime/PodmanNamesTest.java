package io.agentguard.workload.runtime;

import io.agentguard.workload.RuntimeNames;
import io.agentguard.config.AgentConfig;
import io.agentguard.daemon.KernelAgentExtension;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A real Podman: `podman system service` on a socket of the test's own, a container started from an
 * image built here (buildah from scratch, busybox-static: no registry), named and labelled as a user
 * would; its id is read from its cgroup path as the agent sees it, and the runtime client must turn
 * that id into the name and labels, over libpod's API and over the Docker-compatible one.
 */
class PodmanNamesTest {
    static final String SUFFIX = UUID.randomUUID().toString().substring(0, 8);
    static final String IMAGE = "localhost/agentguard-names-test:" + SUFFIX;
    static final String NAME = "agentguard-names-" + SUFFIX;

    static Path dir;
    static Path socket;
    static Process service;
    static String containerId;
    static String cgroupId;

    @BeforeAll
    static void startPodmanAndAContainer() throws Exception {
        boolean root = "0".equals(run(List.of("id", "-u")).trim());
        boolean podman = Files.isExecutable(Path.of("/usr/bin/podman")) && Files.isExecutable(Path.of("/usr/bin/buildah"))
                && Files.isExecutable(Path.of("/bin/busybox"));
        if (!root || !podman) {
            String why = "the Podman names test needs root, podman, buildah and busybox-static";
            if (KernelAgentExtension.REQUIRE_BPF) {
                throw new IllegalStateException(why + " and AGENTGUARD_REQUIRE_BPF=1");
            }
            Assumptions.abort(why);
        }
        dir = Files.createTempDirectory("agentguard-podman");
        socket = dir.resolve("podman.sock");
        service = new ProcessBuilder("podman", "system", "service", "--time=0", "unix://" + socket)
                .redirectErrorStream(true).redirectOutput(dir.resolve("service.log").toFile()).start();
        String ctr = run(List.of("buildah", "from", "scratch")).trim();
        try {
            run(List.of("buildah", "copy", ctr, "/bin/busybox", "/bin/busybox"));
            run(List.of("buildah", "commit", "-q", ctr, IMAGE));
        } finally {
            run(List.of("buildah", "rm", ctr));
        }
        // runc and these ulimits: crun refuses this host's hybrid cgroup layout, the default ulimits exceed its hard limits
        containerId = run(List.of("podman", "--runtime", "runc", "run", "-d", "--name", NAME, "--label", "team=ml",
                "--label", "agentguard.test=names", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1000:1000",
                IMAGE, "/bin/busybox", "sleep", "120")).trim();
        String pid = run(List.of("podman", "inspect", "-f", "{{.State.Pid}}", containerId)).trim();
        // the cgroup2 line of /proc/PID/cgroup, as the agent reads it: .../libpod-<64 hex>
        for (String line : Files.readAllLines(Path.of("/proc", pid, "cgroup"))) {
            if (line.startsWith("0::")) {
                java.util.regex.Matcher m = java.util.regex.Pattern.compile("libpod-([0-9a-f]{64})").matcher(line);
                if (m.find()) {
                    cgroupId = m.group(1);
                }
            }
        }
        for (int i = 0; i < 3000 && !Files.exists(socket); i++) {
            Thread.sleep(10);
        }
    }

    @AfterAll
    static void removeContainerAndImage() throws Exception {
        if (containerId != null) {
            run(List.of("podman", "rm", "-f", "-t", "0", NAME));
        }
        if (dir != null) {
            run(List.of("podman", "rmi", "-f", IMAGE));
        }
        if (service != null) {
            service.destroy();
            service.waitFor(10, TimeUnit.SECONDS);
        }
    }

    static String run(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException(String.join(" ", command) + ": " + out);
        }
        return out;
    }

    static RuntimeMetadata client(String runtime) {
        Map<String, String> sockets = new HashMap<>();
        for (String r : AgentConfig.RuntimeLookup.DEFAULT_SOCKETS.keySet()) {
            sockets.put(r, "");
        }
        sockets.put(runtime, socket.toString());
        return RuntimeMetadata.start(new AgentConfig.RuntimeLookup(true, sockets, 10_000, 600_000, 30_000, 4096));
    }

    @Test
    void theContainersCgroupPathNamesItsPodmanId() {
        assertThat(Files.exists(socket)).as("podman system service made its socket").isTrue();
        assertThat(cgroupId).as("libpod-<id> in the cgroup2 path").isEqualTo(containerId);
    }

    @Test
    void libpodNamesTheContainerFromItsCgroupId() throws Exception {
        try (RuntimeMetadata names = client("podman")) {
            names.request("podman", cgroupId, null);
            RuntimeMetadataTest.await(names, () -> names.cached(cgroupId) != null, "podman answered");
            RuntimeNames n = names.cached(cgroupId);
            assertThat(n.containerName()).isEqualTo(NAME);
            assertThat(n.labels()).containsEntry("team", "ml").containsEntry("agentguard.test", "names");
            assertThat(n.podName()).isEmpty();
            assertThat(names.status().getSockets(0).getState()).isEqualTo("reachable");
        }
    }

    @Test
    void dockersApiOnPodmansCompatLayerNamesItToo() throws Exception {
        try (RuntimeMetadata names = client("docker")) {
            names.request("docker", cgroupId, null);
            RuntimeMetadataTest.await(names, () -> names.cached(cgroupId) != null, "the compat API answered");
            RuntimeNames n = names.cached(cgroupId);
            assertThat(n.containerName()).isEqualTo(NAME);   // "/NAME" on that API
            assertThat(n.labels()).containsEntry("team", "ml");
        }
    }

    @Test
    void aContainerPodmanDoesNotKnowIsNotFound() throws Exception {
        String unknown = "ab".repeat(32);
        try (RuntimeMetadata names = client("podman")) {
            names.request("podman", unknown, null);
            RuntimeMetadataTest.await(names, () -> names.status().getNotFound() == 1, "podman said 404");
            assertThat(names.cached(unknown)).isNull();
            assertThat(names.status().getFailed()).isZero();
        }
    }

    @Test
    void aPodmanPodIsNamed() throws Exception {
        String pod = "agentguard-pod-" + SUFFIX;
        List<String> made = new ArrayList<>();
        try {
            run(List.of("podman", "pod", "create", "--name", pod, "--infra=false"));
            made.add(pod);
            String id = run(List.of("podman", "--runtime", "runc", "run", "-d", "--pod", pod, "--name", pod + "-c",
                    "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1000:1000", IMAGE, "/bin/busybox", "sleep", "120")).trim();
            try (RuntimeMetadata names = client("podman")) {
                names.request("podman", id, null);
                RuntimeMetadataTest.await(names, () -> names.cached(id) != null, "podman answered");
                assertThat(names.cached(id).containerName()).isEqualTo(pod + "-c");
                assertThat(names.cached(id).podName()).isEqualTo(pod);
            }
        } finally {
            if (!made.isEmpty()) {
                run(List.of("podman", "pod", "rm", "-f", "-t", "0", pod));
            }
        }
    }
}
