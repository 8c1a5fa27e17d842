package io.agentguard.rules;

import io.agentguard.event.Records;
import io.agentguard.pipeline.ConsumerPipeline;
import io.agentguard.process.ProcessTable;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.ExecEvent;
import io.agentguard.proto.v1.Priority;
import io.agentguard.proto.v1.ProcessInfo;
import io.agentguard.proto.v1.Violation;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The per-event classification budget: an event whose fields would take more matching work
 * than classifier.budget_per_event stops being classified, and that is counted and reported
 * as a violation, never passed as "no match" without a trace; the default pack's worst case
 * (hostile argv at the largest record) fits the default budget with room to spare.
 */
class ClassifierBudgetTest {
    private static final String RULES = """
            - rule: Argv has the marker
              desc: d
              condition: evt.type = exec and proc.args regex 'MARK(ER)+!'
              output: "marker %proc.name"
              priority: WARNING
            - rule: Argv lacks the word
              desc: "a negated term: false for want of budget must not turn into a match"
              condition: evt.type = exec and not proc.args contains NEVER
              output: "no word %proc.name"
              priority: NOTICE
            """;

    private final List<Violation> violations = new ArrayList<>();
    private final Records records = new Records();
    private final MemorySegment buf = Arena.ofAuto().allocate(Records.maxRecordBytes(), 8);

    private ConsumerPipeline pipeline(Classifier classifier, long reportIntervalMs) {
        return new ConsumerPipeline.Builder(classifier, new ProcessTable(256, 1)).violations(violations::add)
                .cgroupPaths(id -> "agents/job").budgetReportIntervalMs(reportIntervalMs).build();
    }

    private void exec(ConsumerPipeline p, int pid, long nowNs, String arg) {
        Event e = Event.newBuilder().setMonotonicNs(nowNs).setProcess(ProcessInfo.newBuilder().setPid(pid).setTid(pid)
                        .setPpid(1).setComm("sh").setCgroupId(7))
                .setExec(ExecEvent.newBuilder().setFilename("/bin/sh").addArgs("sh").addArgs("-c").addArgs(arg).setSuccess(true))
                .build();
        p.onRecord(buf, 0, records.write(e, buf, 0));
    }

    @Test
    void anEventOverBudgetIsCountedAndReportedInsteadOfPassingAsNoMatch() {
        Classifier classifier = new Classifier(RuleTestSupport.compile(RULES), 10_000);
        ConsumerPipeline p = pipeline(classifier, 10_000);
        String hostile = "MARKER!" + "|".repeat(4000);   // 4 KiB through a regex: 16 units a character, over 10 000

        exec(p, 100, 1_000_000_000L, hostile);

        assertThat(classifier.overBudgetEvents()).isEqualTo(1);
        assertThat(violations).extracting(Violation::getRule).containsExactly("agentguard: classification budget exceeded");
        Violation v = violations.getFirst();
        assertThat(v.getPriority()).isEqualTo(Priority.PRIORITY_ERROR);
        assertThat(v.getRuleSource()).isEqualTo("kernel");
        assertThat(v.getProcess().getPid()).isEqualTo(100);
        assertThat(v.getEvidence(0).getExec().getArgsList()).containsExactly("sh", "-c", hostile);
        assertThat(v.getOutput()).isEqualTo("classification budget exceeded: 10000 units (classifier.budget_per_event)"
                + " spent before rule 'Argv has the marker' (t.yaml:1:3) was decided; it and the rules after it were not"
                + " evaluated for this exec of sh (pid 100, cgroup agents/job); 1 event over budget since the last"
                + " report, 1 in all");
        assertThat(p.budgetReports()).isEqualTo(1);
    }

