package io.agentguard.packaging;

import io.agentguard.config.AgentConfig;
import io.agentguard.config.AgentConfigLoader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The DaemonSet gives the daemon what the entrypoint requires and what the unit gives the
 * .deb's daemon: an operator who drops a mount or a privilege from the manifest gets a failing
 * build here, not a pod that refuses to start (or, worse, pins that die with the pod).
 */
class KubernetesManifestTest {
    @TempDir
    Path dir;

    @Test
    void everyHostPathTheEntrypointRequiresIsMountedFromTheSameHostPath() throws Exception {
        List<DaemonSetManifest.Mount> mounts = DaemonSetManifest.load().mounts();
        List<String> required = DaemonSetManifest.entrypointRequiredMounts();
        assertThat(required).contains("/sys/fs/bpf", "/sys/fs/cgroup", "/sys/kernel/tracing");
        for (String path : required) {
            assertThat(mounts).as("a hostPath volume mounted at " + path)
                    .anyMatch(m -> path.equals(m.mountPath()) && path.equals(m.hostPath()) && !m.readOnly());
        }
    }

    @Test
    void bpffsPropagatesBothWaysSoThatPinsAndAMountMadeByThePodLiveOnTheHost() throws Exception {
        assertThat(DaemonSetManifest.load().mounts()).filteredOn(m -> "/sys/fs/bpf".equals(m.mountPath()))
                .singleElement().extracting(DaemonSetManifest.Mount::propagation).isEqualTo("Bidirectional");
    }

    @Test
    void thePodIsPrivilegedInTheHostPidNamespaceNodeCriticalAndOnEveryNode() throws Exception {
        DaemonSetManifest manifest = DaemonSetManifest.load();
        Map<String, Object> pod = manifest.podSpec();
        assertThat(pod.get("hostPID")).isEqualTo(true);
        assertThat(pod.get("hostNetwork")).isEqualTo(true);
        assertThat(pod.get("priorityClassName")).isEqualTo("system-node-critical");
        assertThat(pod.get("automountServiceAccountToken")).isEqualTo(false);
        assertThat(DaemonSetManifest.list(pod, "tolerations")).contains(Map.of("operator", "Exists"));
        assertThat(DaemonSetManifest.map(manifest.container(), "securityContext").get("privileged")).isEqualTo(true);
        // no CPU limit: a throttled ring consumer loses events
        assertThat(DaemonSetManifest.map(manifest.container(), "resources", "limits")).doesNotContainKey("cpu");
        assertThat(DaemonSetManifest.map(manifest.document("Namespace"), "metadata", "labels"))
                .containsEntry("pod-security.kubernetes.io/enforce", "privileged");
    }

    @Test
    void theConfigMapIsAValidConfigurationMountedWhereTheEntrypointLooksAndItsPathsAreHostMounts() throws Exception {
        DaemonSetManifest manifest = DaemonSetManifest.load();
        String configPath = DaemonSetManifest.list(manifest.container(), "env").stream().map(DaemonSetManifest::map)
                .filter(e -> "AGENTGUARD_CONFIG".equals(e.get("name"))).map(e -> (String) e.get("value")).findFirst()
                .orElseThrow();
        Path config = Path.of(configPath);
        DaemonSetManifest.Mount configMount = manifest.mounts().stream()
                .filter(m -> config.getParent().toString().equals(m.mountPath())).findFirst().orElseThrow();
        assertThat(configMount.configMap()).isEqualTo(DaemonSetManifest.map(manifest.document("ConfigMap"), "metadata")
                .get("name"));
        assertThat(configMount.items()).containsEntry(config.getFileName().toString(), config.getFileName().toString());

        Path copy = dir.resolve("agentguard.yaml");
        Files.writeString(copy, manifest.configMapData(config.getFileName().toString()));
        AgentConfig loaded = AgentConfigLoader.load(copy);
        List<String> hostMounts = manifest.mounts().stream().filter(m -> m.hostPath() != null)
                .map(DaemonSetManifest.Mount::mountPath).toList();
        // the status socket, the instance lock and the pins live on the host, not in the container
        assertThat(hostMounts).contains(loaded.runtimeDir());
        assertThat(Path.of(loaded.pinPath()).getParent().toString()).isIn(hostMounts);
        // the liveness probe asks the daemon's status socket
        assertThat(DaemonSetManifest.list(DaemonSetManifest.map(manifest.container(), "livenessProbe", "exec"), "command"))
                .containsSubsequence("status", "--runtime-dir", loaded.runtimeDir());
        // the local rules file lands where the configuration's rules.paths look
        assertThat(configMount.items()).containsValue("rules.d/local.yaml");
        assertThat(manifest.configMapData("agentguard.yaml")).contains(config.getParent() + "/rules.d/*.yaml");
    }
}
