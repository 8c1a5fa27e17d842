package io.agentguard.collector;

import com.google.protobuf.ByteString;
import com.google.protobuf.Timestamp;
import io.agentguard.collector.cli.CollectorMain;
import io.agentguard.collector.server.CollectorServer;
import io.agentguard.collector.store.JdbcStore;
import io.agentguard.proto.v1.AgentHello;
import io.agentguard.proto.v1.AgentMessage;
import io.agentguard.proto.v1.Batch;
import io.agentguard.proto.v1.CollectorMessage;
import io.agentguard.proto.v1.CollectorService;
import io.agentguard.proto.v1.ConnectEvent;
import io.agentguard.proto.v1.ConnectOutcome;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.ExecEvent;
import io.agentguard.proto.v1.GpuEvent;
import io.agentguard.proto.v1.GpuIoctl;
import io.agentguard.proto.v1.Heartbeat;
import io.agentguard.proto.v1.Priority;
import io.agentguard.proto.v1.ProcessInfo;
import io.agentguard.proto.v1.Record;
import io.agentguard.proto.v1.Verdict;
import io.agentguard.proto.v1.Violation;
import io.agentguard.proto.v1.Workload;
import io.agentguard.proto.v1.WorkloadKind;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * An operator asks the collector about events, nodes and new violations with
 * agentguard-collector query, on SQLite and on a real PostgreSQL; what the query reads was
 * sent the way agents send it (the agent protocol over gRPC).
 */
abstract class QueryContract {
    /** A URL for a database (or schema) with no tables yet. */
    abstract String emptyDatabase() throws Exception;

    /** Runs SQL directly on it. */
    abstract void sql(String url, String... statements) throws Exception;

    /** URLs where there is no collector database: each must give exit 2 and create nothing. */
    abstract List<String> missingDatabases() throws Exception;

    /** Whether something was created where a missing database was pointed at. */
    abstract boolean created(String url) throws Exception;

    static final String CTR = "3f4e5d6c7b8a99887766554433221100ffeeddccbbaa00112233445566778899";
    static final String POD = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0";

