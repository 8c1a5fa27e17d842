package io.agentguard.collector.export;

import io.agentguard.collector.export.ExportsConfig.Export;

import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * One export's single reader: walks violations by id after the persisted position, sends each
 * that passes the filter, and moves the position past it once the receiver confirmed it (or it
 * was filtered out, or dead-lettered). At-least-once: a crash (or a lost confirmation) between
 * delivery and the position write sends that violation again; nothing is skipped. Transient
 * failures are retried forever with capped, jittered exponential backoff, so a long outage
 * holds the position (lag grows) and loses nothing.
 */
final class Exporter implements Runnable {
    private static final int BATCH = 200;
    /** Longest wait for a hole in the ids to fill (PostgreSQL) before moving past it regardless. */
    private static final Duration HOLE_WAIT_MAX = Duration.ofSeconds(60);

    private final Export export;
    private final ExportStore store;
    private final Sink sink;
    private final ExportFilter filter;
    private final ExportMetrics metrics;
    private final Duration poll;
    private volatile boolean stopped;
    private long holeSinceNanos = -1;

    Exporter(Export export, ExportStore store, Sink sink, ExportMetrics metrics, Duration poll) {
        this.export = export;
        this.store = store;
        this.sink = sink;
        this.filter = new ExportFilter(export.filter());
        this.metrics = metrics;
        this.poll = poll;
    }

    void stop() {
        stopped = true;
    }

    @Override
    public void run() {
        String name = export.name();
        while (!stopped) {
            try {
                if (!store.tryLease()) {   // another replica delivers this export
                    sleep(Duration.ofSeconds(5));
                    continue;
                }
                long position = store.position();
                while (!stopped) {
                    metrics.lag.labelValues(name).set(store.behind(position));
                    List<ExportStore.Row> rows = store.after(position, BATCH);
                    if (rows.isEmpty()) {
                        sleep(poll);
                        continue;
                    }
                    long before = position;
                    position = deliver(position, rows);
                    if (position == before) {
                        sleep(poll);   // waiting on a hole in the ids
                    }
                }
            } catch (InterruptedException e) {
                return;
            } catch (SQLException e) {
                if (stopped) {
                    return;
                }
                System.err.println("agentguard-collector: export " + name + ": database: " + e.getMessage());
                try {
                    sleep(Duration.ofSeconds(5));
                } catch (InterruptedException ie) {
                    return;
                }
            }
        }
    }

    /** Sends rows in order from position; returns the new position. */
    private long deliver(long position, List<ExportStore.Row> rows) throws SQLException, InterruptedException {
        for (ExportStore.Row row : rows) {
            if (stopped) {
                return position;
            }
            if (store.postgres() && row.id() != position + 1 && position != 0 && !holeFinal()) {
                return position;
            }
            holeSinceNanos = -1;
            if (row.violation() == null) {
                deadLetter(row, 1, "the stored violation does not parse");
            } else if (!filter.matches(row.node(), row.violation())) {
                store.advance(row.id());
            } else {
                send(row);
            }
            position = row.id();
        }
        return position;
    }

    /** A hole before the next id: final once no session could still commit into it, or after HOLE_WAIT_MAX. */
    private boolean holeFinal() throws SQLException {
        if (holeSinceNanos < 0) {
            holeSinceNanos = System.nanoTime();
            holeSeenAt = store.databaseNow();
        }
        if (System.nanoTime() - holeSinceNanos > HOLE_WAIT_MAX.toNanos()) {
            System.err.println("agentguard-collector: export " + export.name() + ": moving past a hole in the violation"
                    + " ids after " + HOLE_WAIT_MAX.toSeconds() + "s (a transaction held open that long?)");
            return true;
        }
        return !store.holeMayFill(holeSeenAt);
    }

    private java.sql.Timestamp holeSeenAt;

    private void send(ExportStore.Row row) throws SQLException, InterruptedException {
        String name = export.name();
        Duration backoff = export.retry().initialBackoff();
        int rejections = 0;
        while (true) {
            try {
                sink.send(row);
                store.advance(row.id());
                metrics.delivered.labelValues(name).inc();
                metrics.lastSuccess.labelValues(name).set(System.currentTimeMillis() / 1000.0);
                return;
            } catch (Sink.Rejected e) {
                metrics.failedAttempts.labelValues(name).inc();
                if (++rejections >= export.retry().rejectAttempts()) {
                    deadLetter(row, rejections, e.getMessage());
                    return;
                }
            } catch (Sink.Transient e) {
                metrics.failedAttempts.labelValues(name).inc();
                if (backoff.equals(export.retry().initialBackoff())) {   // once per outage, not per attempt
                    System.err.println("agentguard-collector: export " + name + ": delivery of violation " + row.id()
                            + " failed, retrying with backoff: " + e.getMessage());
                }
            }
            if (stopped) {
                throw new InterruptedException("stopping");
            }
            // the lag keeps counting what is stored meanwhile: during an outage it grows (AgentguardExportLagging)
            metrics.lag.labelValues(name).set(store.behind(row.id() - 1));
            // full jitter over the upper half: replicas and exports do not retry in step
            long ms = backoff.toMillis();
            sleep(Duration.ofMillis(ms / 2 + ThreadLocalRandom.current().nextLong(ms / 2 + 1)));
            backoff = backoff.multipliedBy(2).compareTo(export.retry().maxBackoff()) > 0
                    ? export.retry().maxBackoff() : backoff.multipliedBy(2);
        }
    }

    private void deadLetter(ExportStore.Row row, int attempts, String reason) throws SQLException {
        store.deadLetter(row.id(), attempts, reason == null ? "" : reason);
        metrics.deadLetters.labelValues(export.name()).inc();
        System.err.println("agentguard-collector: export " + export.name() + ": violation " + row.id()
                + " dead-lettered after " + attempts + " attempt(s): " + reason);
    }

    private void sleep(Duration d) throws InterruptedException {
        Thread.sleep(d);
    }
}
