package io.agentguard.collector.server;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.Record;
import io.agentguard.proto.v1.Violation;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Query.Follow across replicas sharing one PostgreSQL database. After each committed batch a
 * replica sends NOTIFY on {@link #CHANNEL} naming what it stored (node, epoch, sequence ranges);
 * every replica LISTENs on a connection of its own and pushes the records another replica
 * stored to its own followers, read back by their unique key (committed before the NOTIFY, so
 * visible; no id holes to wait on). A replica's own records reach its followers directly
 * ({@link FollowHub#publish}), so each record is pushed once per follower.
 *
 * <p>Ingestion never waits: the notifications go out from a bounded queue on a thread and a
 * connection of their own; when that falls behind (the database is slow or gone) the overflow
 * is dropped and counted, as a slow follower's is. Follow is best-effort either way: a
 * notification lost while a connection is down is not made up for.
 */
public final class PeerFeed implements AutoCloseable {
    /** The channel, database-wide; the payload names the schema so that schemas do not mix. */
    public static final String CHANNEL = "agentguard_records";
    /** PostgreSQL refuses payloads of 8000 bytes and more. */
    private static final int MAX_PAYLOAD = 7000;
    private static final int QUEUE = 4096;
    private static final long RECONNECT_MS = 2000;

    private final String url;
    private final Properties credentials;
    private final FollowHub hub;
    private final Consumer<String> log;
    /** Who this replica is in the payloads: its own notifications are skipped. */
    private final String replica = UUID.randomUUID().toString().substring(0, 8);
    private final ArrayBlockingQueue<String> outgoing = new ArrayBlockingQueue<>(QUEUE);
    private final Thread listener;
    private final Thread notifier;
    private volatile boolean closed;
    private volatile String schema;
    private volatile boolean listening;

    private PeerFeed(String url, String user, String password, FollowHub hub, Consumer<String> log) {
        this.url = url.startsWith("jdbc:") ? url : "jdbc:" + url;
        this.credentials = new Properties();
        if (user != null) {
            credentials.setProperty("user", user);
        }
        if (password != null) {
            credentials.setProperty("password", password);
        }
        this.hub = hub;
        this.log = log;
        this.listener = Thread.ofPlatform().name("agentguard-peer-listen").daemon().unstarted(this::listen);
        this.notifier = Thread.ofPlatform().name("agentguard-peer-notify").daemon().unstarted(this::notifyLoop);
    }

    /**
     * Starts listening and hooks the hub's local publications to NOTIFY. The LISTEN is in place
     * when this returns (records another replica commits from then on are pushed).
     */
    public static PeerFeed start(String url, String user, String password, FollowHub hub, Consumer<String> log)
            throws SQLException {
        PeerFeed f = new PeerFeed(url, user, password, hub, log);
        Connection first = f.listenConnection();   // fails here, at start, on a bad URL or credentials
        f.listener.start();
        f.handOver.add(first);
        f.notifier.start();
        hub.onLocalPublish(f::stored);
        return f;
    }

    private final ArrayBlockingQueue<Connection> handOver = new ArrayBlockingQueue<>(1);

    /** Whether the LISTEN connection is up now. */
    public boolean listening() {
        return listening;
    }

    /** Called after a local commit with what was newly stored: queued for NOTIFY, never waits. */
    void stored(String node, String epoch, List<Record> records) {
        if (records.isEmpty() || schema == null) {
            return;
        }
        long[] seqs = records.stream().mapToLong(Record::getSequence).sorted().toArray();
        StringBuilder ranges = new StringBuilder();
        String head = schema + "\t" + replica + "\t" + node + "\t" + epoch + "\t";
        int i = 0;
        while (i < seqs.length) {
            int j = i;
            while (j + 1 < seqs.length && seqs[j + 1] == seqs[j] + 1) {
                j++;
            }
            String range = seqs[i] == seqs[j] ? Long.toString(seqs[i]) : seqs[i] + "-" + seqs[j];
            if (head.length() + ranges.length() + range.length() + 1 > MAX_PAYLOAD) {
                offer(head + ranges);
                ranges.setLength(0);
            }
            ranges.append(ranges.isEmpty() ? "" : ",").append(range);
            i = j + 1;
        }
        offer(head + ranges);
    }

    private void offer(String payload) {
        if (!outgoing.offer(payload)) {
            hub.skippedForPeers(1);   // counted with the follow skips: a follower elsewhere misses these
        }
    }

    private Connection listenConnection() throws SQLException {
        Connection c = DriverManager.getConnection(url, credentials);
        try (Statement s = c.createStatement()) {
            s.execute("LISTEN " + CHANNEL);
            try (ResultSet rs = s.executeQuery("SELECT current_schema()")) {
                rs.next();
                schema = rs.getString(1);
            }
        } catch (SQLException e) {
            c.close();
            throw e;
        }
        return c;
    }

    private void listen() {
        Connection c = handOver.poll();
        while (!closed) {
            try {
                if (c == null) {
                    c = listenConnection();
                }
                listening = true;
                PGConnection pg = c.unwrap(PGConnection.class);
                while (!closed) {
                    PGNotification[] got = pg.getNotifications(1000);
                    if (got == null) {
                        continue;
                    }
                    for (PGNotification n : got) {
                        if (CHANNEL.equals(n.getName())) {
                            received(c, n.getParameter());
                        }
                    }
                }
            } catch (SQLException e) {
                listening = false;
                if (!closed) {
                    log.accept("follow across replicas: LISTEN connection: " + e.getMessage() + "; reconnecting");
                }
                close(c);
                c = null;
                sleep(RECONNECT_MS);
            }
        }
        listening = false;
        close(c);
    }

    /** A peer's notification: reads what it stored and pushes it to this replica's followers. */
    private void received(Connection c, String payload) throws SQLException {
        String[] f = payload.split("\t", -1);
        if (f.length != 5 || !f[0].equals(schema) || f[1].equals(replica) || hub.followers() == 0) {
            return;   // another schema, this replica's own, malformed, or nobody to push to
        }
        String node = f[2];
        String epoch = f[3];
        ByteString epochBytes;
        try {
            epochBytes = ByteString.copyFrom(HexFormat.of().parseHex(epoch));
        } catch (IllegalArgumentException e) {
            return;
        }
        List<Record> records = new ArrayList<>();
        try (PreparedStatement v = c.prepareStatement("SELECT sequence, data FROM violations"
                + " WHERE node = ? AND epoch = ? AND sequence BETWEEN ? AND ? ORDER BY sequence");
             PreparedStatement e = c.prepareStatement("SELECT sequence, data FROM events"
                     + " WHERE node = ? AND epoch = ? AND sequence BETWEEN ? AND ? ORDER BY sequence")) {
            for (String range : f[4].split(",")) {
                int dash = range.indexOf('-');
                long lo;
                long hi;
                try {
                    lo = Long.parseLong(dash < 0 ? range : range.substring(0, dash));
                    hi = dash < 0 ? lo : Long.parseLong(range.substring(dash + 1));
                } catch (NumberFormatException ex) {
                    return;
                }
                List<Record> here = new ArrayList<>();
                for (PreparedStatement ps : List.of(v, e)) {
                    ps.setString(1, node);
                    ps.setString(2, epoch);
                    ps.setLong(3, lo);
                    ps.setLong(4, hi);
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            Record.Builder r = Record.newBuilder().setSequence(rs.getLong(1)).setEpoch(epochBytes);
                            if (ps == v) {
                                r.setViolation(Violation.parseFrom(rs.getBytes(2)));
                            } else {
                                r.setEvent(Event.parseFrom(rs.getBytes(2)));
                            }
                            here.add(r.build());
                        }
                    }
                }
                here.sort(java.util.Comparator.comparingLong(Record::getSequence));
                records.addAll(here);
            }
        } catch (InvalidProtocolBufferException ex) {
            log.accept("follow across replicas: a stored record of node " + node + " does not parse: " + ex.getMessage());
            return;
        }
        hub.publishFromPeer(node, epoch, records);
    }

    private void notifyLoop() {
        Connection c = null;
        List<String> batch = new ArrayList<>();
        while (!closed) {
            try {
                if (batch.isEmpty()) {
                    String first = outgoing.poll(1, TimeUnit.SECONDS);
                    if (first == null) {
                        continue;
                    }
                    batch.add(first);
                    outgoing.drainTo(batch, 63);
                }
                if (c == null) {
                    c = DriverManager.getConnection(url, credentials);
                }
                // one round trip for what queued meanwhile (autocommit: each goes out at once)
                StringBuilder sql = new StringBuilder("SELECT ");
                for (int i = 0; i < batch.size(); i++) {
                    sql.append(i == 0 ? "" : ", ").append("pg_notify('" + CHANNEL + "', ?)");
                }
                try (PreparedStatement ps = c.prepareStatement(sql.toString())) {
                    for (int i = 0; i < batch.size(); i++) {
                        ps.setString(i + 1, batch.get(i));
                    }
                    ps.execute();
                }
                batch.clear();
            } catch (InterruptedException e) {
                break;
            } catch (SQLException e) {
                if (!closed) {
                    log.accept("follow across replicas: NOTIFY connection: " + e.getMessage() + "; reconnecting");
                }
                hub.skippedForPeers(batch.size());   // dropped, not resent: a resend might push a record twice
                batch.clear();
                close(c);
                c = null;
                sleep(RECONNECT_MS);
            }
        }
        close(c);
    }

    private static void close(Connection c) {
        if (c != null) {
            try {
                c.close();
            } catch (SQLException ignored) {
                // going anyway
            }
        }
    }

    private void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            closed = true;
        }
    }

    @Override
    public void close() {
        closed = true;
        hub.onLocalPublish(null);
        listener.interrupt();
        notifier.interrupt();
        try {
            listener.join(5000);
            notifier.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
