package io.agentguard.workload.runtime;

import io.agentguard.workload.RuntimeNames;
import io.agentguard.workload.WorkloadIdentity;
import io.agentguard.workload.WorkloadNames;
import io.agentguard.config.AgentConfig;
import io.agentguard.proto.v1.RuntimeMetadataStatus;
import io.agentguard.proto.v1.RuntimeSocketStatus;

import java.io.InterruptedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Container and pod names and labels from the runtimes' local sockets, best effort and off the
 * event path. {@link #request} only enqueues (each runtime has one worker thread and a bounded
 * queue; an id already queued or being looked up is not queued again; a full queue drops the
 * request, counted); {@link #cached} only reads the cache. Neither blocks or does I/O, so a runtime
 * that hangs delays names, never events.
 *
 * <p>Answers are cached for {@code cache_ttl_ms}; "not found", failures and timeouts for
 * {@code negative_ttl_ms}, so a runtime that does not answer is asked again only that often per
 * container. The cache holds at most {@code cache_entries}: past that, expired entries go first,
 * then the oldest.
 */
public final class RuntimeMetadata implements WorkloadNames, AutoCloseable {
    /** Requests waiting per runtime; more are dropped (counted) until the worker catches up. */
    public static final int QUEUE_CAPACITY = 1024;

    /** Which API each runtime's socket speaks. */
    public static final Map<String, String> PROTOCOLS = Map.of(
            "podman", "libpod", "docker", "docker-engine", "containerd", "cri", "cri-o", "cri");

    private record Request(String containerId, String podUid) {
    }

    /** names null: the runtime did not know the id, failed or did not answer in time. */
    private record Cached(RuntimeNames names, long storedNs, long expiresNs) {
    }

    private final boolean enabled;
    private final long ttlNs;
    private final long negativeTtlNs;
    private final int maxEntries;
    private final ConcurrentHashMap<String, Cached> cache = new ConcurrentHashMap<>();
    private final Set<String> pending = ConcurrentHashMap.newKeySet();
    private final Map<String, Worker> workers = new LinkedHashMap<>();
    private volatile boolean closed;

    private final LongAdder requests = new LongAdder();
    private final LongAdder deduplicated = new LongAdder();
    private final LongAdder dropped = new LongAdder();
    private final LongAdder invalid = new LongAdder();
    private final LongAdder lookups = new LongAdder();
    private final LongAdder answered = new LongAdder();
    private final LongAdder notFound = new LongAdder();
    private final LongAdder failed = new LongAdder();
    private final LongAdder timedOut = new LongAdder();
    private final LongAdder skipped = new LongAdder();
    private final LongAdder labelsDropped = new LongAdder();

    /** The clients for the configured sockets (workload.runtime_sockets); none when workload.names is off. */
    public static RuntimeMetadata start(AgentConfig.RuntimeLookup config) {
        Map<String, RuntimeClient> clients = new LinkedHashMap<>();
        if (config.enabled()) {
            config.sockets().forEach((runtime, path) -> {
                if (path.isEmpty()) {
                    return;
                }
                Path socket = Path.of(path);
                clients.put(runtime, switch (PROTOCOLS.get(runtime)) {
                    case "libpod" -> new EngineApiClient(socket, EngineApiClient.Api.LIBPOD, config.lookupTimeoutMs());
                    case "docker-engine" -> new EngineApiClient(socket, EngineApiClient.Api.DOCKER, config.lookupTimeoutMs());
                    case "cri" -> new CriClient(socket, config.lookupTimeoutMs());
                    default -> throw new IllegalArgumentException("no client for runtime '" + runtime + "'");
                });
            });
        }
        return new RuntimeMetadata(config, clients, QUEUE_CAPACITY);
    }

    RuntimeMetadata(AgentConfig.RuntimeLookup config, Map<String, RuntimeClient> clients, int queueCapacity) {
        this.enabled = config.enabled();
        this.ttlNs = config.cacheTtlMs() * 1_000_000L;
        this.negativeTtlNs = config.negativeTtlMs() * 1_000_000L;
        this.maxEntries = config.cacheEntries();
        clients.forEach((runtime, client) -> workers.put(runtime, new Worker(runtime, client, queueCapacity)));
        workers.values().forEach(Worker::start);
    }

    /**
     * Asks the runtime for a container's names, unless they are cached or already asked for.
     * Returns at once: no I/O, no lock, no waiting. runtime: "podman", "docker", "containerd",
     * "cri-o" (others, and runtimes without a socket, are ignored); containerId: the runtime's id
     * (hex, as the cgroup path names it); podUid may be null.
     */
    public void request(String runtime, String containerId, String podUid) {
        if (closed || runtime == null || containerId == null || containerId.isEmpty()) {
            return;   // a pod-level cgroup, a Slurm job, a unit: nothing a runtime socket names
        }
        Worker worker = workers.get(runtime);
        if (worker == null) {
            return;
        }
        if (!isHexId(containerId)) {
            invalid.increment();   // never put into a URL path or an RPC: the cgroup path gave something odd
            return;
        }
        Cached c = cache.get(containerId);
        if (c != null && c.expiresNs - System.nanoTime() > 0) {
            return;
        }
        if (!pending.add(containerId)) {
            deduplicated.increment();
            return;
        }
        requests.increment();
        if (!worker.queue.offer(new Request(containerId, podUid))) {
            pending.remove(containerId);
            dropped.increment();
        }
    }

    /** What the runtime said about this container, if it answered and the answer has not expired; else null. Never blocks. */
    public RuntimeNames cached(String containerId) {
        if (containerId == null) {
            return null;
        }
        Cached c = cache.get(containerId);
        return c == null || c.expiresNs - System.nanoTime() <= 0 ? null : c.names;
    }

    /** {@link WorkloadNames}: the consumer saw a new cgroup of this workload. */
    @Override
    public void lookup(WorkloadIdentity id, long cgroupId) {
        request(id.runtime(), id.containerId(), id.podUid());
    }

    /** {@link WorkloadNames}: what the runtime said about this workload's container, or null. */
    @Override
    public RuntimeNames names(WorkloadIdentity id) {
        return cached(id.containerId());
    }

    private static boolean isHexId(String id) {
        int n = id.length();
        if (n == 0 || n > 64) {
            return false;
        }
        for (int i = 0; i < n; i++) {
            char ch = id.charAt(i);
            if (!(ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'f')) {
                return false;
            }
        }
        return true;
    }

    private void store(String containerId, RuntimeNames names) {
        long now = System.nanoTime();
        cache.put(containerId, new Cached(names, now, now + (names != null ? ttlNs : negativeTtlNs)));
        if (cache.size() > maxEntries) {
            evict(now);
        }
    }

    /** Called by the workers only, and only once the cache is full: expired entries first, then the oldest. */
    private synchronized void evict(long now) {
        cache.values().removeIf(c -> c.expiresNs - now <= 0);
        while (cache.size() > maxEntries) {
            String oldest = null;
            long oldestNs = Long.MAX_VALUE;
            for (Map.Entry<String, Cached> e : cache.entrySet()) {
                if (oldest == null || e.getValue().storedNs - oldestNs < 0) {
                    oldest = e.getKey();
                    oldestNs = e.getValue().storedNs;
                }
            }
            if (oldest == null) {
                return;
            }
            cache.remove(oldest);
        }
    }

    /** One runtime: its client, its queue and the thread that empties it. */
    private final class Worker implements Runnable {
        final String runtime;
        final RuntimeClient client;
        final ArrayBlockingQueue<Request> queue;
        final Thread thread;
        volatile String state = "not asked yet";

        Worker(String runtime, RuntimeClient client, int capacity) {
            this.runtime = runtime;
            this.client = client;
            this.queue = new ArrayBlockingQueue<>(capacity);
            this.thread = Thread.ofPlatform().daemon().name("agentguard-runtime-" + runtime).unstarted(this);
        }

        void start() {
            thread.start();
        }

        @Override
        public void run() {
            while (!closed) {
                Request r;
                try {
                    r = queue.take();
                } catch (InterruptedException e) {
                    return;
                }
                try {
                    lookup(r);
                } finally {
                    pending.remove(r.containerId);
                }
            }
        }

        private void lookup(Request r) {
            Path socket = client.socket();
            if (!Files.exists(socket)) {
                // no such runtime on this node (or not started yet): quietly nothing, asked again after negative_ttl_ms
                skipped.increment();
                state = "absent";
                store(r.containerId, null);
                return;
            }
            lookups.increment();
            RuntimeNamesBuilder into = new RuntimeNamesBuilder();
            try {
                RuntimeNames names = client.lookup(r.containerId, r.podUid, into);
                labelsDropped.add(into.labelsDropped());
                if (names == null) {
                    notFound.increment();
                } else {
                    answered.increment();
                }
                state = "reachable";
                store(r.containerId, names);
            } catch (InterruptedIOException e) {
                if (closed) {
                    return;
                }
                timedOut.increment();
                state = "timed out: " + e.getMessage();
                store(r.containerId, null);
            } catch (Exception e) {
                // bad JSON, HTTP errors, refused connections, an answer too large: no names, counted
                if (closed) {
                    return;
                }
                failed.increment();
                state = "failed: " + e.getMessage();
                store(r.containerId, null);
            }
        }
    }

    /** Counters and per-socket state for `agentguard status` (AgentStatus.runtime_metadata). */
    public RuntimeMetadataStatus status() {
        RuntimeMetadataStatus.Builder b = RuntimeMetadataStatus.newBuilder()
                .setEnabled(enabled)
                .setRequests(requests.sum())
                .setDeduplicated(deduplicated.sum())
                .setDropped(dropped.sum())
                .setInvalid(invalid.sum())
                .setLookups(lookups.sum())
                .setAnswered(answered.sum())
                .setNotFound(notFound.sum())
                .setFailed(failed.sum())
                .setTimedOut(timedOut.sum())
                .setSkipped(skipped.sum())
                .setLabelsDropped(labelsDropped.sum())
                .setCachedEntries(cache.size())
                .setQueued(queued());
        for (Worker w : workers.values()) {
            b.addSockets(RuntimeSocketStatus.newBuilder().setRuntime(w.runtime)
                    .setPath(w.client.socket().toString()).setState(w.state));
        }
        return b.build();
    }

    private long queued() {
        long n = 0;
        for (Worker w : workers.values()) {
            n += w.queue.size();
        }
        return n;
    }

    /** The runtimes asked (those with a socket configured). */
    public List<String> runtimes() {
        return new ArrayList<>(workers.keySet());
    }

    @Override
    public void close() {
        closed = true;
        for (Worker w : workers.values()) {
            w.thread.interrupt();
            w.client.close();
        }
        for (Worker w : workers.values()) {
            try {
                w.thread.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