    private final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable c : open.reversed()) {
            c.close();
        }
    }

    /** A collector storing into a new database: its agent port and the store. */
    private CollectorServer collector(String url) throws Exception {
        JdbcStore store = JdbcStore.open(url);
        open.add(store);
        CollectorServer server = new CollectorServer(store, new InetSocketAddress("127.0.0.1", 0),
                CollectorServer.Tls.plaintextForTests(), new PrometheusRegistry(), List.of(), line -> { });
        open.add(server::kill);
        return server;
    }

    /** An agent's stream: hello (with hooks), then batches, each acknowledged before the next. */
    private final class Agent {
        final StreamObserver<AgentMessage> out;
        final LinkedBlockingQueue<CollectorMessage> in = new LinkedBlockingQueue<>();
        final ByteString epoch = ByteString.copyFrom(new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});
        long sequence;

        Agent(CollectorServer server, String node) throws Exception {
            ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext().build();
            open.add(channel::shutdownNow);
            out = ClientCalls.asyncBidiStreamingCall(channel.newCall(CollectorService.STREAM, CallOptions.DEFAULT),
                    new StreamObserver<>() {
                        public void onNext(CollectorMessage m) {
                            in.add(m);
                        }

                        public void onError(Throwable t) {
                        }

                        public void onCompleted() {
                        }
                    });
            out.onNext(AgentMessage.newBuilder().setHello(AgentHello.newBuilder().setNode(node).setAgentVersion("0.9.1")
                    .setKernel("6.18.0").setMode("enforce").putHooks("exec", "tracepoint").putHooks("connect", "cgroup")
                    .setSpoolEpoch(epoch)).build());
            assertThat(in.poll(30, TimeUnit.SECONDS).hasHelloAck()).isTrue();
        }

        /** Sends the records as one batch and waits for its ack. */
        void send(Record.Builder... records) throws Exception {
            Batch.Builder b = Batch.newBuilder();
            for (Record.Builder r : records) {
                b.addRecords(r.setSequence(++sequence).setEpoch(epoch));
            }
            out.onNext(AgentMessage.newBuilder().setBatch(b).build());
            CollectorMessage ack = in.poll(30, TimeUnit.SECONDS);
            assertThat(ack).isNotNull();
            assertThat(ack.getAck().getSequence()).isEqualTo(sequence);
        }

        void heartbeat(Heartbeat hb) {
            out.onNext(AgentMessage.newBuilder().setHeartbeat(hb).build());
        }
    }

    private static Timestamp ago(long seconds) {
        return Timestamp.newBuilder().setSeconds(Instant.now().getEpochSecond() - seconds).build();
    }

    private static ProcessInfo.Builder process(int pid, String comm, String cgroup, Workload w) {
        return ProcessInfo.newBuilder().setPid(pid).setComm(comm).setCgroupPath(cgroup).setWorkload(w);
    }

    static Record.Builder event(Event.Builder e) {
        return Record.newBuilder().setEvent(e);
    }

    @Test
    void eventsSentByAgentsAreQueriedBackDecodedByEachFilter() throws Exception {
        String db = emptyDatabase();
        CollectorServer server = collector(db);
        Agent a = new Agent(server, "gpu-node-1");
        Workload ctr = Workload.newBuilder().setKind(WorkloadKind.WORKLOAD_KIND_KUBERNETES).setContainerId(CTR)
                .setPodUid(POD).setPodName("trainer").setPodNamespace("ml").build();
        Workload slurm = Workload.newBuilder().setKind(WorkloadKind.WORKLOAD_KIND_SLURM).setJobId("4242")
                .setUnit("slurmstepd.scope").build();
        a.send(event(Event.newBuilder().setTime(ago(3 * 86_400)).setProcess(process(100, "curl", "/kubepods/pod-x/ctr",
                        ctr)).setExec(ExecEvent.newBuilder().setFilename("/usr/bin/curl").addArgs("curl")
                        .addArgs("http://127.66.0.7/payload").setSuccess(true))),
                event(Event.newBuilder().setTime(ago(60)).setProcess(process(200, "python3", "/kubepods/pod-x/ctr",
                        ctr)).setConnect(ConnectEvent.newBuilder().setAddress("127.66.0.7").setPort(443)
                        .setOutcome(ConnectOutcome.CONNECT_OUTCOME_DENIED).setVerdict(Verdict.VERDICT_DENIED))),
                event(Event.newBuilder().setTime(ago(30)).setProcess(process(300, "train.py", "/slurm/job_4242",
                        slurm)).setGpu(GpuEvent.newBuilder().setIoctl(GpuIoctl.newBuilder().setName("RM_ALLOC")
                        .setClassName("HOPPER_COMPUTE_A")))));
        Agent b = new Agent(server, "cpu-node-2");
        b.send(event(Event.newBuilder().setTime(ago(10)).setProcess(process(100, "sh", "/kubepods/pod-xy", Workload
                .getDefaultInstance())).setExec(ExecEvent.newBuilder().setFilename("/bin/sh").addArgs("sh").setSuccess(true))));

        String all = query(0, "query", "events", "--db", db);
        assertThat(all).contains("/usr/bin/curl http://127.66.0.7/payload", "-> 127.66.0.7:443 denied DENIED",
                "ioctl RM_ALLOC HOPPER_COMPUTE_A", "ml/trainer/3f4e5d6c7b8a", "job:4242", "/bin/sh");
        assertThat(lines(query(0, "query", "events", "--db", db, "--type", "exec"))).hasSize(2);
        assertThat(query(0, "query", "events", "--db", db, "--type", "gpu")).contains("RM_ALLOC").doesNotContain("curl");
        assertThat(lines(query(0, "query", "events", "--db", db, "--node", "cpu-node-2"))).singleElement()
                .asString().contains("/bin/sh");
        assertThat(lines(query(0, "query", "events", "--db", db, "--pid", "100"))).hasSize(2);
        assertThat(lines(query(0, "query", "events", "--db", db, "--pid", "100", "--node", "gpu-node-1")))
                .singleElement().asString().contains("curl");
        // whole components: /kubepods/pod-x holds .../ctr, not /kubepods/pod-xy
        assertThat(lines(query(0, "query", "events", "--db", db, "--cgroup", "/kubepods/pod-x"))).hasSize(2)
                .noneMatch(l -> l.contains("/bin/sh"));
        assertThat(lines(query(0, "query", "events", "--db", db, "--container", CTR.substring(0, 12)))).hasSize(2);
        assertThat(lines(query(0, "query", "events", "--db", db, "--pod", POD))).hasSize(2);
        assertThat(lines(query(0, "query", "events", "--db", db, "--job", "4242"))).singleElement().asString()
                .contains("train.py");
        assertThat(lines(query(0, "query", "events", "--db", db, "--unit", "slurmstepd.scope"))).hasSize(1);
        assertThat(lines(query(0, "query", "events", "--db", db, "--since", "2d"))).hasSize(3);
        assertThat(lines(query(0, "query", "events", "--db", db, "--until", "1d"))).singleElement().asString()
                .contains("curl");
        assertThat(lines(query(0, "query", "events", "--db", db, "--since", "1d", "--until", "45s"))).singleElement()
                .asString().contains("127.66.0.7:443");
        String json = query(0, "query", "events", "--db", db, "--json", "--type", "connect");
        assertThat(json.strip()).startsWith("{\"node\":\"gpu-node-1\",\"epoch\":\"0102030405060708090a0b0c0d0e0f10\","
                + "\"sequence\":2,").contains("\"connect\":{", "\"port\":443", "\"verdict\":\"VERDICT_DENIED\"");
        String unknown = query(2, "query", "events", "--db", db, "--type", "exce");
        assertThat(unknown).contains("unknown event type 'exce'", "exec, fork, exit, connect, gpu");
    }

    @Test
    void violationsShowTheirEvidenceDecoded() throws Exception {
        String db = emptyDatabase();
        Agent a = new Agent(collector(db), "n1");
        a.send(Record.newBuilder().setViolation(Violation.newBuilder().setRule("shell-in-container")
                .setPriority(Priority.PRIORITY_CRITICAL).setTime(ago(5)).setOutput("a shell")
                .addEvidence(Event.newBuilder().setTime(ago(5)).setProcess(process(77, "bash", "/x", Workload
                        .getDefaultInstance())).setExec(ExecEvent.newBuilder().setFilename("/bin/bash").addArgs("bash")
                        .addArgs("-i").setSuccess(true)))));
        assertThat(query(0, "query", "violations", "--db", db, "--evidence"))
                .contains("shell-in-container", "evidence:", "exec", "/bin/bash -i");
        assertThat(query(0, "query", "--db", db)).contains("shell-in-container").doesNotContain("evidence:");
    }

    @Test
    void nodesListsEveryNodeWithItsHealthAndFlagsTheStaleOne() throws Exception {
        String db = emptyDatabase();
        CollectorServer server = collector(db);
        Agent fresh = new Agent(server, "fresh-node");
        fresh.heartbeat(Heartbeat.newBuilder().setLost(17).setDropped(3).setSpoolRecords(250).build());
        fresh.send(event(Event.newBuilder().setTime(ago(1)).setFork(io.agentguard.proto.v1.ForkEvent.newBuilder()
                .setChildPid(9))));   // acked after the heartbeat was stored (one stream, in order)
        new Agent(server, "quiet-node");
        sql(db, "UPDATE nodes SET last_seen_ms = " + (System.currentTimeMillis() - 3_600_000L)
                + " WHERE node = 'quiet-node'");
        String table = query(0, "query", "nodes", "--db", db);
        assertThat(lines(table)).hasSize(2);
        assertThat(lines(table).stream().filter(l -> l.startsWith("fresh-node")).findFirst().orElseThrow())
                .contains(" ok ", "0.9.1", "6.18.0", "enforce", " 17 ", " 3 ", " 250 ", "connect=cgroup,exec=tracepoint");
        assertThat(lines(table).stream().filter(l -> l.startsWith("quiet-node")).findFirst().orElseThrow())
                .contains("STALE", "60m ago");
        query(3, "query", "nodes", "--db", db, "--fail-on-stale");
        query(0, "query", "nodes", "--db", db, "--fail-on-stale", "--stale-after", "2h");
        String json = query(0, "query", "nodes", "--db", db, "--json");
        assertThat(json).contains("\"node\":\"quiet-node\",\"stale\":true", "\"node\":\"fresh-node\",\"stale\":false",
                "\"lost\":\"17\"", "\"hooks\":{\"connect\":\"cgroup\",\"exec\":\"tracepoint\"}");
        query(2, "query", "nodes", "--db", db, "--stale-after", "2x");
    }

    @Test
    void followReceivesAViolationPushedAsTheCollectorStoresIt() throws Exception {
        String db = emptyDatabase();
        CollectorServer server = collector(db);
        io.grpc.Server queries = server.followers().listen(new InetSocketAddress("127.0.0.1", 0));
        open.add(queries::shutdownNow);
        Agent a = new Agent(server, "n1");
        a.send(Record.newBuilder().setViolation(Violation.newBuilder().setRule("before-follow")
                .setPriority(Priority.PRIORITY_WARNING).setTime(ago(5)).setOutput("old")));
        PrintStream old = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int[] exit = {-1};
        Thread follower;
        System.setOut(new PrintStream(out, true));
        try {
            follower = Thread.ofPlatform().start(() -> exit[0] = CollectorMain.execute("query", "violations", "--db", db,
                    "--follow", "--collector", "127.0.0.1:" + queries.getPort(), "--priority", "warning"));
            for (int i = 0; i < 600 && server.followers().followers() == 0; i++) {
                Thread.sleep(50);   // until it subscribed (no time asserted: it only has to happen)
            }
            assertThat(server.followers().followers()).isEqualTo(1);
            a.send(Record.newBuilder().setViolation(Violation.newBuilder().setRule("pushed-rule")
                    .setPriority(Priority.PRIORITY_CRITICAL).setTime(ago(0)).setOutput("new")),
                    Record.newBuilder().setViolation(Violation.newBuilder().setRule("too-mild")
                            .setPriority(Priority.PRIORITY_DEBUG).setTime(ago(0)).setOutput("filtered")));
            for (int i = 0; i < 600 && !out.toString().contains("pushed-rule"); i++) {
                Thread.sleep(50);
            }
            queries.shutdownNow();   // the collector goes: the follow ends
            follower.join(30_000);
        } finally {
            System.setOut(old);
        }
        assertThat(out.toString()).contains("before-follow", "pushed-rule").doesNotContain("too-mild");
        assertThat(out.toString().indexOf("pushed-rule")).isEqualTo(out.toString().lastIndexOf("pushed-rule"));
        assertThat(exit[0]).isEqualTo(1);
    }

    @Test
    void aQueryWhereThereIsNoDatabaseIsAnErrorAndCreatesNothing() throws Exception {
        for (String url : missingDatabases()) {
            for (String sub : List.of("violations", "events", "nodes")) {
                assertThat(query(2, "query", sub, "--db", url)).contains("no ").contains("database at");
            }
            assertThat(query(2, "query", "--db", url)).contains("database at");
            assertThat(created(url)).as(url).isFalse();
        }
    }

    /** Runs the CLI, asserts its exit status, returns stdout and stderr. */
    static String query(int expectedExit, String... args) {
        PrintStream old = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true));
        System.setErr(new PrintStream(out, true));
        int exit;
        try {
            exit = CollectorMain.execute(args);
        } finally {
            System.setOut(old);
            System.setErr(oldErr);
        }
        assertThat(exit).as(String.join(" ", args) + " printed:\n" + out).isEqualTo(expectedExit);
        return out.toString();
    }

    /** The table's lines without its header. */
    static List<String> lines(String table) {
        return table.lines().skip(1).filter(l -> !l.isBlank()).toList();
    }
}
