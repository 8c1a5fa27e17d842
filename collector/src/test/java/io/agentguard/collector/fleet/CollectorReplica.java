package io.agentguard.collector.fleet;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * One collector replica as its own process ({@code agentguard-collector serve}), on a fixed
 * port so that a restart is found where it was, killed with SIGKILL (no shutdown hook, no
 * goodbye to its streams: what a crash or the OOM killer does).
 */
public final class CollectorReplica implements AutoCloseable {
    public final String name;
    public final int port;
    public final int metricsPort;
    private final List<String> command;
    private final Map<String, String> env;
    private final Path log;
    private Process process;

    /**
     * @param launch how to start the collector, e.g. [java, -jar, collector.jar] or [java, -cp, CP, CollectorMain]
     * @param extra  more serve flags (--exports FILE, ...)
     */
    public CollectorReplica(String name, List<String> launch, List<String> jvmFlags, String db, Map<String, String> env,
                            Path log, List<String> extra) throws IOException {
        this.name = name;
        this.port = freePort();
        this.metricsPort = freePort();
        List<String> c = new ArrayList<>();
        c.add(launch.getFirst());
        c.addAll(jvmFlags);
        c.addAll(launch.subList(1, launch.size()));
        c.addAll(List.of("serve", "--plaintext", "--listen", "127.0.0.1:" + port, "--db", db,
                "--metrics-listen", "127.0.0.1:" + metricsPort, "--query-listen", "127.0.0.1:" + freePort()));
        c.addAll(extra);
        this.command = c;
        this.env = env;
        this.log = log;
    }

    /** This JVM's java and class path with the collector's main class: for tests, where the jar is not built yet. */
    public static List<String> fromClassPath() {
        return List.of(ProcessHandle.current().info().command().orElse("java"), "-cp", System.getProperty("java.class.path"),
                "io.agentguard.collector.cli.CollectorMain");
    }

    public String address() {
        return "127.0.0.1:" + port;
    }

    /** Starts it and waits for its "listening on" line (schema migrated, port bound). */
    public synchronized void start() throws Exception {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().putAll(env);
        process = pb.start();
        CountDownLatch ready = new CountDownLatch(1);
        Process p = process;
        Thread.ofPlatform().daemon(true).name("replica-" + name + "-log").start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
                 var w = java.nio.file.Files.newBufferedWriter(log, StandardCharsets.UTF_8,
                         java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND)) {
                String line;
                while ((line = r.readLine()) != null) {
                    if (line.contains("listening on")) {
                        ready.countDown();
                    }
                    w.write(line);
                    w.newLine();
                    w.flush();
                }
            } catch (IOException ignored) {
                // the process is gone
            }
        });
        if (!ready.await(180, TimeUnit.SECONDS) || !process.isAlive()) {
            throw new IllegalStateException("collector replica " + name + " did not start; see " + log);
        }
    }

    /** SIGKILL, and wait until it is gone. */
    public synchronized void kill() throws InterruptedException {
        process.destroyForcibly();   // SIGKILL on Linux
        process.waitFor(30, TimeUnit.SECONDS);
    }

    /** SIGTERM (the shutdown hook runs), and wait. */
    public synchronized void stop() throws InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroy();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        }
    }

    public long pid() {
        return process.pid();
    }

    /** A counter or gauge from its /metrics (summed over label sets), or 0 when absent or unreachable. */
    public double metric(String name) {
        try {
            String body = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + metricsPort
                    + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
            double sum = 0;
            for (String line : body.split("\n")) {
                if (line.startsWith(name + " ") || line.startsWith(name + "{")) {
                    sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
                }
            }
            return sum;
        } catch (IOException | InterruptedException | RuntimeException e) {
            return 0;
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Override
    public void close() throws InterruptedException {
        stop();
    }
}
