package io.agentguard.daemon;

import io.agentguard.config.AgentConfig;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.Violation;
import io.agentguard.proto.v1.WorkloadKind;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The whole of issue 13 on one real container: the agent selects Podman's containers by the
 * pattern {@code libpod_parent/libpod-*} (the cgroup Podman makes for each container on this
 * host), a container started after the agent is in scope from its first exec, its events carry
 * the container id read off the path and the name and labels Podman's socket gives, and a miner
 * started inside it is killed with a violation that names the container.
 */
class PodmanWorkloadKernelTest {
    static final String SUFFIX = UUID.randomUUID().toString().substring(0, 8);
    static final String IMAGE = "localhost/agentguard-workload-test:" + SUFFIX;
    static final String NAME = "agentguard-workload-" + SUFFIX;
    static final Path DIR;
    static final Path SOCKET;
    static final Process SERVICE;

    static {
        try {
            KernelAgentExtension.requireRoot();
            DIR = Files.createTempDirectory("agentguard-podman-e2e");
            SOCKET = DIR.resolve("podman.sock");
            SERVICE = new ProcessBuilder("podman", "system", "service", "--time=0", "unix://" + SOCKET)
                    .redirectErrorStream(true).redirectOutput(DIR.resolve("service.log").toFile()).start();
            // an image with busybox and a copy of it named like a miner (run as `exec -a sleep`: busybox picks
            // its applet from argv[0], the kernel names the process after the file): no registry is reachable
            Path rootfs = Files.createDirectories(DIR.resolve("rootfs/bin"));
            Files.copy(Path.of("/bin/busybox"), rootfs.resolve("busybox"));
            Files.copy(Path.of("/bin/busybox"), rootfs.resolve("xmrig"));
            String ctr = run("buildah", "from", "scratch").trim();
            try {
                run("buildah", "copy", ctr, DIR.resolve("rootfs").toString(), "/");
                run("buildah", "commit", "-q", ctr, IMAGE);
            } finally {
                run("buildah", "rm", ctr);
            }
            for (int i = 0; i < 3000 && !Files.exists(SOCKET); i++) {
                Thread.sleep(10);
            }
        } catch (IOException | InterruptedException e) {
            throw new IllegalStateException("podman, buildah and busybox-static are needed (scripts/bootstrap.sh): " + e, e);
        }
    }

    @RegisterExtension
    static final KernelAgentExtension KERNEL = new KernelAgentExtension(4096)
            .agentCgroups(root -> List.of(root, "libpod_parent/libpod-*"))
            .configure(b -> {
                Map<String, String> sockets = new HashMap<>();
                for (String r : AgentConfig.RuntimeLookup.DEFAULT_SOCKETS.keySet()) {
                    sockets.put(r, "");
                }
                sockets.put("podman", SOCKET.toString());
                return b.runtimeLookup(new AgentConfig.RuntimeLookup(true, sockets, 2_000, 600_000, 1_000, 4096));
            });

    @AfterAll
    static void removeContainerAndImage() throws Exception {
        runQuietly("podman", "rm", "-f", "-t", "0", NAME);
        runQuietly("podman", "rmi", "-f", IMAGE);
        SERVICE.destroy();
        SERVICE.waitFor(10, TimeUnit.SECONDS);
    }

    static String run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException(String.join(" ", command) + ": " + out);
        }
        return out;
    }

    static void runQuietly(String... command) {
        try {
            run(command);
        } catch (IOException | InterruptedException e) {
            // clean-up of what may not exist
        }
    }

    @Test
    void aPodmanContainerStartedAfterTheAgentIsWatchedFromItsFirstExecNamedAndItsMinerKilled() throws Exception {
        // runc and these ulimits: crun refuses this host's hybrid cgroup layout; the default ulimits exceed its hard limits
        String id = run("podman", "--runtime", "runc", "run", "-d", "--name", NAME, "--label", "team=ml",
                "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1000:1000", IMAGE,
                "/bin/busybox", "sh", "-c", "/bin/busybox sleep 2; /bin/busybox true; exec -a sleep /bin/xmrig 60").trim();

        // the container's first exec (runc's exec of its command) is already in scope: the pattern matched at mkdir
        List<Event> first = KERNEL.await(e -> e.hasExec() && e.getProcess().getCgroupPath().endsWith("libpod-" + id)
                && e.getExec().getFilename().equals("/bin/busybox"), 1, Duration.ofSeconds(20));
        assertThat(first).as("the container's first exec, seen because libpod-%s matched the pattern", id).isNotEmpty();
        assertThat(first.getFirst().getProcess().getWorkload().getKind()).isEqualTo(WorkloadKind.WORKLOAD_KIND_CONTAINER);
        assertThat(first.getFirst().getProcess().getWorkload().getRuntime()).isEqualTo("podman");
        assertThat(first.getFirst().getProcess().getWorkload().getContainerId()).isEqualTo(id);

        // Podman's socket answers by the time the container runs its next programs
        List<Event> named = KERNEL.await(e -> e.getProcess().getWorkload().getContainerId().equals(id)
                && e.getProcess().getWorkload().getContainerName().equals(NAME), 1, Duration.ofSeconds(20));
        assertThat(named).as("events named by Podman's socket").isNotEmpty();
        assertThat(named.getFirst().getProcess().getWorkload().getLabelsMap()).containsEntry("team", "ml");

        List<Violation> miner = KERNEL.awaitViolations(v -> v.getWorkload().getContainerId().equals(id)
                && v.getRule().toLowerCase().contains("miner"), 1, Duration.ofSeconds(20));
        assertThat(miner).as("the default pack's miner rule, in the container").isNotEmpty();
        assertThat(miner.getFirst().getWorkload().getContainerName()).isEqualTo(NAME);
        String state = "";
        for (int i = 0; i < 200; i++) {
            state = run("podman", "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", NAME).trim();
            if (state.startsWith("exited")) {
                break;
            }
            Thread.sleep(50);
        }
        assertThat(state).as("the miner (the container's main process) was killed").isEqualTo("exited 137");
    }
}
