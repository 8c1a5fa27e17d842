package io.agentguard.daemon;

import io.agentguard.collector.server.CollectorServer;
import io.agentguard.collector.store.JdbcStore;
import io.agentguard.config.AgentConfig;
import io.agentguard.config.AgentConfigLoader;
import io.agentguard.config.TlsMode;
import io.agentguard.proto.v1.BlockKind;
import io.agentguard.proto.v1.Violation;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every block is a violation, one per fact, at the collector: real processes in an agent
 * cgroup are refused by the kernel, the agent reports, a collector over gRPC stores. Before
 * this, a denied connect or device open was an event and nothing else: no violation, nothing
 * at the collector.
 */
class BlockReportKernelTest {
    static final Path DIR;
    static final Path RULES;
    static final JdbcStore STORE;
    static final CollectorServer COLLECTOR;
    static final String NODE = "block-report-node";
    static final String PYTHON = "/usr/bin/python3";

    static {
        try {
            DIR = Files.createTempDirectory("agentguard-block-report");
            STORE = JdbcStore.open("sqlite:" + DIR.resolve("collector.db"));
            COLLECTOR = new CollectorServer(STORE, new java.net.InetSocketAddress("127.0.0.1", 0),
                    CollectorServer.Tls.plaintextForTests(), new PrometheusRegistry());
            RULES = DIR.resolve("rules.yaml");
            Files.writeString(RULES, """
                    - rule: Connection to the test's watched net
                      desc: a rule of the operator's that a denied connect matches
                      condition: evt.type = connect and conn.addr cidr 127.66.7.0/24
                      output: "watched net %conn.addr:%conn.port by %proc.name"
                      priority: ERROR
                    """);
        } catch (Exception e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @RegisterExtension
    static final KernelAgentExtension KERNEL = new KernelAgentExtension(4096).withRules(List.of(RULES.toString()))
            .configure(b -> b.enforce(true)
                    .defaultPolicy(AgentConfigLoader.parse("test", """
                            agent_cgroups: [x]
                            policies:
                              default:
                                egress: {default: allow, deny: [127.66.0.0/16]}
                                gpu: {devices: none, compute: false}
                            """).defaultPolicy())
                    // long enough that the loop is one window whatever the machine's speed: the process's exit closes it
                    .aggregationWindowMs(600_000)
                    .posture(new AgentConfig.Posture(false, 600_000, 60_000))   // root test processes: not this test's subject
                    .report(new AgentConfig.Report(List.of("127.0.0.1:" + COLLECTOR.port()), NODE, TlsMode.PLAINTEXT,
                            "", "", "", DIR.resolve("spool").toString(), 1L << 30, false, 1000, 2, 500)));

    @AfterAll
    static void stop() throws Exception {
        COLLECTOR.kill();
        STORE.close();
    }

    /** The collector's rows for a rule and cgroup, once one has count >= minCount (or 30 s passed). */
    private static List<JdbcStore.StoredViolation> stored(String rule, String cgroup, long minCount) throws Exception {
        List<JdbcStore.StoredViolation> rows = List.of();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            rows = STORE.query(new JdbcStore.Filter(null, NODE, rule, null, 0, 10_000)).stream()
                    .filter(v -> v.violation().getCgroupPath().equals(cgroup)).toList();
            if (rows.stream().anyMatch(r -> Math.max(1, r.violation().getCount()) >= minCount)) {
                break;
            }
            Thread.sleep(100);
        }
        return rows;
    }

    /** Code in a file, not inline: the pack's one-liner rules have nothing to say about it. */
    private static String script(String code) throws java.io.IOException {
        Path f = Files.createTempFile(DIR, "step", ".py");
        Files.writeString(f, code);
        return f.toString();
    }

    private static Predicate<Violation> in(String cgroup) {
        return v -> v.getCgroupPath().equals(cgroup);
    }

    @Test
    void aLoopOfAThousandDeniedConnectsIsOneViolationAtOnceAndOneAggregateAtTheCollector() throws Exception {
        Path cg = KERNEL.newCgroup("loop");
        String cgroup = KERNEL.mount().relativize(cg).toString();
        long blockedBefore = KERNEL.agent().pipelineCounters().blocked(BlockKind.BLOCK_KIND_CONNECT_VALUE, false);
        KernelAgentExtension.Run run = KERNEL.runIn(cg, PYTHON, script("""
                import socket
                denied = 0
                for i in range(1000):
                    s = socket.socket()
                    try:
                        s.connect(("127.66.0.9", 9))
                    except PermissionError:
                        denied += 1
                    s.close()
                print(denied)
                """));
        assertThat(run.stdout().trim()).isEqualTo("1000");   // the kernel refused every one

        String rule = "agentguard: connection denied by egress policy";
        List<Violation> local = KERNEL.awaitViolations(in(cgroup).and(v -> v.getSummary()), 1, Duration.ofSeconds(30));
        List<Violation> all = KERNEL.awaitViolations(in(cgroup), 2, Duration.ofSeconds(1));
        // one at once, one summary when the process exited: not a thousand
        assertThat(all).extracting(Violation::getRule).containsExactly(rule, rule);
        assertThat(all.getFirst().getCount()).isEqualTo(1);
        assertThat(all.getFirst().getBlockKind()).isEqualTo(BlockKind.BLOCK_KIND_CONNECT);
        assertThat(local.getFirst().getCount()).isEqualTo(1000);
        assertThat(local.getFirst().getAggregationKey()).isEqualTo(all.getFirst().getAggregationKey());

        // the collector holds one violation for it, with the whole count
        List<JdbcStore.StoredViolation> rows = stored(rule, cgroup, 1000);
        assertThat(rows).singleElement().satisfies(r -> {
            assertThat(r.violation().getCount()).isEqualTo(1000);
            assertThat(r.violation().getBlockKind()).isEqualTo(BlockKind.BLOCK_KIND_CONNECT);
            assertThat(r.violation().getProcess().getPid()).isEqualTo(run.pid());
        });
        assertThat(KERNEL.agent().pipelineCounters().blocked(BlockKind.BLOCK_KIND_CONNECT_VALUE, false) - blockedBefore)
                .isGreaterThanOrEqualTo(1000);
        // and so in the metrics an operator scrapes
        java.lang.reflect.Field f = Agent.class.getDeclaredField("metrics");
        f.setAccessible(true);
        AgentMetrics metrics = (AgentMetrics) f.get(KERNEL.agent());
        java.io.ByteArrayOutputStream text = new java.io.ByteArrayOutputStream();
        new io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter(false).write(text, metrics.registry.scrape());
        String scraped = text.toString();
        assertThat(scraped).containsPattern("agentguard_blocked_total\\{kind=\"connect\",verdict=\"denied\"} [0-9.E]+")
                .contains("agentguard_blocked_total{kind=\"gpu_open\",verdict=\"would_block\"}")
                .containsPattern("agentguard_violations_aggregated_total [0-9.E]+");
    }

    @Test
    void aDeniedGpuDeviceOpenIsAViolation() throws Exception {
        Path cg = KERNEL.newCgroup("nogpu");
        String cgroup = KERNEL.mount().relativize(cg).toString();
        KernelAgentExtension.Run run = KERNEL.runIn(cg, PYTHON, script("""
                import sys
                for i in range(2):
                    try:
                        open(sys.argv[1], "rb")
                        print("opened")
                    except PermissionError:
                        print("EPERM")
                """), KERNEL.standin("nvidia0").toString());
        assertThat(run.stdout()).isEqualTo("EPERM\nEPERM\n");
        String rule = "agentguard: GPU device open denied";
        List<Violation> summary = KERNEL.awaitViolations(in(cgroup).and(Violation::getSummary), 1, Duration.ofSeconds(30));
        assertThat(summary.getFirst().getCount()).isEqualTo(2);
        List<Violation> all = KERNEL.awaitViolations(in(cgroup), 2, Duration.ofSeconds(1));
        assertThat(all).extracting(Violation::getRule).containsExactly(rule, rule);
        assertThat(all).allSatisfy(v -> assertThat(v.getBlockKind()).isEqualTo(BlockKind.BLOCK_KIND_GPU_OPEN));
        assertThat(stored(rule, cgroup, 2)).singleElement()
                .satisfies(r -> assertThat(r.violation().getCount()).isEqualTo(2));
    }

    @Test
    void aDeniedConnectAnOperatorRuleMatchedIsThatRulesViolationWithTheBlockKindNotTwo() throws Exception {
        Path cg = KERNEL.newCgroup("ruled");
        String cgroup = KERNEL.mount().relativize(cg).toString();
        KernelAgentExtension.Run run = KERNEL.runIn(cg, PYTHON, script("""
                import socket
                try:
                    socket.create_connection(("127.66.7.1", 9))
                except PermissionError:
                    print("EPERM")
                """));
        assertThat(run.stdout()).isEqualTo("EPERM\n");
        List<Violation> v = KERNEL.awaitViolations(in(cgroup), 1, Duration.ofSeconds(20));
        KERNEL.settle(KERNEL.cgroupId(cg), 300);
        v = KERNEL.awaitViolations(in(cgroup), 1, Duration.ofMillis(1));
        assertThat(v).singleElement().satisfies(x -> {
            assertThat(x.getRule()).isEqualTo("Connection to the test's watched net");
            assertThat(x.getBlockKind()).isEqualTo(BlockKind.BLOCK_KIND_CONNECT);
        });
    }
}
