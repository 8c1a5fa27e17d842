package io.agentguard.collector.cli;

import io.agentguard.collector.store.JdbcStore;
import io.agentguard.proto.v1.FollowItem;
import io.agentguard.proto.v1.FollowRequest;
import io.agentguard.proto.v1.QueryService;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import picocli.CommandLine.Option;

import java.net.InetSocketAddress;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Iterator;
import java.util.Locale;

/** The options every query subcommand shares, and what they share doing with them. */
final class QueryOptions {
    static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss").withZone(ZoneOffset.UTC);
    /** Exit status for bad input: an unknown option value, a database that is not there. */
    static final int BAD_INPUT = 2;

    @Option(names = "--db", paramLabel = "URL", description = "as for serve; it must exist (a query creates nothing)")
    String db = "sqlite:/var/lib/agentguard-collector/collector.db";

    @Option(names = "--json", description = "JSON lines (protobuf JSON mapping, with node, epoch and sequence)")
    boolean json;

    @Option(names = "--limit", description = "at most this many (default 1000)")
    int limit = 1000;

    /** The store, or null after printing why not ("no database at ..."). */
    JdbcStore open() throws java.sql.SQLException {
        try {
            return JdbcStore.openExisting(db);
        } catch (JdbcStore.NoDatabaseException e) {
            System.err.println("agentguard-collector: " + e.getMessage());
            return null;
        }
    }

    /** "--since/--until DURATION" as an instant that long ago; IllegalArgumentException names the option. */
    static Instant ago(String option, String duration) {
        if (duration == null) {
            return null;
        }
        try {
            return Instant.now().minus(Durations.parse(duration));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(option + ": " + e.getMessage());
        }
    }

    static String lower(String s) {
        return s == null ? null : s.toLowerCase(Locale.ROOT);
    }

    static String quote(String s) {
        return s == null ? "null" : "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }

    /** --follow: where the collector's query listener is. */
    static final class Follow {
        @Option(names = "--follow", description = "after what is stored, keep printing records as the collector stores"
                + " them (pushed by the collector at --collector)")
        boolean follow;

        @Option(names = "--collector", paramLabel = "HOST:PORT", description = "with --follow: the collector's"
                + " --query-listen (default 127.0.0.1:9466)")
        String collector = "127.0.0.1:9466";
    }

    /** Which node and workload: the filters that `query` (violations) and `query events` share. */
    static final class Workload {
        @Option(names = "--node", description = "only this node")
        String node;

        @Option(names = "--container", paramLabel = "ID", description = "only this container: its full id or a prefix of"
                + " at least 12 hex characters (as docker ps shows it)")
        String container;

        @Option(names = "--pod", paramLabel = "UID", description = "only this Kubernetes pod (its UID), or Podman pod"
                + " (its id)")
        String pod;

        @Option(names = "--job", paramLabel = "ID", description = "only this Slurm job")
        String job;

        @Option(names = "--unit", paramLabel = "NAME", description = "only this systemd unit (e.g. agent-7.scope)")
        String unit;
    }

    /**
     * A live subscription: created before the backlog is read, so nothing committed in between
     * is missed (what arrives twice is the caller's to skip). next() blocks; gRPC flow control
     * holds the collector's sender while this reader is busy (the collector then skips and counts).
     */
    static final class Subscription implements AutoCloseable {
        private final ManagedChannel channel;
        private final Iterator<FollowItem> items;
        final Instant subscribedAt;

        Subscription(String address, FollowRequest request) {
            InetSocketAddress a = ServeCommand.address(address);
            channel = NettyChannelBuilder.forAddress(a.getHostString(), a.getPort()).usePlaintext().build();
            items = ClientCalls.blockingServerStreamingCall(channel, QueryService.FOLLOW, CallOptions.DEFAULT, request);
            try {
                if (!items.hasNext() || !items.next().getSubscribed()) {
                    throw new IllegalStateException("the collector at " + address + " did not confirm the subscription");
                }
            } catch (StatusRuntimeException e) {
                channel.shutdownNow();
                throw new IllegalStateException("cannot follow: no collector query listener at " + address + " ("
                        + e.getStatus().getCode() + (e.getStatus().getDescription() != null ? ": "
                        + e.getStatus().getDescription() : "") + "); see serve --query-listen", e);
            }
            subscribedAt = Instant.now();
        }

        /** The next pushed item; null when the collector ended the stream. */
        FollowItem next() {
            try {
                return items.hasNext() ? items.next() : null;
            } catch (StatusRuntimeException e) {
                System.err.println("agentguard-collector: the follow ended: " + e.getStatus().getCode()
                        + (e.getStatus().getDescription() != null ? " (" + e.getStatus().getDescription() + ")" : ""));
                return null;
            }
        }

        @Override
        public void close() {
            channel.shutdownNow();
        }
    }

    /** Records stored this long before the subscription may be both in the backlog and pushed: skipped once. */
    static final long DEDUP_WINDOW_MS = 60_000;
}
