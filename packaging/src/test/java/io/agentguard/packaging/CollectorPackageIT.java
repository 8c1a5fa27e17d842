package io.agentguard.packaging;

import io.agentguard.daemon.NotifySocket;
import io.agentguard.packaging.PackageCommands.Result;
import io.agentguard.proto.v1.AgentHello;
import io.agentguard.proto.v1.AgentMessage;
import io.agentguard.proto.v1.Batch;
import io.agentguard.proto.v1.CollectorMessage;
import io.agentguard.proto.v1.CollectorService;
import io.agentguard.proto.v1.Priority;
import io.agentguard.proto.v1.Record;
import io.agentguard.proto.v1.Violation;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.agentguard.packaging.PackageCommands.builtPackage;
import static io.agentguard.packaging.PackageCommands.clean;
import static io.agentguard.packaging.PackageCommands.dpkg;
import static io.agentguard.packaging.PackageCommands.exec;
import static io.agentguard.packaging.PackageCommands.install;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The collector's .deb as an operator gets it: installed into a throwaway root with dpkg, its
 * files, conffile and unit checked (systemd-analyze verify), its launcher run on the bundled
 * runtime with the shipped configuration (moved to loopback and a temporary database), telling
 * systemd it is ready on a test NOTIFY_SOCKET and taking an agent's report over gRPC; a
 * database of the schema before Flyway migrated by the packaged collector with its rows; an
 * edited conffile kept across a reinstall; a purge that leaves nothing.
 */
class CollectorPackageIT {
    private static final String VERSION = System.getProperty("agentguard.version", "0.1.0-SNAPSHOT");
    private static final Path PACKAGING = Path.of(System.getProperty("agentguard.packaging.dir", "."));
    private static Path deb;

    @TempDir
    Path root;

    @BeforeAll
    static void findPackage() throws IOException {
        deb = builtPackage("agentguard-collector_.*\\.deb", "build-collector-deb.sh");
    }

    @Test
    void controlFieldsNameThePackageAndVersion() throws Exception {
        Result r = exec("dpkg-deb", "--field", deb.toString(), "Package", "Version", "Depends");
        assertThat(r.exit()).isZero();
        assertThat(r.output()).contains("Package: agentguard-collector\n",
                "Version: " + VERSION.replace("-SNAPSHOT", "~snapshot") + "\n");
    }

