package io.agentguard.workload.runtime;

import io.agentguard.workload.RuntimeNames;
import io.agentguard.config.AgentConfig;
import io.agentguard.proto.cri.ContainerMetadata;
import io.agentguard.proto.cri.ContainerStatus;
import io.agentguard.proto.cri.ContainerStatusResponse;
import io.agentguard.proto.v1.RuntimeMetadataStatus;
import io.grpc.Status;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/** The runtime clients against servers on Unix sockets: a fake containerd (CRI), a silent one, hostile answers. */
class RuntimeMetadataTest {
    static final String ID = "4f1c2b7d9e0a4b3c8d6e5f7a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e";
    static final String OTHER = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    @TempDir
    Path dir;

    static AgentConfig.RuntimeLookup config(String runtime, Path socket, long timeoutMs) {
        Map<String, String> sockets = new HashMap<>();
        for (String r : AgentConfig.RuntimeLookup.DEFAULT_SOCKETS.keySet()) {
            sockets.put(r, "");
        }
        sockets.put(runtime, socket.toString());
        return new AgentConfig.RuntimeLookup(true, sockets, timeoutMs, 600_000, 30_000, 4096);
    }

    /** Waits (at most 30 s, polling) for a condition the workers bring about; no timing is asserted. */
    static void await(RuntimeMetadata names, BooleanSupplier condition, String what) throws InterruptedException {
        for (int i = 0; i < 3000 && !condition.getAsBoolean(); i++) {
            Thread.sleep(10);
        }
        assertThat(condition.getAsBoolean()).as(what + "; status: " + names.status()).isTrue();
    }

    static ContainerStatusResponse kubeletContainer(String id) {
        return ContainerStatusResponse.newBuilder().setStatus(ContainerStatus.newBuilder()
                .setId(id)
                .setMetadata(ContainerMetadata.newBuilder().setName("trainer"))
                .putLabels("io.kubernetes.pod.name", "agent-7f9c")
                .putLabels("io.kubernetes.pod.namespace", "ml-agents")
                .putLabels("io.kubernetes.pod.uid", "6b1e0f4a-2c3d-4e5f-8a9b-0c1d2e3f4a5b")
                .putLabels("io.kubernetes.container.name", "trainer")
                .putLabels("team", "ml"))
                .build();
    }

    @Test
    void containerdAnswersWithTheKubeletsNamesAndLabels() throws Exception {
        Path socket = dir.resolve("containerd.sock");
        try (var cri = new UnixSocketServers.FakeCri(socket, req -> {
            if (!req.getContainerId().equals(ID)) {
                throw Status.NOT_FOUND.withDescription("an error occurred when try to find container").asRuntimeException();
            }
            return kubeletContainer(req.getContainerId());
        }); var names = RuntimeMetadata.start(config("containerd", socket, 10_000))) {
            names.request("containerd", ID, "6b1e0f4a-2c3d-4e5f-8a9b-0c1d2e3f4a5b");
            names.request("containerd", OTHER, null);
            await(names, () -> names.cached(ID) != null && names.status().getNotFound() == 1, "both looked up");
            RuntimeNames n = names.cached(ID);
            assertThat(n.containerName()).isEqualTo("trainer");
            assertThat(n.podName()).isEqualTo("agent-7f9c");
            assertThat(n.podNamespace()).isEqualTo("ml-agents");
            assertThat(n.labels()).containsEntry("team", "ml").containsEntry("io.kubernetes.pod.uid",
                    "6b1e0f4a-2c3d-4e5f-8a9b-0c1d2e3f4a5b");
            assertThat(names.cached(OTHER)).isNull();
            // asked once each: the cache answers from now on, "not found" included
            names.request("containerd", ID, null);
            names.request("containerd", OTHER, null);
            RuntimeMetadataStatus s = names.status();
            assertThat(cri.calls.get()).isEqualTo(2);
            assertThat(s.getLookups()).isEqualTo(2);
            assertThat(s.getAnswered()).isEqualTo(1);
            assertThat(s.getCachedEntries()).isEqualTo(2);
            assertThat(s.getSocketsList()).singleElement().satisfies(x -> {
                assertThat(x.getRuntime()).isEqualTo("containerd");
                assertThat(x.getState()).isEqualTo("reachable");
            });
        }
    }

