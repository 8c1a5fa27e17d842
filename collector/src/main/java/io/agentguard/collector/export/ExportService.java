package io.agentguard.collector.export;

import io.agentguard.collector.export.ExportsConfig.Export;
import io.agentguard.collector.store.JdbcStore;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

/** Runs the configured exports, one thread and one database connection each. */
public final class ExportService implements AutoCloseable {
    private final List<Exporter> exporters = new ArrayList<>();
    private final List<Thread> threads = new ArrayList<>();
    private final List<ExportStore> stores = new ArrayList<>();
    private final List<Sink> sinks = new ArrayList<>();

    /**
     * @param store the collector's store: the exports' position writes go through it
     * @param dbUrl the collector's --db (sqlite:/path, jdbc:sqlite:, jdbc:postgresql:)
     * @param poll  how often an export that has caught up looks for new violations
     */
    public ExportService(JdbcStore store, String dbUrl, ExportsConfig config, PrometheusRegistry registry, Duration poll)
            throws SQLException, java.io.IOException, java.security.GeneralSecurityException {
        ExportMetrics metrics = new ExportMetrics(registry, config.exports().stream().map(Export::name).toList());
        try {
            for (Export e : config.exports()) {
                Sink sink = switch (e.type()) {
                    case WEBHOOK -> new WebhookSink(e.webhook());
                    case SYSLOG -> new SyslogSink(e.syslog());
                    case OTLP -> new OtlpSink(e.otlp());
                };
                sinks.add(sink);
                ExportStore exportStore = new ExportStore(connect(dbUrl), store, e.name());
                stores.add(exportStore);
                exporters.add(new Exporter(e, exportStore, sink, metrics, poll));
            }
        } catch (SQLException | java.io.IOException | java.security.GeneralSecurityException | RuntimeException ex) {
            close();
            throw ex;
        }
        for (int i = 0; i < exporters.size(); i++) {
            Thread t = Thread.ofPlatform().daemon().name("export-" + config.exports().get(i).name())
                    .unstarted(exporters.get(i));
            threads.add(t);
        }
    }

    public void start() {
        threads.forEach(Thread::start);
    }

    static Connection connect(String url) throws SQLException {
        if (url.startsWith("sqlite:") || url.startsWith("postgresql:")) {
            url = "jdbc:" + url;
        }
        if (url.startsWith("jdbc:sqlite:")) {
            Connection c = DriverManager.getConnection(url);
            try (var s = c.createStatement()) {
                s.execute("PRAGMA busy_timeout=10000");
            }
            return c;
        }
        Properties p = new Properties();
        if (System.getenv("PGUSER") != null) {
            p.setProperty("user", System.getenv("PGUSER"));
        }
        if (System.getenv("PGPASSWORD") != null) {
            p.setProperty("password", System.getenv("PGPASSWORD"));
        }
        return DriverManager.getConnection(url, p);
    }

    /** Stops the exports: a delivery in flight may complete without its position write (sent again at start). */
    @Override
    public void close() {
        exporters.forEach(Exporter::stop);
        threads.forEach(Thread::interrupt);
        for (Thread t : threads) {
            try {
                t.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        sinks.forEach(Sink::close);
        for (ExportStore s : stores) {
            try {
                s.close();
            } catch (SQLException ignored) {
                // closing
            }
        }
    }
}