    @Test
    void aNegatedTermThatRanOutIsNotAMatch() {
        Classifier classifier = new Classifier(RuleTestSupport.compile("""
                - rule: No never
                  desc: d
                  condition: evt.type = exec and not proc.args regex 'NEVER+'
                  output: o
                  priority: NOTICE
                """), 10_000);
        ConsumerPipeline p = pipeline(classifier, 10_000);
        exec(p, 100, 1_000_000_000L, "|".repeat(4000));
        assertThat(violations).extracting(Violation::getRule).containsExactly("agentguard: classification budget exceeded");
    }

    @Test
    void reportsAreRateLimitedButEveryEventIsCounted() {
        Classifier classifier = new Classifier(RuleTestSupport.compile(RULES), 10_000);
        ConsumerPipeline p = pipeline(classifier, 10_000);
        String hostile = "|".repeat(4000);
        for (int i = 0; i < 50; i++) {
            exec(p, 100 + i, 1_000_000_000L + i * 1_000_000L, hostile);   // 50 ms in all
        }
        exec(p, 200, 12_000_000_000L, hostile);   // 11 s later: the next interval
        assertThat(classifier.overBudgetEvents()).isEqualTo(51);
        assertThat(violations).extracting(Violation::getRule).containsExactly(
                "agentguard: classification budget exceeded", "agentguard: classification budget exceeded");
        assertThat(violations.get(1).getOutput()).endsWith("; 50 events over budget since the last report, 51 in all");
    }

    @Test
    void anEventWithinBudgetIsClassifiedAsBefore() {
        Classifier classifier = new Classifier(RuleTestSupport.compile(RULES), 10_000);
        ConsumerPipeline p = pipeline(classifier, 10_000);
        exec(p, 100, 1_000_000_000L, "MARKERER!");
        assertThat(classifier.overBudgetEvents()).isZero();
        assertThat(violations).extracting(Violation::getRule).containsExactlyInAnyOrder("Argv has the marker",
                "Argv lacks the word");
    }

    @Test
    void theDefaultPacksWorstCaseFitsTheDefaultBudgetWithRoomToSpare() {
        // hostile argv at the largest exec record (exec.max_args_bytes ceiling), every shape that
        // reaches the pack's regexes, under programs and ancestors that open its guarded rules
        RuleSet pack = RuleLoader.load(true, List.of());
        String[] shapes = {"|", "| ", "-", "-o", " -a", " --pool ", "/dev/tcp/", "0", "a", "-D", " -o ", "exec:", "!!",
            "[", "x=", " -u 0x", "mkfifo ", "nc ", "(", "\\", "socket pty ", " -e ", "tunnel "};
        String[] exes = {"/bin/sh", "/usr/bin/ssh", "/usr/bin/nc", "/usr/bin/socat", "/usr/bin/python3",
            "/usr/bin/busybox", "/usr/bin/perl", "/usr/bin/cloudflared", "/usr/bin/git"};
        long worst = 0;
        for (String shape : shapes) {
            String arg = ("mkfifo /dev/tcp/ " + shape.repeat(8192)).substring(0, 8192);
            for (String exe : exes) {
                RuleTestSupport s = new RuleTestSupport();
                List<String> argv = List.of(exe.substring(exe.lastIndexOf('/') + 1), arg);
                int slot = s.process(100, exe, argv, List.of("socat", "git", "sshd"));
                Event e = Event.newBuilder().setMonotonicNs(1).setProcess(ProcessInfo.newBuilder().setPid(100).setPpid(99)
                        .setComm("sh")).setExec(ExecEvent.newBuilder().setFilename(exe).addAllArgs(argv)).build();
                EventContext c = s.at(e, slot);
                Classifier classifier = new Classifier(pack);
                classifier.classify(c, (r, x) -> { });
                assertThat(classifier.lastOverBudget()).as(exe + " with '" + shape + "'").isFalse();
                worst = Math.max(worst, Classifier.DEFAULT_BUDGET_PER_EVENT - c.budgetLeft());
            }
        }
        assertThat(worst).as("units the default pack took at worst").isLessThan(Classifier.DEFAULT_BUDGET_PER_EVENT / 2);
    }
}