    @Test
    void aRuntimeThatNeverAnswersTimesOutOnItsWorkerAndIsCounted() throws Exception {
        Path socket = dir.resolve("crio.sock");
        try (var silent = new UnixSocketServers.Silent(socket);
             var names = RuntimeMetadata.start(config("cri-o", socket, 200))) {
            names.request("cri-o", ID, null);   // returns at once: the worker waits, not the caller
            assertThat(names.cached(ID)).isNull();
            await(names, () -> names.status().getTimedOut() == 1, "the lookup timed out");
            assertThat(silent.accepted).isNotEmpty();
            assertThat(names.cached(ID)).isNull();
            assertThat(names.status().getSockets(0).getState()).startsWith("timed out");
            // the failure is cached for negative_ttl_ms: not asked again meanwhile
            names.request("cri-o", ID, null);
            assertThat(names.status().getRequests()).isEqualTo(1);
        }
    }

    @Test
    void aSilentHttpRuntimeTimesOutToo() throws Exception {
        Path socket = dir.resolve("podman.sock");
        try (var silent = new UnixSocketServers.Silent(socket);
             var names = RuntimeMetadata.start(config("podman", socket, 200))) {
            names.request("podman", ID, null);
            await(names, () -> names.status().getTimedOut() == 1, "the lookup timed out");
            assertThat(names.status().getFailed()).isZero();
        }
    }

    @Test
    void aMissingSocketIsSkippedQuietlyAndCounted() throws Exception {
        try (var names = RuntimeMetadata.start(config("containerd", dir.resolve("absent.sock"), 200))) {
            names.request("containerd", ID, null);
            names.request("slurm", ID, null);     // no socket for it: ignored
            names.request("systemd", null, null);
            await(names, () -> names.status().getSkipped() == 1, "skipped");
            RuntimeMetadataStatus s = names.status();
            assertThat(s.getLookups()).isZero();
            assertThat(s.getFailed()).isZero();
            assertThat(s.getSockets(0).getState()).isEqualTo("absent");
        }
    }

    @Test
    void requestsNeverWaitForAHangingRuntime() throws Exception {
        Path socket = dir.resolve("containerd.sock");
        // a lookup timeout far longer than the test: the worker stays blocked in its first call throughout
        try (var silent = new UnixSocketServers.Silent(socket);
             var names = RuntimeMetadata.start(config("containerd", socket, 10_000))) {
            names.request("containerd", ID, null);
            await(names, () -> names.status().getLookups() == 1 && names.status().getQueued() == 0, "the worker is in its call");
            for (int i = 0; i < 10_000; i++) {
                names.request("containerd", String.format("%064x", i + 1), null);
            }
            for (int i = 0; i < 10_000; i++) {
                names.request("containerd", ID, null);   // already being looked up
            }
            RuntimeMetadataStatus s = names.status();
            assertThat(s.getLookups()).isEqualTo(1);
            assertThat(s.getQueued()).isEqualTo(RuntimeMetadata.QUEUE_CAPACITY);
            assertThat(s.getDropped()).isEqualTo(10_000 - RuntimeMetadata.QUEUE_CAPACITY);
            assertThat(s.getDeduplicated()).isEqualTo(10_000);
            assertThat(s.getRequests()).isEqualTo(1 + 10_000);
            assertThat(names.cached(ID)).isNull();
        }
    }

    @Test
    void idsThatAreNotHexAreNeverPutIntoARequest() throws Exception {
        Path socket = dir.resolve("podman.sock");
        try (var http = new UnixSocketServers.FixedHttp(socket, 200, "{}".getBytes());
             var names = RuntimeMetadata.start(config("podman", socket, 10_000))) {
            names.request("podman", "../../../images/json", null);
            names.request("podman", ID.toUpperCase(), null);
            names.request("podman", ID + "0", null);
            assertThat(names.status().getInvalid()).isEqualTo(3);
            assertThat(names.status().getRequests()).isZero();
            assertThat(http.requests.get()).isZero();
        }
    }