    @Test
    void installedFilesRunOnTheBundledRuntimeAndTheUnitVerifiesCleanly() throws Exception {
        install(root, deb);
        assertThat(root.resolve("usr/bin/agentguard-collector")).isExecutable();
        assertThat(root.resolve("usr/lib/agentguard-collector/runtime/bin/java")).isExecutable();
        assertThat(root.resolve("usr/lib/agentguard-collector/agentguard-collector.jar")).isRegularFile();
        assertThat(root.resolve("etc/agentguard/collector.yaml")).hasSameTextualContentAs(
                PACKAGING.resolve("debian/collector/collector.yaml"));
        assertThat(root.resolve("usr/share/doc/agentguard-collector/COLLECTOR.md")).isRegularFile();
        // the dashboard and alerting rules, as in the source tree (promtool and the names check test those)
        for (String file : List.of("agentguard-dashboard.json", "agentguard-alerts.yaml")) {
            Path shipped = root.resolve("usr/share/agentguard-collector/monitoring/" + file);
            assertThat(shipped).hasSameTextualContentAs(PACKAGING.resolve("monitoring/" + file));
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(shipped))).isEqualTo("rw-r--r--");
        }
        // postinst: the TLS directory, empty (the keys are the operator's), closed to others
        assertThat(root.resolve("etc/agentguard/tls")).isEmptyDirectory();
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(root.resolve("etc/agentguard/tls"))))
                .isEqualTo("rwxr-x---");
        assertThat(dpkg(root, "-s", "agentguard-collector").output()).contains("Status: install ok installed",
                "Conffiles:\n /etc/agentguard/collector.yaml");
        Result version = exec(root.resolve("usr/bin/agentguard-collector").toString(), "--version");
        assertThat(version.exit()).as(version.output()).isZero();
        assertThat(version.output()).isEqualTo("agentguard-collector " + VERSION + "\n");

        String unit = Files.readString(root.resolve("lib/systemd/system/agentguard-collector.service"));
        assertThat(unit).contains("Type=notify", "StateDirectory=agentguard-collector", "NoNewPrivileges=yes",
                "ProtectSystem=strict", "User=agentguard-collector", "\nCapabilityBoundingSet=\n",
                "ExecStart=/usr/bin/agentguard-collector serve --config /etc/agentguard/collector.yaml");
        // systemd-analyze checks that ExecStart exists on this host: point it at the throwaway root
        Path copy = Files.createDirectories(root.resolve("verify")).resolve("agentguard-collector.service");
        Files.writeString(copy, unit.replace("ExecStart=/usr/bin/agentguard-collector",
                "ExecStart=" + root.resolve("usr/bin/agentguard-collector")));
        Result r = exec("systemd-analyze", "verify", copy.toString());
        assertThat(r.exit()).as(r.output()).isZero();
        assertThat(r.output()).as("warnings from systemd-analyze verify").isEmpty();
    }

    /** The shipped conffile, moved to loopback plaintext, an ephemeral port and a database under the root. */
    private Path testConfig(Path db) throws IOException {
        String shipped = Files.readString(root.resolve("etc/agentguard/collector.yaml"));
        String config = shipped.replace("listen: 0.0.0.0:4317", "listen: 127.0.0.1:0")
                .replace("plaintext: false", "plaintext: true")
                .replaceAll("(?m)^  (cert|key|client_ca): .*$", "  $1: \"\"")
                .replace("sqlite:/var/lib/agentguard-collector/collector.db", "sqlite:" + db)
                .replace("listen: 127.0.0.1:9465", "listen: \"\"")
                .replace("listen: 127.0.0.1:9466", "listen: 127.0.0.1:0");
        assertThat(config).contains("127.0.0.1:0", "plaintext: true", "sqlite:" + db);
        Path file = root.resolve("test-collector.yaml");
        Files.writeString(file, config);
        return file;
    }

    private record Served(Process process, int port, Path log) {
    }

    /** Starts the packaged collector as its unit does (serve --config) with a test NOTIFY_SOCKET; waits for READY=1. */
    private Served serve(Path config, NotifySocket notify) throws Throwable {
        Path log = root.resolve("collector.log");
        ProcessBuilder pb = clean(List.of(root.resolve("usr/bin/agentguard-collector").toString(), "serve", "--config",
                config.toString())).redirectOutput(log.toFile());
        pb.environment().put("NOTIFY_SOCKET", notify.path.toString());
        Process p = pb.start();
        String ready = notify.await("READY=1", 90);
        assertThat(ready).as(Files.readString(log)).isNotNull();
        Matcher m = Pattern.compile("port (\\d+)").matcher(ready);
        assertThat(m.find()).as(ready).isTrue();
        return new Served(p, Integer.parseInt(m.group(1)), log);
    }

    private static void stop(Served s, NotifySocket notify) throws Throwable {
        s.process().destroy();   // SIGTERM, as systemctl stop
        assertThat(notify.await("STOPPING=1", 20)).as("STOPPING=1 on SIGTERM").isNotNull();
        assertThat(s.process().waitFor(20, TimeUnit.SECONDS)).as("stops within TimeoutStopSec").isTrue();
    }

    /** An agent's report: hello, one batch of violations; returns the sequence acknowledged. */
    private static long report(int port, String node, long... sequences) throws Exception {
        ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
        try {
            LinkedBlockingQueue<Object> in = new LinkedBlockingQueue<>();
            StreamObserver<AgentMessage> out = ClientCalls.asyncBidiStreamingCall(channel.newCall(CollectorService.STREAM,
                    CallOptions.DEFAULT), new StreamObserver<CollectorMessage>() {
                        public void onNext(CollectorMessage m) {
                            in.add(m);
                        }

                        public void onError(Throwable t) {
                            in.add(Status.fromThrowable(t));
                        }

                        public void onCompleted() {
                            in.add("completed");
                        }
                    });
            com.google.protobuf.ByteString epoch = com.google.protobuf.ByteString.copyFrom(new byte[16]);
            out.onNext(AgentMessage.newBuilder().setHello(AgentHello.newBuilder().setNode(node).setSpoolEpoch(epoch)).build());
            assertThat(in.poll(30, TimeUnit.SECONDS)).isInstanceOf(CollectorMessage.class);
            Batch.Builder b = Batch.newBuilder();
            for (long s : sequences) {
                b.addRecords(Record.newBuilder().setSequence(s).setEpoch(epoch).setViolation(Violation.newBuilder()
                        .setRule("packaged " + s).setPriority(Priority.PRIORITY_CRITICAL)
                        .setTime(com.google.protobuf.Timestamp.newBuilder().setSeconds(1_790_000_000L))));
            }
            out.onNext(AgentMessage.newBuilder().setBatch(b).build());
            Object ack = in.poll(30, TimeUnit.SECONDS);
            assertThat(ack).as(String.valueOf(ack)).isInstanceOf(CollectorMessage.class);
            out.onCompleted();
            return ((CollectorMessage) ack).getAck().getSequence();
        } finally {
            channel.shutdownNow();
        }
    }

    private static List<String> column(Path db, String query) throws Exception {
        List<String> out = new ArrayList<>();
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery(query)) {
            while (rs.next()) {
                out.add(rs.getString(1));
            }
        }
        return out;
    }

    @Test
    void thePackagedCollectorServesFromTheShippedConfigurationAndTellsSystemdWhenReadyAndStopping() throws Throwable {
        install(root, deb);
        Path db = root.resolve("state/collector.db");
        try (NotifySocket notify = new NotifySocket(root.resolve("notify.sock"))) {
            Served s = serve(testConfig(db), notify);
            try {
                assertThat(report(s.port(), "node-a", 1, 2, 3)).isEqualTo(3);
            } finally {
                stop(s, notify);
            }
            assertThat(Files.readString(s.log())).contains("listening on 127.0.0.1:0 (plaintext)");
        }
        assertThat(column(db, "SELECT rule FROM violations WHERE node = 'node-a' ORDER BY sequence"))
                .containsExactly("packaged 1", "packaged 2", "packaged 3");
        assertThat(column(db, "SELECT MAX(version) FROM schema_info"))
                .containsExactly(String.valueOf(io.agentguard.collector.store.JdbcStore.SCHEMA_VERSION));
    }

    @Test
    void anUpgradedCollectorMigratesADatabaseFromBeforeFlywayWithItsRowsOnStart() throws Throwable {
        install(root, deb);
        // the database the collector before this package wrote (schema 3, SQL captured from it), with rows
        Path db = Files.createDirectories(root.resolve("state")).resolve("collector.db");
        String fixture;
        try (var in = CollectorPackageIT.class.getResourceAsStream("/io/agentguard/collector/legacy-v3-sqlite.sql")) {
            fixture = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db); Statement st = c.createStatement()) {
            for (String line : fixture.lines().filter(l -> !l.isBlank() && !l.startsWith("--")).toList()) {
                st.execute(line.substring(0, line.lastIndexOf(';')));
            }
            for (int i = 1; i <= 3; i++) {
                String data = java.util.HexFormat.of().formatHex(Violation.newBuilder().setRule("old " + i)
                        .setPriority(Priority.PRIORITY_ALERT).build().toByteArray());
                st.execute("INSERT INTO violations (node, epoch, sequence, received_ms, time_ms, rule, priority, data)"
                        + " VALUES ('node-old', '" + "00".repeat(16) + "', " + i + ", 1, 1790000000000, 'old " + i
                        + "', 2, X'" + data + "')");
            }
            st.execute("INSERT INTO spools (node, epoch, last_sequence, first_seen_ms, last_seen_ms) VALUES ('node-old', '"
                    + "00".repeat(16) + "', 3, 1, 1)");
        }
        try (NotifySocket notify = new NotifySocket(root.resolve("notify.sock"))) {
            Served s = serve(testConfig(db), notify);
            try {
                // the old node resumes after its last sequence: 1-3 are resends (duplicates), 4 is new
                assertThat(report(s.port(), "node-old", 3, 4)).isEqualTo(4);
            } finally {
                stop(s, notify);
            }
            assertThat(Files.readString(s.log())).contains("schema migrated from version 3 to version "
                    + io.agentguard.collector.store.JdbcStore.SCHEMA_VERSION);
        }
        assertThat(column(db, "SELECT rule FROM violations WHERE node = 'node-old' ORDER BY sequence"))
                .containsExactly("old 1", "old 2", "old 3", "packaged 4");
        assertThat(column(db, "SELECT name FROM pragma_table_info('violations')")).contains("container_id", "pod_uid",
                "job_id");
        assertThat(column(db, "SELECT version || ':' || type FROM flyway_schema_history ORDER BY installed_rank"))
                .containsExactly("3:BASELINE", "4:SQL", "5:SQL", "6:SQL");
    }

    @Test
    void anEditedConfigurationSurvivesAReinstallAndPurgeRemovesEverything() throws Exception {
        install(root, deb);
        Path conf = root.resolve("etc/agentguard/collector.yaml");
        Files.writeString(conf, Files.readString(conf).replace("retention: keep", "retention: 30d"));
        install(root, deb);
        assertThat(Files.readString(conf)).contains("retention: 30d");
        // what running and enabling the service leaves: its database and the wants link
        Files.createDirectories(root.resolve("var/lib/agentguard-collector"));
        Files.writeString(root.resolve("var/lib/agentguard-collector/collector.db"), "x");
        Path wants = Files.createDirectories(root.resolve("etc/systemd/system/multi-user.target.wants"));
        Files.createSymbolicLink(wants.resolve("agentguard-collector.service"),
                Path.of("/lib/systemd/system/agentguard-collector.service"));

        Result remove = dpkg(root, "--remove", "agentguard-collector");
        assertThat(remove.exit()).as(remove.output()).isZero();
        assertThat(root.resolve("var/lib/agentguard-collector/collector.db")).as("remove keeps the database").exists();
        assertThat(conf).as("remove keeps the conffile").exists();

        Result purge = dpkg(root, "--purge", "agentguard-collector");
        assertThat(purge.exit()).as(purge.output()).isZero();
        assertThat(root.resolve("usr/bin/agentguard-collector")).doesNotExist();
        assertThat(root.resolve("usr/lib/agentguard-collector")).doesNotExist();
        assertThat(root.resolve("usr/share/agentguard-collector")).doesNotExist();
        assertThat(root.resolve("etc/agentguard")).doesNotExist();
        assertThat(root.resolve("var/lib/agentguard-collector")).doesNotExist();
        assertThat(root.resolve("etc/systemd/system")).doesNotExist();
        assertThat(root.resolve("lib/systemd/system/agentguard-collector.service")).doesNotExist();
    }
}
