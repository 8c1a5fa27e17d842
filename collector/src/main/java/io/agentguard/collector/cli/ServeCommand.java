package io.agentguard.collector.cli;

import io.agentguard.collector.config.CollectorConfig;
import io.agentguard.collector.export.ExportService;
import io.agentguard.collector.export.ExportsConfig;
import io.agentguard.collector.server.CollectorServer;
import io.agentguard.collector.store.JdbcStore;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.File;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/** agentguard-collector serve. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Runs the collector: gRPC on --listen (TLS by default; mutual TLS with --client-ca), storing into"
                + " --db, Prometheus metrics on --metrics-listen. Settings come from --config FILE (docs/COLLECTOR.md);"
                + " flags override it.")
public final class ServeCommand implements Callable<Integer> {
    @Option(names = "--config", paramLabel = "FILE", description = "the configuration file (the package's:"
            + " /etc/agentguard/collector.yaml); flags given override its keys")
    Path config;

    @Option(names = "--listen", paramLabel = "HOST:PORT", description = "default: 0.0.0.0:4317 (key listen)")
    String listen;

    @Option(names = "--db", paramLabel = "URL", description = "sqlite:/path/file.db (default:"
            + " sqlite:/var/lib/agentguard-collector/collector.db) or jdbc:postgresql://host/db (user and password:"
            + " database.user and database.password_file, else PGUSER, PGPASSWORD) (key database.url)")
    String db;

    @Option(names = "--tls-cert", paramLabel = "PEM", description = "server certificate chain (key tls.cert)")
    File cert;

    @Option(names = "--tls-key", paramLabel = "PEM", description = "server private key (PKCS#8) (key tls.key)")
    File key;

    @Option(names = "--client-ca", paramLabel = "PEM", description = "mutual TLS: clients must present a certificate"
            + " signed by this CA; its CN is the node name (key tls.client_ca)")
    File clientCa;

    @Option(names = "--plaintext", description = "no TLS: on a loopback --listen only, unless"
            + " --allow-unauthenticated-nodes (key tls.plaintext; the file's TLS paths are then ignored)")
    boolean plaintext;

    @Option(names = "--allow-unauthenticated-nodes", description = "let plaintext or TLS without --client-ca listen on a"
            + " non-loopback address: any peer that reaches it can then claim any node name (warned at start and at"
            + " every hello) (key tls.allow_unauthenticated_nodes)")
    boolean allowUnauthenticated;

    @Option(names = "--metrics-listen", paramLabel = "HOST:PORT", description = "default: 127.0.0.1:9465; \"\" = off"
            + " (key metrics.listen)")
    String metricsListen;

    @Option(names = "--query-listen", paramLabel = "HOST:PORT", description = "where `query --follow` subscribes to"
            + " records as they are stored; loopback only, plaintext (default: 127.0.0.1:9466; \"\" = off) (key query.listen)")
    String queryListen;

    @Option(names = "--retention", paramLabel = "DURATION", description = "delete records older than this, e.g. 30d,"
            + " 12h (default: keep) (key retention)")
    String retention;

    @Option(names = "--exports", paramLabel = "YAML", description = "a YAML file with an exports: section (webhook,"
            + " syslog, OTLP; docs/REPORTING.md, \"Exports\"); replaces the config file's (key exports)")
    File exports;

    @Option(names = "--store-connections", paramLabel = "N", description = "PostgreSQL connections agents' streams"
            + " write through, so that their transactions run at once (default: 4; SQLite: always 1)")
    Integer storeConnections;

    /** PostgreSQL writer connections when not set: enough for commits to overlap, few enough for many replicas. */
    static final int DEFAULT_STORE_CONNECTIONS = 4;

    @Override
    public Integer call() throws Exception {
        CollectorConfig file;
        try {
            file = config == null ? CollectorConfig.defaults() : CollectorConfig.load(config);
        } catch (CollectorConfig.Invalid e) {
            System.err.println("agentguard-collector: " + e.getMessage());
            return 2;
        } catch (java.io.IOException e) {
            System.err.println("agentguard-collector: " + config + ": " + e.getMessage());
            return 2;
        }
        // flags over the file over the defaults; --plaintext drops the file's TLS paths
        String listen = this.listen != null ? this.listen : file.listen();
        String db = this.db != null ? this.db : file.databaseUrl();
        boolean plaintext = this.plaintext || file.plaintext();
        File cert = this.cert != null ? this.cert : this.plaintext || file.tlsCert() == null ? null : file.tlsCert().toFile();
        File key = this.key != null ? this.key : this.plaintext || file.tlsKey() == null ? null : file.tlsKey().toFile();
        File clientCa = this.clientCa != null ? this.clientCa
                : this.plaintext || file.clientCa() == null ? null : file.clientCa().toFile();
        boolean allowUnauthenticated = this.allowUnauthenticated || file.allowUnauthenticated();
        String metricsListen = this.metricsListen != null ? this.metricsListen : file.metricsListen();
        String queryListen = this.queryListen != null ? this.queryListen : file.queryListen();
        // --exports FILE (a file holding only an exports: section) replaces the config file's exports
        ExportsConfig exportsConfig = file.exports();
        if (exports != null) {
            try {
                exportsConfig = ExportsConfig.parseFile(exports);
            } catch (ExportsConfig.ConfigException e) {
                System.err.println("agentguard-collector: " + e.getMessage());
                return 2;
            }
        }
        if (!plaintext && (cert == null || key == null)) {
            System.err.println("agentguard-collector: TLS needs --tls-cert and --tls-key (or --plaintext, explicitly)");
            return 2;
        }
        if (plaintext && (cert != null || key != null || clientCa != null)) {
            System.err.println("agentguard-collector: --plaintext contradicts --tls-cert/--tls-key/--client-ca: choose one");
            return 2;
        }
        for (File f : new File[] {cert, key, clientCa}) {
            if (f != null && !f.canRead()) {   // before the store is opened (and perhaps migrated)
                System.err.println("agentguard-collector: cannot read " + f + (config != null ? " (from " + config + ")" : "")
                        + ": TLS files are the operator's to create (docs/COLLECTOR.md, \"TLS\")");
                return 2;
            }
        }
        CollectorServer.Tls tls = new CollectorServer.Tls(cert, key, clientCa, plaintext, allowUnauthenticated);
        InetSocketAddress listenAddress = address(listen);
        String refusal = CollectorServer.refusal(listenAddress, tls);
        if (refusal != null) {   // before opening (and perhaps upgrading) the store
            System.err.println("agentguard-collector: " + refusal);
            return 2;
        }
        Duration keep;
        try {
            keep = retention != null ? CollectorConfig.parseDuration(retention) : file.retention();
        } catch (IllegalArgumentException e) {
            System.err.println("agentguard-collector: --retention: " + e.getMessage());
            return 2;
        }
        String user = file.databaseUser() != null ? file.databaseUser() : System.getenv("PGUSER");
        String password = System.getenv("PGPASSWORD");
        if (file.passwordFile() != null) {
            try {
                password = Files.readAllLines(file.passwordFile()).stream().findFirst().orElse("");
            } catch (java.io.IOException e) {
                System.err.println("agentguard-collector: database.password_file " + file.passwordFile() + ": " + e);
                return 2;
            }
        }
        InetSocketAddress queryAddress = queryListen.isEmpty() ? null : address(queryListen);
        if (queryAddress != null && !CollectorServer.isLoopback(queryAddress)) {
            System.err.println("agentguard-collector: --query-listen " + queryListen + ": the query listener serves every"
                    + " node's records without authentication; use a loopback address (127.0.0.1, ::1)");
            return 2;
        }
        if (db.startsWith("sqlite:")) {
            File f = new File(db.substring("sqlite:".length()));
            if (f.getParentFile() != null) {
                f.getParentFile().mkdirs();
            }
        }
        int connections = storeConnections != null ? storeConnections : DEFAULT_STORE_CONNECTIONS;
        if (connections < 1 || connections > 64) {
            System.err.println("agentguard-collector: --store-connections must be 1 to 64 (got " + connections + ")");
            return 2;
        }
        JdbcStore store = JdbcStore.open(db, user, password);
        java.util.List<JdbcStore> writers = new java.util.ArrayList<>(java.util.List.of(store));
        if (!db.startsWith("sqlite:") && !db.startsWith("jdbc:sqlite:")) {
            for (int i = 1; i < connections; i++) {   // the schema is migrated already: each open only checks it
                writers.add(JdbcStore.open(db, user, password));
            }
        }
        PrometheusRegistry registry = new PrometheusRegistry();
        CollectorServer.registerProcessMetrics(registry);
        CollectorServer server = new CollectorServer(store, writers, listenAddress, tls, registry, java.util.List.of(),
                line -> System.err.println("agentguard-collector: " + line));
        io.grpc.Server queries = queryAddress == null ? null : server.followers().listen(queryAddress);
        // PostgreSQL: replicas share the database; each pushes what the others store to its followers
        io.agentguard.collector.server.PeerFeed peers = store.postgres() ? io.agentguard.collector.server.PeerFeed
                .start(db, user, password, server.followers(), line -> System.err.println("agentguard-collector: " + line))
                : null;
        HTTPServer metrics = metricsListen.isEmpty() ? null : HTTPServer.builder()
                .hostname(address(metricsListen).getHostString()).port(address(metricsListen).getPort())
                .registry(registry).buildAndStart();
        ExportService exportService = new ExportService(store, db, exportsConfig, registry, Duration.ofSeconds(1));
        exportService.start();
        ScheduledExecutorService retentionThread = Executors.newSingleThreadScheduledExecutor();
        if (keep != null) {
            retentionThread.scheduleWithFixedDelay(() -> {
                try {
                    long n = store.deleteOlderThan(Instant.now().minus(keep));
                    if (n > 0) {
                        System.err.println("agentguard-collector: retention removed " + n + " records");
                    }
                } catch (Exception e) {
                    System.err.println("agentguard-collector: retention failed: " + e.getMessage());
                }
            }, 0, 1, TimeUnit.HOURS);
        }
        System.err.println("agentguard-collector: listening on " + listen + " (" + (plaintext ? "plaintext"
                : clientCa != null ? "mutual TLS, node = client certificate CN" : "TLS") + "), port " + server.port() + "; store " + db
                + (metrics != null ? "; metrics on " + address(metricsListen).getHostString() + ":" + metrics.getPort()
                : "") + (queries != null ? "; query --follow on " + queryListen : ""));
        // systemd (Type=notify): started once the port is bound and the schema migrated
        SystemdNotify.send("READY=1\nSTATUS=listening on " + listen + ", port " + server.port());
        CountDownLatch stop = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            SystemdNotify.send("STOPPING=1");
            if (queries != null) {
                queries.shutdownNow();
            }
            if (peers != null) {
                peers.close();
            }
            server.close();
            exportService.close();
            retentionThread.shutdownNow();
            if (metrics != null) {
                metrics.close();
            }
            for (JdbcStore w : writers) {
                try {
                    w.close();
                } catch (Exception ignored) {
                    // exiting
                }
            }
            stop.countDown();
        }));
        stop.await();
        return 0;
    }

    static InetSocketAddress address(String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        if (colon < 0) {
            throw new IllegalArgumentException("'" + hostPort + "' is not HOST:PORT");
        }
        String host = hostPort.substring(0, colon).replace("[", "").replace("]", "");
        return new InetSocketAddress(host, Integer.parseInt(hostPort.substring(colon + 1)));
    }

    static Duration parseDuration(String text) {
        return CollectorConfig.parseDuration(text);
    }
}
