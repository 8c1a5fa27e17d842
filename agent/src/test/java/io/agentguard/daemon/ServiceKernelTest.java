package io.agentguard.daemon;

import io.agentguard.scope.Cgroup2Mount;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The agent as systemd runs it (a separate process): readiness through NOTIFY_SOCKET, the
 * status socket, the metrics endpoint, reload on SIGHUP, one instance only, and a bounded
 * clean stop on SIGTERM.
 */
class ServiceKernelTest {
    private static final int PACK_RULES = io.agentguard.rules.RuleLoader.load(true, java.util.List.of()).rules().size();

    @BeforeAll
    static void needsRoot() {
        KernelAgentExtension.requireRoot();
    }

    @Test
    void readyStatusMetricsReloadSingleInstanceAndStop() throws Throwable {
        String id = UUID.randomUUID().toString().substring(0, 8);
        String relative = "agentguard-test/svc-" + id;
        Path cgroup = Cgroup2Mount.find().resolve(relative);
        Path dir = Files.createTempDirectory("agentguard-svc");
        Path runtime = dir.resolve("run");
        Path config = dir.resolve("agentguard.yaml");
        Files.writeString(config, """
                agent_cgroups: [%s]
                create_missing_cgroups: true
                stats_interval_ms: 0
                runtime_dir: %s
                metrics: {listen: "127.0.0.1:0"}
                rules: {paths: []}
                enforcement: {pin_path: ""}
                """.formatted(relative, runtime));
        try (NotifySocket notify = new NotifySocket(dir.resolve("notify.sock"))) {
            ProcessBuilder pb = CliProcess.runText(config, dir.resolve("out"), dir.resolve("err"));
            pb.environment().put("NOTIFY_SOCKET", notify.path.toString());
            Process p = pb.start();
            try {
                String ready = notify.await("READY=1", 30);
                assertThat(ready).as(Files.readString(dir.resolve("err"))).contains("STATUS=watching 1 agent cgroups");

                Process inside = new ProcessBuilder("/bin/sh", "-c", "echo $$ > \"$0\" && exec sleep 30",
                        cgroup.resolve("cgroup.procs").toString()).start();
                Thread.sleep(300);
                String text = CliProcess.status(runtime, false);
                assertThat(text).contains("mode enforce").containsPattern(relative + "\\s+1 processes")
                        .contains("rules: " + PACK_RULES + " from (default pack)").contains("report: off");
                assertThat(CliProcess.status(runtime, true)).contains("\"mode\": \"enforce\"").contains("\"eventsTotal\"");
                assertThat(Files.getPosixFilePermissions(runtime.resolve("status.sock")).toString())
                        .isEqualTo("[OWNER_READ, OWNER_WRITE]");

                String err = Files.readString(dir.resolve("err"));
                Matcher m = Pattern.compile("metrics on 127\\.0\\.0\\.1:(\\d+)").matcher(err);
                assertThat(m.find()).as(err).isTrue();
                String metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                        + m.group(1) + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
                assertThat(metrics).contains("agentguard_events_total{type=\"exec\"} 1.0")
                        .contains("agentguard_lost_records_total 0.0").contains("agentguard_rules " + PACK_RULES + ".0")
                        .contains("agentguard_rule_reloads_total{result=\"ok\"} 0.0");
                inside.destroy();

                // a second instance refuses to start
                Process second = CliProcess.runText(config, dir.resolve("out2"), dir.resolve("err2")).start();
                assertThat(second.waitFor(30, TimeUnit.SECONDS)).isTrue();
                assertThat(second.exitValue()).isEqualTo(1);
                assertThat(Files.readString(dir.resolve("err2"))).contains("another agentguard is running (pid " + p.pid());

                // SIGHUP: reload, told to systemd
                new ProcessBuilder("kill", "-HUP", String.valueOf(p.pid())).start().waitFor();
                assertThat(notify.await("RELOADING=1", 30)).isNotNull();
                assertThat(notify.await("READY=1", 30)).isNotNull();
                assertThat(Files.readString(dir.resolve("err"))).contains("rules reloaded (SIGHUP)");

                // SIGTERM: flush, say so, exit 0 quickly
                long start = System.nanoTime();
                p.destroy();
                assertThat(notify.await("STOPPING=1", 30)).isNotNull();
                assertThat(p.waitFor(15, TimeUnit.SECONDS)).isTrue();
                assertThat(System.nanoTime() - start).isLessThan(TimeUnit.SECONDS.toNanos(15));
                assertThat(p.exitValue()).isIn(0, 143);
                assertThat(Files.readString(dir.resolve("err"))).contains("summary:");
                assertThat(runtime.resolve("status.sock")).doesNotExist();
            } finally {
                p.destroyForcibly();
                Files.deleteIfExists(cgroup);
            }
        }
    }
}
