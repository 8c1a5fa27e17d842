package io.agentguard.cli;

import com.google.protobuf.Timestamp;
import com.google.protobuf.util.JsonFormat;
import io.agentguard.proto.v1.ActionEvent;
import io.agentguard.proto.v1.ConnectEvent;
import io.agentguard.proto.v1.AddressFamily;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.ExecEvent;
import io.agentguard.proto.v1.ProcessInfo;
import io.agentguard.proto.v1.Violation;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** agentguard rules check and agentguard replay, as an operator runs them. */
class RulesAndReplayCommandTest {
    private static final int PACK_RULES = io.agentguard.rules.RuleLoader.load(true, java.util.List.of()).rules().size();

    record Result(int code, String out, String err) {
    }

    private static Result run(String... args) throws Exception {
        PrintStream savedOut = System.out;
        PrintStream savedErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true));
        System.setErr(new PrintStream(err, true));
        try {
            int code = Main.execute(args);
            return new Result(code, out.toString(), err.toString());
        } finally {
            System.setOut(savedOut);
            System.setErr(savedErr);
        }
    }

    @Test
    void checkAcceptsTheDefaultPackAndAValidFile(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("mine.yaml");
        Files.writeString(f, "- rule: Local rule\n  desc: d\n  condition: proc.name in (miner_binaries) and proc.uid = 0\n"
                + "  output: o\n  priority: WARNING\n");
        Result r = run("rules", "check", f.toString());
        assertThat(r.code()).isZero();
        assertThat(r.out()).startsWith("ok: " + (PACK_RULES + 1) + " enabled rules from (default pack), " + f);
    }

    @Test
    void checkWithTheDaemonsConfigurationAppliesItsRuleLimits(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("big.yaml");
        Files.writeString(f, "- list: many\n  items: [" + String.join(", ", java.util.Collections.nCopies(2000, "x"))
                + "]\n- rule: r\n  desc: d\n  condition: proc.name in (many)\n  output: o\n  priority: NOTICE\n");
        Path config = dir.resolve("agentguard.yaml");
        Files.writeString(config, "agent_cgroups: [x]\nrules:\n  limits: {compiled_size: 1000}\n");
        assertThat(run("rules", "check", "--no-default-pack", f.toString()).code()).isZero();
        Result r = run("rules", "check", "--no-default-pack", "--config", config.toString(), f.toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("over the limit of 1000 (rules.limits.compiled_size)");
    }

    @Test
    void checkReportsTheFirstErrorWithFileLineColumnAndExitsOne(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("bad.yaml");
        Files.writeString(f, "- rule: r\n  desc: d\n  condition: conn.port = ssh\n  output: o\n  priority: NOTICE\n");
        Result r = run("rules", "check", "--no-default-pack", f.toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err().strip()).isEqualTo(f + ":3:26: 'conn.port' is an int; \"ssh\" is not a number");
        assertThat(run("rules", "check", dir.resolve("missing.yaml").toString()).err()).contains("no such file");
    }

    @Test
    void checkReportsEveryErrorOfEveryFileInFileOrderAndExitsOne(@TempDir Path dir) throws Exception {
        Path a = dir.resolve("10-a.yaml");
        Files.writeString(a, "- rule: r\n  desc: d\n  condition: conn.port = ssh\n  output: o\n  priority: NOTICE\n"
                + "- rule: s\n  desc: d\n  condition: evt.type = connect and fd.sport = 22\n  output: o\n  priority: NOTICE\n");
        Path b = dir.resolve("20-b.yaml");
        Files.writeString(b, "- rule: Miner binary started\n  enabled: false\n");
        Result r = run("rules", "check", a.toString(), b.toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err().strip().split("\n")).containsExactly(
                a + ":3:26: 'conn.port' is an int; \"ssh\" is not a number",
                a + ":8:37: unknown field 'fd.sport' (Falco name; agentguard: conn.port)",
                b + ":1:3: missing 'desc' (a new rule needs desc, condition, output and priority; to change the earlier"
                        + " rule 'Miner binary started', add override: {enabled: replace})");
        // a whole rule of a name the pack has: both places named
        Files.writeString(b, "- rule: Miner binary started\n  desc: d\n  condition: evt.type = exec\n  output: o\n"
                + "  priority: NOTICE\n");
        assertThat(run("rules", "check", b.toString()).err().strip()).isEqualTo(b + ":1:3: rule 'Miner binary started'"
                + " is already defined at (default pack):" + packLine("Miner binary started") + "; to change it, add"
                + " override: (e.g. override: {condition: append}) or append: true");
        // the way out it names works: the pack's rule disabled from a file of the operator's
        Files.writeString(b, "- rule: Miner binary started\n  enabled: false\n  override: {enabled: replace}\n");
        Result ok = run("rules", "check", "--list", a.toString().replace("10-a", "none"), b.toString());
        assertThat(ok.err()).contains("no such file");
        Result fixed = run("rules", "check", "--list", b.toString());
        assertThat(fixed.code()).isZero();
        assertThat(fixed.out()).doesNotContain("Miner binary started");
    }

    /** line:column of a rule in the embedded pack. */
    private static String packLine(String rule) throws Exception {
        String[] lines = io.agentguard.rules.RuleLoader.defaultPack().text().split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            if (lines[i].equals("- rule: " + rule)) {
                return (i + 1) + ":3";
            }
        }
        throw new AssertionError(rule);
    }

    @Test
    void replayClassifiesRecordedEventsOffline(@TempDir Path dir) throws Exception {
        JsonFormat.Printer json = JsonFormat.printer().omittingInsignificantWhitespace();
        ProcessInfo p = ProcessInfo.newBuilder().setPid(10).setPpid(9).setComm("bash").setCgroupId(5).build();
        List<Event> events = List.of(
                Event.newBuilder().setMonotonicNs(1).setProcess(p).setExec(ExecEvent.newBuilder()
                        .setFilename("/usr/bin/ssh").addAllArgs(List.of("ssh", "-fNR", "2222:localhost:22", "u@127.66.0.5"))
                        .setSuccess(true)).build(),
                Event.newBuilder().setMonotonicNs(2).setProcess(p.toBuilder().setComm("ssh")).setConnect(ConnectEvent
                        .newBuilder().setFamily(AddressFamily.ADDRESS_FAMILY_INET).setAddress("169.254.169.254")
                        .setPort(80).setProtocol(6)).build(),
                Event.newBuilder().setMonotonicNs(3).setProcess(p.toBuilder().setPid(11)).setExec(ExecEvent.newBuilder()
                        .setFilename("/usr/bin/git").addAllArgs(List.of("git", "status")).setSuccess(true)).build());
        StringBuilder lines = new StringBuilder();
        for (Event e : events) {
            lines.append(json.print(e)).append('\n');
        }
        Path file = dir.resolve("events.jsonl");
        Files.writeString(file, lines);

        Result r = run("replay", file.toString());
        assertThat(r.code()).isZero();
        List<String> rules = r.out().lines().map(l -> {
            Violation.Builder v = Violation.newBuilder();
            try {
                JsonFormat.parser().merge(l, v);
            } catch (Exception e) {
                throw new AssertionError(l, e);
            }
            return v.getRule();
        }).toList();
        assertThat(rules).contains("SSH port forwarding or proxy options", "Cloud metadata service contacted");
        assertThat(rules).doesNotContain("Tunnel tool started");
        assertThat(r.err()).contains("replayed 3 events against " + PACK_RULES + " rules");

        Files.writeString(file, lines + "{not json\n");
        Result bad = run("replay", file.toString());
        assertThat(bad.code()).isEqualTo(1);
        assertThat(bad.err()).contains(file + ":4: not an agentguard event");
    }

    @Test
    void replayKeepsTheRecordedTimesAndCgroupPathsAndSkipsActionEvents(@TempDir Path dir) throws Exception {
        JsonFormat.Printer json = JsonFormat.printer().omittingInsignificantWhitespace();
        Timestamp recorded = Timestamp.newBuilder().setSeconds(1_796_036_400L).setNanos(123_000_000).build();
        ProcessInfo p = ProcessInfo.newBuilder().setPid(10).setPpid(9).setComm("bash").setCgroupId(77)
                .setCgroupPath("agents/job-7").build();
        Event exec = Event.newBuilder().setTime(recorded).setMonotonicNs(5_000_000_000L).setProcess(p)
                .setExec(ExecEvent.newBuilder().setFilename("/usr/bin/git").addArgs("git").setSuccess(true)).build();
        Event action = Event.newBuilder().setTime(recorded).setProcess(p).setAction(ActionEvent.newBuilder()
                .setRule("r").setResult("ok")).build();
        Path events = dir.resolve("events.jsonl");
        Files.writeString(events, json.print(action) + "\n" + json.print(exec) + "\n");
        Path rules = dir.resolve("cg.yaml");
        Files.writeString(rules, "- rule: In a job cgroup\n  desc: d\n  condition: evt.type = exec and proc.cgroup"
                + " startswith agents/\n  output: exec in %proc.cgroup\n  priority: NOTICE\n");

        Result r = run("replay", "--no-default-pack", "--rules", rules.toString(), events.toString());
        assertThat(r.code()).isZero();
        Violation.Builder v = Violation.newBuilder();
        JsonFormat.parser().merge(r.out().strip(), v);
        assertThat(v.getRule()).isEqualTo("In a job cgroup");
        assertThat(v.getOutput()).isEqualTo("exec in agents/job-7");
        assertThat(v.getCgroupPath()).isEqualTo("agents/job-7");
        assertThat(v.getTime()).isEqualTo(recorded);
        assertThat(v.getEvidence(0).getTime()).isEqualTo(recorded);
        assertThat(r.err()).contains("replayed 1 events against 1 rules: 1 violations; 1 action events skipped");
    }
}
