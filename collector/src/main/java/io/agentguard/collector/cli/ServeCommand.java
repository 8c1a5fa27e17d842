package io.agentguard.collector.cli;

import io.agentguard.collector.server.CollectorServer;
import io.agentguard.collector.store.JdbcStore;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.File;
import java.net.InetSocketAddress;
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
                + " --db, Prometheus metrics on --metrics-listen.")
public final class ServeCommand implements Callable<Integer> {
    @Option(names = "--listen", paramLabel = "HOST:PORT", description = "default: 0.0.0.0:4317")
    String listen = "0.0.0.0:4317";

    @Option(names = "--db", paramLabel = "URL", description = "sqlite:/path/file.db (default:"
            + " sqlite:/var/lib/agentguard-collector/collector.db) or jdbc:postgresql://host/db (PGUSER, PGPASSWORD)")
    String db = "sqlite:/var/lib/agentguard-collector/collector.db";

    @Option(names = "--tls-cert", paramLabel = "PEM", description = "server certificate chain")
    File cert;

    @Option(names = "--tls-key", paramLabel = "PEM", description = "server private key (PKCS#8)")
    File key;

    @Option(names = "--client-ca", paramLabel = "PEM", description = "mutual TLS: clients must present a certificate"
            + " signed by this CA; its CN is the node name")
    File clientCa;

    @Option(names = "--plaintext", description = "no TLS: on a loopback --listen only, unless"
            + " --allow-unauthenticated-nodes")
    boolean plaintext;

    @Option(names = "--allow-unauthenticated-nodes", description = "let plaintext or TLS without --client-ca listen on a"
            + " non-loopback address: any peer that reaches it can then claim any node name (warned at start and at"
            + " every hello)")
    boolean allowUnauthenticated;

    @Option(names = "--metrics-listen", paramLabel = "HOST:PORT", description = "default: 127.0.0.1:9465; \"\" = off")
    String metricsListen = "127.0.0.1:9465";

    @Option(names = "--query-listen", paramLabel = "HOST:PORT", description = "where `query --follow` subscribes to"
            + " records as they are stored; loopback only, plaintext (default: 127.0.0.1:9466; \"\" = off)")
    String queryListen = "127.0.0.1:9466";

    @Option(names = "--retention", paramLabel = "DURATION", description = "delete records older than this, e.g. 2w,"
            + " 30d, 3d12h (default: keep)")
    String retention;

    @Override
    public Integer call() throws Exception {
        if (!plaintext && (cert == null || key == null)) {
            System.err.println("agentguard-collector: TLS needs --tls-cert and --tls-key (or --plaintext, explicitly)");
            return 2;
        }
        if (plaintext && (cert != null || key != null || clientCa != null)) {
            System.err.println("agentguard-collector: --plaintext contradicts --tls-cert/--tls-key/--client-ca: choose one");
            return 2;
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
            keep = retention == null ? null : parseDuration(retention);
        } catch (IllegalArgumentException e) {
            System.err.println("agentguard-collector: --retention: " + e.getMessage());
            return 2;
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
        JdbcStore store = JdbcStore.open(db);
        PrometheusRegistry registry = new PrometheusRegistry();
        CollectorServer.registerProcessMetrics(registry);
        CollectorServer server = new CollectorServer(store, listenAddress, tls, registry);
        io.grpc.Server queries = queryAddress == null ? null : server.followers().listen(queryAddress);
        HTTPServer metrics = metricsListen.isEmpty() ? null : HTTPServer.builder()
                .hostname(address(metricsListen).getHostString()).port(address(metricsListen).getPort())
                .registry(registry).buildAndStart();
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
        CountDownLatch stop = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (queries != null) {
                queries.shutdownNow();
            }
            server.close();
            retentionThread.shutdownNow();
            if (metrics != null) {
                metrics.close();
            }
            try {
                store.close();
            } catch (Exception ignored) {
                // exiting
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
        return Durations.parse(text);
    }
}
