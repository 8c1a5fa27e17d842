package io.agentguard.collector.fleet;

import org.HdrHistogram.Histogram;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The fleet benchmark (docs/BENCHMARKS.md section 10; scripts/bench-fleet.sh runs it): N
 * simulated agents ({@link SimulatedFleet}) against two collector replicas (separate
 * processes) on one PostgreSQL database, one replica SIGKILLed and restarted mid-run; at the
 * end every node's rows are counted per sequence: exactly once, or the run fails (exit 1).
 * <p>
 * Agent i lists the replicas starting at i mod 2 (half the fleet on each); a failed stream
 * moves on to the next replica in its list, as the real agent does, so the killed replica's
 * agents fail over to the survivor and stay there until their stream fails again.
 */
public final class FleetBenchmark {
    public static void main(String[] args) throws Exception {
        Map<String, String> o = new HashMap<>(Map.of("agents", "1000", "rate", "3000", "seconds", "60", "kill-at", "20",
                "down-seconds", "5", "batch", "500", "window", "8", "heartbeat-ms", "10000", "event-loops", "2",
                "replicas", "2"));
        o.put("kill", "true");
        o.put("jvm", "-Xmx512m -XX:+UseSerialGC");
        o.put("out", "target/fleet");
        for (int i = 0; i + 1 < args.length; i += 2) {
            o.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        }
        String baseUrl = required(o, "db");
        String user = System.getenv("PGUSER");
        String password = System.getenv("PGPASSWORD");
        int agents = Integer.parseInt(o.get("agents"));
        double rate = Double.parseDouble(o.get("rate"));
        int seconds = Integer.parseInt(o.get("seconds"));
        int killAt = Integer.parseInt(o.get("kill-at"));
        int down = Integer.parseInt(o.get("down-seconds"));
        boolean kill = Boolean.parseBoolean(o.get("kill"));
        int replicaCount = Integer.parseInt(o.get("replicas"));
        Path out = Path.of(o.get("out"));
        Files.createDirectories(out);
        List<String> launch = o.containsKey("launch") ? List.of(o.get("launch").split(" ")) : CollectorReplica.fromClassPath();

        String schema = "fleet_" + Long.toHexString(System.currentTimeMillis());
        try (Connection c = DriverManager.getConnection(baseUrl, user, password); Statement s = c.createStatement()) {
            s.execute("CREATE SCHEMA " + schema);
        }
        String db = baseUrl + (baseUrl.contains("?") ? "&" : "?") + "currentSchema=" + schema;
        Map<String, String> env = new HashMap<>();
        if (user != null) {
            env.put("PGUSER", user);
        }
        if (password != null) {
            env.put("PGPASSWORD", password);
        }
        List<CollectorReplica> replicas = new ArrayList<>();
        for (int i = 0; i < replicaCount; i++) {
            CollectorReplica r = new CollectorReplica("r" + i, launch, List.of(o.get("jvm").split(" ")), db, env,
                    out.resolve("replica-" + i + ".log"), o.containsKey("serve-args")
                    ? List.of(o.get("serve-args").split(" ")) : List.of());
            r.start();
            replicas.add(r);
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> replicas.forEach(r -> {
            try {
                r.stop();
            } catch (InterruptedException ignored) {
                // exiting
            }
        })));
        List<String> addresses = replicas.stream().map(CollectorReplica::address).toList();
        SimulatedFleet fleet = new SimulatedFleet(agents, i -> {
            List<String> l = new ArrayList<>();
            for (int k = 0; k < addresses.size(); k++) {
                l.add(addresses.get((i + k) % addresses.size()));
            }
            return l;
        }, Integer.parseInt(o.get("event-loops")), Integer.parseInt(o.get("batch")), Integer.parseInt(o.get("window")),
                Long.parseLong(o.get("heartbeat-ms")), "node");
        System.out.printf("fleet: %d agents, %.0f violations/s offered, %d s, replicas %s (serve %s), kill %s at %d s for"
                + " %d s, db %s%n", agents, rate, seconds, addresses, o.getOrDefault("serve-args", ""), kill, killAt, down, schema);
        long c0 = System.nanoTime();
        boolean connected = fleet.connectAll(300_000);
        System.out.printf("connected: %s, %d agents past their hello in %.1f s%n", connected,
                fleet.agents().size(), (System.nanoTime() - c0) / 1e9);
        long t0 = System.nanoTime();
        fleet.start(rate, 10);
        CollectorReplica victim = replicas.getLast();
        // the kill and the restart on a thread of their own: the sampling below stays on time
        java.util.concurrent.atomic.AtomicReference<Histogram> beforeKillRef = new java.util.concurrent.atomic.AtomicReference<>();
        double[][] killedRef = {new double[3]};
        long[] killedAtAckedRef = {-1};
        Thread killer = Thread.ofPlatform().start(() -> {
            if (!kill) {
                return;
            }
            try {
                java.util.concurrent.TimeUnit.NANOSECONDS.sleep(t0 + killAt * 1_000_000_000L - System.nanoTime());
                killedRef[0] = counters(victim);
                beforeKillRef.set(fleet.ackLatencyUs.getIntervalHistogram());
                killedAtAckedRef[0] = fleet.acked();
                victim.kill();
                System.out.printf("t=%5.1fs SIGKILL %s (pid %d)%n", (System.nanoTime() - t0) / 1e9, victim.name, victim.pid());
                java.util.concurrent.TimeUnit.NANOSECONDS.sleep(t0 + (killAt + down) * 1_000_000_000L - System.nanoTime());
                victim.start();
                System.out.printf("t=%5.1fs %s restarted (pid %d), ready%n", (System.nanoTime() - t0) / 1e9, victim.name,
                        victim.pid());
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        double[] killedCounters = new double[3];
        Histogram beforeKill = null;
        long lastAcked = 0;
        long killedAtAcked = -1;
        long maxBacklog = 0;
        for (int sec = 1; sec <= seconds; sec++) {
            java.util.concurrent.TimeUnit.NANOSECONDS.sleep(Math.max(0, t0 + sec * 1_000_000_000L - System.nanoTime()));
            long acked = fleet.acked();
            long written = fleet.written();
            maxBacklog = Math.max(maxBacklog, written - acked);
            if (sec % 5 == 0) {
                StringBuilder conn = new StringBuilder();
                for (CollectorReplica r : replicas) {
                    conn.append(' ').append(r.name).append('=').append(fleet.connectedTo(r.address()));
                }
                System.out.printf("t=%3ds written=%d acked=%d backlog=%d acked/s(last 1s)=%d streams:%s%n", sec, written, acked,
                        written - acked, acked - lastAcked, conn);
            }
            lastAcked = acked;
        }
        killer.join();
        killedCounters = killedRef[0];
        beforeKill = beforeKillRef.get();
        killedAtAcked = killedAtAckedRef[0];
        long generated = fleet.written();
        long ackedAtEnd = fleet.acked();
        double genSeconds = (System.nanoTime() - t0) / 1e9;
        fleet.stopGenerating();
        long drainStart = System.nanoTime();
        while (!fleet.allAcked() && System.nanoTime() - drainStart < 300_000_000_000L) {
            Thread.sleep(100);
        }
        double drainSeconds = (System.nanoTime() - drainStart) / 1e9;
        Histogram rest = fleet.ackLatencyUs.getIntervalHistogram();
        Histogram all = rest.copy();
        if (beforeKill != null) {
            all.add(beforeKill);
        }
        boolean allAcked = fleet.allAcked();
        double[] finalCounters = new double[3];
        for (CollectorReplica r : replicas) {
            double[] c = counters(r);
            for (int i = 0; i < 3; i++) {
                finalCounters[i] += c[i] + (r == victim ? killedCounters[i] : 0);
            }
        }
        Map<String, Long> writtenPerNode = new HashMap<>();
        for (SimulatedFleet.Agent a : fleet.agents()) {
            writtenPerNode.put(a.node, a.written());
        }
        fleet.close();
        for (CollectorReplica r : replicas) {
            r.stop();
        }

        long rows = 0;
        long duplicateKeys = 0;
        long missing = 0;
        long conflictRows;
        Map<String, String> settings = new java.util.LinkedHashMap<>();
        try (Connection c = DriverManager.getConnection(db, user, password); Statement s = c.createStatement()) {
            try (ResultSet rs = s.executeQuery("SELECT node, count(*), count(DISTINCT (epoch, sequence)), min(sequence),"
                    + " max(sequence) FROM violations GROUP BY node")) {
                Map<String, Long> seen = new HashMap<>();
                while (rs.next()) {
                    long n = rs.getLong(2);
                    long distinct = rs.getLong(3);
                    rows += n;
                    duplicateKeys += n - distinct;
                    long want = writtenPerNode.getOrDefault(rs.getString(1), -1L);
                    if (distinct != want || rs.getLong(4) != 1 || rs.getLong(5) != want) {
                        System.out.printf("node %s: %d rows, %d distinct, sequences %d..%d, sent %d%n", rs.getString(1), n,
                                distinct, rs.getLong(4), rs.getLong(5), want);
                    }
                    seen.put(rs.getString(1), distinct);
                }
                for (var e : writtenPerNode.entrySet()) {
                    missing += e.getValue() - Math.min(e.getValue(), seen.getOrDefault(e.getKey(), 0L));
                }
            }
            try (ResultSet rs = s.executeQuery("SELECT count(*) FROM conflicts")) {
                rs.next();
                conflictRows = rs.getLong(1);
            }
            for (String k : List.of("server_version", "shared_buffers", "synchronous_commit", "fsync", "wal_sync_method",
                    "full_page_writes", "commit_delay", "max_connections", "max_wal_size", "checkpoint_timeout",
                    "wal_level")) {
                try (ResultSet rs = s.executeQuery("SHOW " + k)) {
                    rs.next();
                    settings.put(k, rs.getString(1));
                }
            }
            if (!Boolean.parseBoolean(o.getOrDefault("keep", "false"))) {
                s.execute("DROP SCHEMA " + schema + " CASCADE");
            }
        }
        boolean exactlyOnce = allAcked && rows == generated && duplicateKeys == 0 && missing == 0;
        StringBuilder r = new StringBuilder();
        r.append(String.format("%n## result (%s)%n", kill ? "replica " + victim.name + " SIGKILLed at " + killAt + " s, back at "
                + (killAt + down) + " s" : "no kill"));
        r.append(String.format("| agents | offered/s | generated | sent | resent | stored rows | duplicate keys | missing |"
                + " conflicts | collector: received | stored | duplicates refused |%n"));
        r.append(String.format("| %d | %.0f | %d | %d | %d | %d | %d | %d | %d | %.0f | %.0f | %.0f |%n", agents, rate, generated,
                fleet.sent.get(), fleet.resent.get(), rows, duplicateKeys, missing, conflictRows, finalCounters[0],
                finalCounters[1], finalCounters[2]));
        r.append(String.format("stored during generation: %.0f violations/s (%d in %.1f s; backlog at the end %d, max %d);"
                + " drain %.1f s; all acked: %s%n", ackedAtEnd / genSeconds, ackedAtEnd, genSeconds, generated - ackedAtEnd,
                maxBacklog, drainSeconds, allAcked));
        r.append(String.format("batches %d, acks %d, connects %d, stream failures %d, acked at kill %d%n", fleet.batches.get(),
                fleet.acks.get(), fleet.connects.get(), fleet.streamFailures.get(), killedAtAcked));
        r.append(latency("ack round trip, whole run", all));
        if (beforeKill != null) {
            r.append(latency("ack round trip, before the kill", beforeKill));
            r.append(latency("ack round trip, kill to end", rest));
        }
        r.append("PostgreSQL: ").append(settings).append('\n');
        r.append("exactly once: ").append(exactlyOnce ? "YES" : "NO").append('\n');
        System.out.print(r);
        Files.writeString(out.resolve("result.md"), r);
        System.exit(exactlyOnce ? 0 : 1);
    }

    /** received, stored (violations), duplicates refused, from a replica's /metrics. */
    static double[] counters(CollectorReplica r) {
        return new double[] {r.metric("agentguard_collector_records_received_total"),
                r.metric("agentguard_collector_records_stored_total"), r.metric("agentguard_collector_records_duplicate_total")};
    }

    static String latency(String what, Histogram h) {
        return String.format("%s: p50 %.1f ms, p99 %.1f ms, p99.9 %.1f ms, max %.1f ms (%d batches)%n", what,
                h.getValueAtPercentile(50) / 1000.0, h.getValueAtPercentile(99) / 1000.0, h.getValueAtPercentile(99.9) / 1000.0,
                h.getMaxValue() / 1000.0, h.getTotalCount());
    }

    private static String required(Map<String, String> o, String key) {
        String v = o.get(key);
        if (v == null) {
            throw new IllegalArgumentException("--" + key + " is required");
        }
        return v;
    }
}
