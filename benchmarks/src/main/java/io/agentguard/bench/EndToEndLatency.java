package io.agentguard.bench;

import io.agentguard.collector.server.CollectorServer;
import io.agentguard.collector.store.JdbcStore;
import io.agentguard.proto.v1.AgentMessage;
import io.agentguard.proto.v1.CollectorMessage;
import io.agentguard.proto.v1.Record;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The collector side of the end-to-end benchmark (scripts/bench-e2e.sh): the real collector
 * (gRPC on loopback, SQLite store, ack after commit) with an interceptor that notes each
 * violation's kernel time (its first evidence event's CLOCK_MONOTONIC ns, stamped by the BPF
 * hook) when the batch arrives, and takes now − that time when the collector sends the ack
 * covering it. Agent and collector share the host, hence the clock; System.nanoTime is
 * CLOCK_MONOTONIC on Linux.
 *
 * <pre>EndToEndLatency --db DIR --port-file FILE --count N [--timeout-s 120] [--warmup-s 5] [--trace FILE]</pre>
 *
 * Writes the port to FILE once listening, waits for N acknowledged violations whose kernel time
 * is at least WARMUP seconds after the first one's (connection set-up, both JVMs' JIT), prints one key=value line (µs; arrival_*: kernel to the batch
 * reaching the collector, the rest being store and ack) and exits.
 */
public final class EndToEndLatency {

    /** Sequence -> kernel ns on the way in; latency samples on the way out. */
    static final class AckTap implements ServerInterceptor {
        private final Map<Long, long[]> timesBySequence = new ConcurrentHashMap<>();   // {kernel ns, arrival ns}
        private final long[] latenciesNs;
        private final long[] arrivalNs;   // kernel -> batch received by the collector
        private final long warmupNs;
        private long firstKernelNs = -1;
        private int count;
        private StringBuilder trace;   // --trace: "sequence kernel_ns arrival_ns ack_ns" per violation

        AckTap(int capacity, long warmupNs) {
            this.latenciesNs = new long[capacity];
            this.arrivalNs = new long[capacity];
            this.warmupNs = warmupNs;
        }

        @Override
        public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                          ServerCallHandler<Q, R> next) {
            ServerCall<Q, R> tapped = new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
                @Override
                public void sendMessage(R message) {
                    if (message instanceof CollectorMessage m && m.hasAck()) {
                        acked(m.getAck().getSequence(), System.nanoTime());
                    }
                    super.sendMessage(message);
                }
            };
            return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(next.startCall(tapped, headers)) {
                @Override
                public void onMessage(Q message) {
                    if (message instanceof AgentMessage m && m.hasBatch()) {
                        long nowNs = System.nanoTime();
                        for (Record r : m.getBatch().getRecordsList()) {
                            if (r.hasViolation() && r.getViolation().getEvidenceCount() > 0) {
                                timesBySequence.put(r.getSequence(),
                                        new long[] {r.getViolation().getEvidence(0).getMonotonicNs(), nowNs});
                            }
                        }
                    }
                    super.onMessage(message);
                }
            };
        }

        private synchronized void acked(long upTo, long nowNs) {
            var covered = timesBySequence.keySet().stream().filter(s -> s <= upTo).sorted().toList();
            for (long sequence : covered) {
                long[] times = timesBySequence.remove(sequence);
                if (trace != null) {
                    trace.append(sequence).append(' ').append(times[0]).append(' ').append(times[1]).append(' ')
                            .append(nowNs).append('\n');
                }
                if (firstKernelNs < 0) {
                    firstKernelNs = times[0];
                }
                if (times[0] - firstKernelNs >= warmupNs && count < latenciesNs.length) {
                    arrivalNs[count] = times[1] - times[0];
                    latenciesNs[count++] = nowNs - times[0];
                }
            }
            notifyAll();
        }

        /** Returns {kernel to ack, kernel to arrival at the collector} per violation, each sorted. */
        synchronized long[][] await(long deadlineNs) throws InterruptedException {
            while (count < latenciesNs.length && System.nanoTime() < deadlineNs) {
                wait(100);
            }
            long[] total = Arrays.copyOf(latenciesNs, count);
            long[] arrival = Arrays.copyOf(arrivalNs, count);
            Arrays.sort(total);
            Arrays.sort(arrival);
            return new long[][] {total, arrival};
        }
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> o = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            o.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        }
        if (!o.containsKey("db") || !o.containsKey("port-file") || !o.containsKey("count")) {
            System.err.println("usage: EndToEndLatency --db DIR --port-file FILE --count N [--timeout-s 120] [--warmup-s 5]"
                    + " [--trace FILE]");
            System.exit(2);
        }
        int count = Integer.parseInt(o.get("count"));
        AckTap tap = new AckTap(count, TimeUnit.SECONDS.toNanos(Long.parseLong(o.getOrDefault("warmup-s", "5"))));
        if (o.containsKey("trace")) {
            tap.trace = new StringBuilder();
        }
        long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(Long.parseLong(o.getOrDefault("timeout-s", "120")));
        try (JdbcStore store = JdbcStore.open("sqlite:" + Path.of(o.get("db"), "collector.db"));
             CollectorServer server = new CollectorServer(store, new InetSocketAddress("127.0.0.1", 0),
                     CollectorServer.Tls.plaintextForTests(), new PrometheusRegistry(), List.of(tap))) {
            Path portFile = Path.of(o.get("port-file"));
            Files.writeString(portFile.resolveSibling(portFile.getFileName() + ".tmp"), Integer.toString(server.port()));
            Files.move(portFile.resolveSibling(portFile.getFileName() + ".tmp"), portFile);
            long[][] measured = tap.await(deadlineNs);
            long[] latencies = measured[0];
            long[] arrivals = measured[1];
            if (latencies.length == 0) {
                System.err.println("no violation acknowledged before the timeout");
                System.exit(1);
            }
            System.out.printf("acked=%d p50_us=%.0f p90_us=%.0f p99_us=%.0f max_us=%.0f arrival_p50_us=%.0f arrival_p99_us=%.0f%n",
                    latencies.length, percentile(latencies, 50) / 1e3, percentile(latencies, 90) / 1e3,
                    percentile(latencies, 99) / 1e3, latencies[latencies.length - 1] / 1e3,
                    percentile(arrivals, 50) / 1e3, percentile(arrivals, 99) / 1e3);
            if (o.containsKey("trace")) {
                synchronized (tap) {
                    Files.writeString(Path.of(o.get("trace")), tap.trace);
                }
            }
            if (latencies.length < count) {
                System.exit(1);
            }
        }
    }

    /** Nearest-rank percentile of sorted values. */
    static long percentile(long[] sorted, int p) {
        int rank = (int) Math.ceil(p / 100.0 * sorted.length);
        return sorted[Math.max(0, rank - 1)];
    }
}
