package io.agentguard.collector.export;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.agentguard.proto.v1.Priority;
import io.agentguard.proto.v1.Violation;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class WebhookExportTest {
    @TempDir
    Path dir;

    /** A receiver that checks the signature like a real one, records what it accepted, and can be down. */
    final class Receiver {
        final Map<Long, Integer> accepted = new ConcurrentHashMap<>();
        final List<JsonObject> bodies = new CopyOnWriteArrayList<>();
        final AtomicInteger refusedWhileDown = new AtomicInteger();
        final AtomicInteger badSignatures = new AtomicInteger();
        volatile boolean down;
        volatile Predicate<JsonObject> reject = b -> false;
        final byte[] secret;
        HttpServer server;
        int port;

        Receiver(byte[] secret) throws IOException {
            this.secret = secret;
            start(0);
        }

        void start(int wanted) throws IOException {
            server = HttpServer.create(new InetSocketAddress("127.0.0.1", wanted), 50);
            server.createContext("/hook", this::handle);
            server.start();
            port = server.getAddress().getPort();
        }

        void handle(HttpExchange x) throws IOException {
            byte[] body = x.getRequestBody().readAllBytes();
            int code;
            if (down) {
                refusedWhileDown.incrementAndGet();
                code = 503;
            } else if (secret != null && !signed(x, body)) {
                badSignatures.incrementAndGet();
                code = 401;
            } else {
                JsonObject o = JsonParser.parseString(new String(body, StandardCharsets.UTF_8)).getAsJsonObject();
                if (reject.test(o)) {
                    code = 400;
                } else {
                    bodies.add(o);
                    accepted.merge(Long.parseLong(x.getRequestHeaders().getFirst("X-Agentguard-Delivery")), 1, Integer::sum);
                    code = 200;
                }
            }
            x.sendResponseHeaders(code, -1);
            x.close();
        }

        boolean signed(HttpExchange x, byte[] body) {
            String ts = x.getRequestHeaders().getFirst("X-Agentguard-Timestamp");
            String sig = x.getRequestHeaders().getFirst("X-Agentguard-Signature");
            if (ts == null || sig == null) {
                return false;
            }
            String expected = "sha256=" + WebhookSink.sign(secret, ts, new String(body, StandardCharsets.UTF_8));
            return MessageDigest.isEqual(expected.getBytes(StandardCharsets.US_ASCII), sig.getBytes(StandardCharsets.US_ASCII));
        }

        String url() {
            return "http://127.0.0.1:" + port + "/hook";
        }

        long duplicates() {
            return accepted.values().stream().mapToInt(i -> i - 1).sum();
        }
    }

    ExportFixture fixture;
    Receiver receiver;

    @AfterEach
    void tearDown() throws Exception {
        if (fixture != null) {
            fixture.close();
        }
        if (receiver != null) {
            receiver.server.stop(0);
        }
    }

    String config(String extra) throws IOException {
        Path secret = dir.resolve("hook.secret");
        Files.writeString(secret, "s3cret-for-test\n");
        return """
                exports:
                  - name: hook
                    type: webhook
                    url: %s
                    secret_file: %s
                    timeout: 5s
                    headers: {X-Team: sec}
                    retry: {initial_backoff: 20ms, max_backoff: 200ms, reject_attempts: 2}
                %s""".formatted(receiver.url(), secret, extra);
    }

    @Test
    void everyViolationReachesTheReceiverAcrossA503OutageAndARestart() throws Exception {
        fixture = new ExportFixture(dir);
        receiver = new Receiver("s3cret-for-test".getBytes(StandardCharsets.UTF_8));
        fixture.store("node-a", 20);
        fixture.start(config(""));
        ExportFixture.await("the first 20", () -> receiver.accepted.size() >= 20);

        receiver.down = true;                                   // the receiver answers 503
        fixture.store("node-a", 20);
        ExportFixture.await("retries against the 503s", () -> receiver.refusedWhileDown.get() >= 3);
        receiver.server.stop(0);                                // then is gone altogether: connection refused
        int port = receiver.port;
        fixture.store("node-b", 20);
        double failedBefore = fixture.metric("agentguard_collector_export_failed_attempts_total", "hook");
        ExportFixture.await("attempts while gone", () ->
                fixture.metric("agentguard_collector_export_failed_attempts_total", "hook") > failedBefore + 2);
        // the lag counts the violations stored during the outage too (20 waiting before it, 20 more now)
        ExportFixture.await("lag grows during the outage", () -> fixture.metric("agentguard_collector_export_lag", "hook") == 40);

        receiver.down = false;
        receiver.start(port);                                   // back on the same address
        ExportFixture.await("all 60", () -> receiver.accepted.size() == 60);

        assertThat(receiver.accepted.keySet()).containsExactlyInAnyOrderElementsOf(ids(60));
        assertThat(receiver.badSignatures.get()).isZero();
        // at-least-once: a resend can only be a request whose 200 was lost; a 503 or refused connection never is one
        assertThat(receiver.duplicates()).isZero();
        ExportFixture.await("position at the end", () -> fixture.metric("agentguard_collector_export_lag", "hook") == 0);
        assertThat(fixture.metric("agentguard_collector_export_delivered_total", "hook")).isEqualTo(60);
        assertThat(fixture.metric("agentguard_collector_export_last_success_timestamp_seconds", "hook")).isPositive();
        JsonObject first = receiver.bodies.getFirst();
        assertThat(first.get("node").getAsString()).isEqualTo("node-a");
        assertThat(first.getAsJsonObject("violation").get("rule").getAsString()).isEqualTo("Shell in container");
        assertThat(first.getAsJsonObject("violation").get("priority").getAsString()).isEqualTo("PRIORITY_CRITICAL");
        assertThat(first.getAsJsonObject("violation").getAsJsonObject("workload").get("podName").getAsString())
                .isEqualTo("web-1");
    }

    static List<Long> ids(int n) {
        return java.util.stream.LongStream.rangeClosed(1, n).boxed().toList();
    }

    @Test
    void aRestartedCollectorResumesAtItsPositionWithoutResendingWhatWasDelivered() throws Exception {
        fixture = new ExportFixture(dir);
        receiver = new Receiver("s3cret-for-test".getBytes(StandardCharsets.UTF_8));
        fixture.store("node-a", 25);
        fixture.start(config(""));
        ExportFixture.await("the first 25", () -> receiver.accepted.size() == 25);
        ExportFixture.await("position written", () -> fixture.metric("agentguard_collector_export_lag", "hook") == 0);
        fixture.stop();                                         // the collector stops
        fixture.store("node-a", 25);                            // agents keep reporting meanwhile
        receiver.accepted.clear();

        fixture.start(config(""));                              // and starts again
        ExportFixture.await("the next 25", () -> receiver.accepted.size() == 25);
        assertThat(receiver.accepted.keySet()).allMatch(id -> id > 25).hasSize(25);
    }

    @Test
    void aViolationTheReceiverRejectsIsDeadLetteredAndTheRestStillFlow() throws Exception {
        fixture = new ExportFixture(dir);
        receiver = new Receiver("s3cret-for-test".getBytes(StandardCharsets.UTF_8));
        receiver.reject = b -> b.getAsJsonObject("violation").get("rule").getAsString().equals("poison");
        fixture.store("node-a", 3);
        fixture.store("node-a", ExportFixture.violation("poison", Priority.PRIORITY_ERROR, "bad"));
        fixture.store("node-a", 3);
        fixture.start(config(""));
        ExportFixture.await("the 6 others", () -> receiver.accepted.size() == 6);
        ExportFixture.await("the dead letter", () ->
                fixture.metric("agentguard_collector_export_dead_letter_total", "hook") == 1);
        assertThat(receiver.accepted.keySet()).containsExactlyInAnyOrder(1L, 2L, 3L, 5L, 6L, 7L);
        try (var c = DriverManager.getConnection("jdbc:" + fixture.db);
             ResultSet rs = c.createStatement().executeQuery("SELECT violation_id, attempts, reason FROM export_dead_letters")) {
            assertThat(rs.next()).isTrue();
            assertThat(rs.getLong(1)).isEqualTo(4);
            assertThat(rs.getInt(2)).isEqualTo(2);
            assertThat(rs.getString(3)).contains("HTTP 400");
        }
        ExportFixture.await("position past it", () -> fixture.metric("agentguard_collector_export_lag", "hook") == 0);
    }

    @Test
    void filtersSendOnlyWhatMatchesAndStillMovePastTheRest() throws Exception {
        fixture = new ExportFixture(dir);
        receiver = new Receiver("s3cret-for-test".getBytes(StandardCharsets.UTF_8));
        Violation good = ExportFixture.violation("Shell in container", Priority.PRIORITY_ERROR, "match").toBuilder()
                .clearTags().addTags("mitre_execution").build();
        fixture.store("gpu-1", good);                                                         // 1 sent
        fixture.store("gpu-2", good.toBuilder().setPriority(Priority.PRIORITY_NOTICE).build()); // 2 below warning
        fixture.store("gpu-3", good.toBuilder().setRule("Outbound connect").build());        // 3 rule
        fixture.store("gpu-4", good.toBuilder().clearTags().addTags("other").build());        // 4 tags
        fixture.store("cpu-1", good);                                                         // 5 node
        fixture.store("gpu-6", good.toBuilder().setPriority(Priority.PRIORITY_WARNING).build()); // 6 sent (at the minimum)
        fixture.start(config("""
                    filter:
                      min_priority: warning
                      rules: ["Shell*", "Reverse shell"]
                      tags: [mitre_execution, mitre_persistence]
                      nodes: ["gpu-*"]
                """));
        ExportFixture.await("position past all six", () -> fixture.metric("agentguard_collector_export_lag", "hook") == 0
                && receiver.accepted.size() == 2);
        assertThat(receiver.accepted.keySet()).containsExactlyInAnyOrder(1L, 6L);
    }

    @Test
    void slackTemplateCarriesRulePriorityNodeProcessAndEscapesMarkup() throws Exception {
        Violation v = ExportFixture.violation("Shell in container", Priority.PRIORITY_CRITICAL, "curl <http://x|click> & sh");
        JsonObject o = JsonParser.parseString(WebhookSink.slack(new ExportStore.Row(7, "gpu-1", v))).getAsJsonObject();
        assertThat(o.get("text").getAsString()).isEqualTo("[CRITICAL] Shell in container on gpu-1: curl <http://x|click> & sh");
        String blocks = o.getAsJsonArray("blocks").toString();
        assertThat(blocks).contains("curl &lt;http://x|click&gt; &amp; sh").doesNotContain("<http")
                .contains("gpu-1").contains("/bin/sh (pid 4242)").contains("pod shop/web-1");
    }

    @Test
    void badConfigNamesFileLineColumnAndKeyPath() {
        assertThatThrownBy(() -> ExportsConfig.parseYaml("""
                exports:
                  - name: hook
                    type: webhook
                    url: http://127.0.0.1:1/x
                    filter:
                      min_priority: severe
                """, "collector.yaml"))
                .hasMessage("collector.yaml:6:21: exports[0].filter.min_priority: 'severe' is not a priority (emergency,"
                        + " alert, critical, error, warning, notice, informational, debug)");
        assertThatThrownBy(() -> ExportsConfig.parseYaml("""
                exports:
                  - name: hook
                    type: webhook
                    url: http://127.0.0.1:1/x
                    secret: inline
                """, "collector.yaml"))
                .hasMessageStartingWith("collector.yaml:5:13: exports[0].secret: unknown key for a webhook export");
    }
}
