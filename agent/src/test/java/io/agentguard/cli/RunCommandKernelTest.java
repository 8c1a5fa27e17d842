package io.agentguard.cli;

import com.google.protobuf.util.JsonFormat;
import io.agentguard.daemon.KernelAgentExtension;
import io.agentguard.proto.v1.Event;
import io.agentguard.scope.Cgroup2Mount;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/** `agentguard run` as a user runs it: flags, JSON lines to --output, exit codes, errors. */
class RunCommandKernelTest {
    @BeforeAll
    static void needsRoot() {
        KernelAgentExtension.requireRoot();
    }

    @Test
    void runWritesProtobufJsonLinesToTheOutputFile(@TempDir Path dir) throws Exception {
        Path mount = Cgroup2Mount.find();
        String relative = "agentguard-test/cli-" + UUID.randomUUID().toString().substring(0, 8);
        Path cgroup = mount.resolve(relative);
        Path out = dir.resolve("events.jsonl");
        AtomicInteger exit = new AtomicInteger(-1);
        Thread run = Thread.ofPlatform().start(() -> exit.set(Main.execute("run", "--agent-cgroup", relative,
                "--create-cgroups", "--output", out.toString(), "--duration", "4", "--stats-interval", "0", "--pin-path", "", "--runtime-dir", dir.resolve("run").toString(),
                "--metrics-listen", "")));
        try {
            long deadline = System.currentTimeMillis() + 10_000;
            while (!Files.isDirectory(cgroup) && System.currentTimeMillis() < deadline) {
                Thread.sleep(20);
            }
            // the agent attaches its hooks after creating the cgroup; the status socket comes after them
            Path statusSocket = dir.resolve("run").resolve("status.sock");
            while (!Files.exists(statusSocket) && System.currentTimeMillis() < deadline + 30_000) {
                Thread.sleep(20);
            }
            String marker = "json-" + UUID.randomUUID();
            Process p = new ProcessBuilder("/bin/sh", "-c", "echo $$ > \"$0\" && exec /bin/echo \"$1\"",
                    cgroup.resolve("cgroup.procs").toString(), marker).start();
            assertThat(p.waitFor()).isZero();
            run.join(15_000);
            assertThat(exit.get()).isZero();

            List<Event> events = new ArrayList<>();
            for (String line : Files.readAllLines(out)) {
                if (line.contains("\"ruleSource\"")) {
                    continue;   // a violation (the marker runs as root: a posture finding), not an event
                }
                Event.Builder b = Event.newBuilder();
                JsonFormat.parser().merge(line, b);
                events.add(b.build());
            }
            Event exec = events.stream().filter(e -> e.hasExec() && e.getExec().getArgsList().contains(marker))
                    .findFirst().orElseThrow();
            assertThat(exec.getExec().getArgsList()).containsExactly("/bin/echo", marker);
            assertThat(exec.getProcess().getCgroupPath()).isEqualTo(relative);
            assertThat(events.stream().filter(e -> e.hasExit() && e.getProcess().getPid() == exec.getProcess().getPid()))
                    .hasSize(1);
        } finally {
            run.join(15_000);
            Files.deleteIfExists(cgroup);
        }
    }

    @Test
    void missingCgroupIsAnErrorNamingPathAndMount() {
        PrintStream saved = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true));
        int code;
        try {
            code = Main.execute("run", "--agent-cgroup", "no/such/cgroup", "--no-create-cgroups", "--duration", "1");
        } finally {
            System.setErr(saved);
        }
        assertThat(code).isEqualTo(1);
        assertThat(err.toString()).contains("cgroup 'no/such/cgroup' not found under the cgroup2 mount "
                + Cgroup2Mount.find());
    }

    @Test
    void badConfigFileIsExitCodeTwoWithFileLineColumn(@TempDir Path dir) throws Exception {
        Path config = dir.resolve("agentguard.yaml");
        Files.writeString(config, "agent_cgroups: [a]\noutput: {format: xml}\n");
        PrintStream saved = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true));
        try {
            assertThat(Main.execute("run", "--config", config.toString())).isEqualTo(2);
        } finally {
            System.setErr(saved);
        }
        assertThat(err.toString()).contains(config + ":2:18: output.format: 'xml' is not one of json, text");
    }
}