    @Test
    void hostileCriLabelsAreBounded() throws Exception {
        Path socket = dir.resolve("containerd.sock");
        String huge = "x".repeat(100_000);
        ContainerStatus.Builder status = ContainerStatus.newBuilder().setId(ID)
                .setMetadata(ContainerMetadata.newBuilder().setName("n\u001b[31mame\n" + huge));
        for (int i = 0; i < 5000; i++) {
            status.putLabels(String.format("k%05d", i), "v");
        }
        status.putLabels("a-huge-value", huge);
        status.putLabels("k".repeat(1000), "too long a key");
        ContainerStatusResponse hostile = ContainerStatusResponse.newBuilder().setStatus(status).build();
        try (var cri = new UnixSocketServers.FakeCri(socket, req -> hostile);
             var names = RuntimeMetadata.start(config("containerd", socket, 10_000))) {
            names.request("containerd", ID, null);
            await(names, () -> names.cached(ID) != null, "answered");
            RuntimeNames n = names.cached(ID);
            assertThat(n.labels()).hasSize(RuntimeNamesBuilder.MAX_LABELS);
            assertThat(n.labels()).containsEntry("a-huge-value", "x".repeat(RuntimeNamesBuilder.MAX_VALUE_CHARS));
            assertThat(n.labels().keySet()).allSatisfy(k -> assertThat(k.length()).isLessThanOrEqualTo(RuntimeNamesBuilder.MAX_KEY_CHARS));
            assertThat(n.containerName()).startsWith("n?[31mame?x").hasSize(RuntimeNamesBuilder.MAX_VALUE_CHARS);
            assertThat(names.status().getLabelsDropped()).isEqualTo(5002 - RuntimeNamesBuilder.MAX_LABELS);
        }
    }

    @Test
    void aCriAnswerOverTheMessageLimitFailsAndIsCounted() throws Exception {
        Path socket = dir.resolve("containerd.sock");
        ContainerStatusResponse tooLarge = ContainerStatusResponse.newBuilder().setStatus(ContainerStatus.newBuilder()
                .setId(ID).putLabels("blob", "y".repeat(CriClient.MAX_MESSAGE_BYTES + 1))).build();
        try (var cri = new UnixSocketServers.FakeCri(socket, req -> tooLarge);
             var names = RuntimeMetadata.start(config("containerd", socket, 10_000))) {
            names.request("containerd", ID, null);
            await(names, () -> names.status().getFailed() == 1, "failed");
            assertThat(names.cached(ID)).isNull();
        }
    }

    @Test
    void badOrOversizedJsonFromAnEngineApiFailsAndIsCounted() throws Exception {
        byte[][] bodies = {
                "{\"Name\": \"x\", \"Config\": {\"Labels\": {\"a\": ".getBytes(StandardCharsets.UTF_8),   // cut short
                "[[[[[[[[[[".repeat(10_000).getBytes(StandardCharsets.UTF_8),                          // deep nesting
                ("{\"Name\": \"" + "z".repeat(EngineApiClient.MAX_RESPONSE_BYTES) + "\"}").getBytes(StandardCharsets.UTF_8),
                "not json at all".getBytes(StandardCharsets.UTF_8),
        };
        int i = 0;
        for (byte[] body : bodies) {
            Path socket = dir.resolve("docker" + i++ + ".sock");
            try (var http = new UnixSocketServers.FixedHttp(socket, 200, body);
                 var names = RuntimeMetadata.start(config("docker", socket, 10_000))) {
                names.request("docker", ID, null);
                await(names, () -> names.status().getFailed() == 1, "failed on body " + i);
                assertThat(names.cached(ID)).isNull();
                assertThat(names.status().getAnswered()).isZero();
                assertThat(http.requests.get()).as("asked over the socket").isEqualTo(1);
                assertThat(names.status().getSockets(0).getState()).doesNotContain("Connect to");
            }
        }
    }

