package io.agentguard.daemon;

import io.agentguard.collector.server.CollectorServer;
import io.agentguard.collector.store.JdbcStore;
import io.agentguard.config.AgentConfig;
import io.agentguard.config.TlsMode;
import io.agentguard.proto.v1.Violation;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** From a real process in a test cgroup to a violation stored by a collector, with its preceding events. */
class ReportKernelTest {
    static final Path DIR;
    static final JdbcStore STORE;
    static final CollectorServer COLLECTOR;

    static {
        try {
            DIR = Files.createTempDirectory("agentguard-report");
            STORE = JdbcStore.open("sqlite:" + DIR.resolve("collector.db"));
            COLLECTOR = new CollectorServer(STORE, new InetSocketAddress("127.0.0.1", 0),
                    CollectorServer.Tls.plaintextForTests(), new PrometheusRegistry());
        } catch (Exception e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @RegisterExtension
    static final KernelAgentExtension KERNEL = new KernelAgentExtension(4096).configure(b -> b.report(
            new AgentConfig.Report(List.of("127.0.0.1:" + COLLECTOR.port()), "kernel-test-node", TlsMode.PLAINTEXT, "", "", "",
                    DIR.resolve("spool").toString(), 1L << 30, false, 1000, 4, 500)));

    @AfterAll
    static void stop() throws Exception {
        COLLECTOR.kill();   // the agent (stopped after this) still holds its stream open
        STORE.close();
    }

    @Test
    void aViolationReachesTheCollectorWithThePrecedingEventsOfItsProcess() throws Exception {
        Path miner = Files.copy(Path.of("/bin/true"), DIR.resolve("xmrig"), StandardCopyOption.COPY_ATTRIBUTES);
        Path cg = KERNEL.newCgroup("report");
        KERNEL.runIn(cg, "/bin/sh", "-c", "/bin/true; exec " + miner + " --donate-level 1");
        String cgroup = KERNEL.mount().relativize(cg).toString();

        List<JdbcStore.StoredViolation> stored = List.of();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);   // generous: a loaded CI machine
        while (System.nanoTime() < deadline) {
            stored = STORE.query(new JdbcStore.Filter(null, "kernel-test-node", "Miner binary started", null, 0, 10))
                    .stream().filter(v -> v.violation().getCgroupPath().equals(cgroup)).toList();
            if (!stored.isEmpty()) {
                break;
            }
            Thread.sleep(100);
        }
        assertThat(stored).hasSize(1);
        Violation v = stored.getFirst().violation();
        assertThat(v.getEvidence(0).getExec().getFilename()).isEqualTo(miner.toString());
        // before the miner exec, the same process (the shell) was exec'd and forked /bin/true
        assertThat(v.getEvidenceList().subList(1, v.getEvidenceCount())).anyMatch(e -> e.hasExec()
                && e.getExec().getFilename().equals("/bin/sh")).anyMatch(e -> e.hasFork());
        assertThat(v.getEvidenceList()).allMatch(e -> e.getProcess().getPid() == v.getProcess().getPid());
        assertThat(KERNEL.agent().reporter().connectedTo()).isEqualTo("127.0.0.1:" + COLLECTOR.port());
    }
}