    @Test
    void thousandsOfEngineApiLabelsAreBounded() throws Exception {
        StringBuilder labels = new StringBuilder();
        for (int i = 0; i < 3000; i++) {
            labels.append(i == 0 ? "" : ",").append("\"l").append(String.format("%04d", i)).append("\":\"v\"");
        }
        byte[] body = ("{\"Name\":\"/web\",\"Config\":{\"Labels\":{" + labels + ",\"team\":\"ml\"}},\"Extra\":[1,{\"a\":[]}]}")
                .getBytes(StandardCharsets.UTF_8);
        Path socket = dir.resolve("docker.sock");
        try (var http = new UnixSocketServers.FixedHttp(socket, 200, body);
             var names = RuntimeMetadata.start(config("docker", socket, 10_000))) {
            names.request("docker", ID, null);
            await(names, () -> names.cached(ID) != null, "answered");
            RuntimeNames n = names.cached(ID);
            assertThat(n.containerName()).isEqualTo("web");
            assertThat(n.labels()).hasSize(RuntimeNamesBuilder.MAX_LABELS).containsKey("l0001");
            assertThat(names.status().getLabelsDropped()).isEqualTo(3000 + 1 - RuntimeNamesBuilder.MAX_LABELS);
        }
    }

    @Test
    void namesOffAsksNothing() throws Exception {
        Path socket = dir.resolve("containerd.sock");
        AgentConfig.RuntimeLookup c = config("containerd", socket, 500);
        try (var cri = new UnixSocketServers.FakeCri(socket, RuntimeMetadataTest::kubeletContainerFor);
             var names = RuntimeMetadata.start(new AgentConfig.RuntimeLookup(false, c.sockets(), 500, 1000, 0, 16))) {
            names.request("containerd", ID, null);
            assertThat(names.status().getEnabled()).isFalse();
            assertThat(names.status().getRequests()).isZero();
            assertThat(names.runtimes()).isEmpty();
            assertThat(cri.calls.get()).isZero();
        }
    }

    static ContainerStatusResponse kubeletContainerFor(io.agentguard.proto.cri.ContainerStatusRequest req) {
        return kubeletContainer(req.getContainerId());
    }

    @Test
    void aFullCacheDropsTheOldestEntries() throws Exception {
        Path socket = dir.resolve("containerd.sock");
        AgentConfig.RuntimeLookup c = config("containerd", socket, 10_000);
        CountDownLatch never = new CountDownLatch(0);
        try (var cri = new UnixSocketServers.FakeCri(socket, RuntimeMetadataTest::kubeletContainerFor);
             var names = RuntimeMetadata.start(new AgentConfig.RuntimeLookup(true, c.sockets(), 10_000, 600_000, 30_000, 16))) {
            for (int i = 0; i < 40; i++) {
                names.request("containerd", String.format("%064x", i + 1), null);
            }
            await(names, () -> names.status().getAnswered() == 40, "all answered");
            never.await();
            assertThat(names.status().getCachedEntries()).isEqualTo(16);
            assertThat(names.cached(String.format("%064x", 40))).isNotNull();
            assertThat(names.cached(String.format("%064x", 1))).isNull();
        }
    }

    @Test
    void asTheWorkloadSeamItNamesAKubernetesContainerFromItsIdentity() throws Exception {
        Path socket = dir.resolve("containerd.sock");
        io.agentguard.workload.WorkloadIdentity identity = new io.agentguard.workload.WorkloadIdentity(
                io.agentguard.proto.v1.WorkloadKind.WORKLOAD_KIND_KUBERNETES, "containerd", ID, ID.substring(0, 12),
                "6b1e0f4a-2c3d-4e5f-8a9b-0c1d2e3f4a5b", "", "", "");
        try (var cri = new UnixSocketServers.FakeCri(socket, RuntimeMetadataTest::kubeletContainerFor);
             var names = RuntimeMetadata.start(config("containerd", socket, 10_000))) {
            io.agentguard.workload.WorkloadNames seam = names;
            assertThat(seam.names(identity)).isNull();
            seam.lookup(identity, 4242L);
            await(names, () -> seam.names(identity) != null, "answered");
            assertThat(seam.names(identity).podName()).isEqualTo("agent-7f9c");
            assertThat(seam.names(identity).containerName()).isEqualTo("trainer");
        }
    }
}
