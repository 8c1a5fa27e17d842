package io.agentguard.daemon;

import io.agentguard.config.AgentConfig;
import io.agentguard.proto.v1.Priority;
import io.agentguard.proto.v1.Violation;
import io.agentguard.rules.RuleLimits;
import io.agentguard.rules.RuleReloader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Collections;
import java.util.List;
import java.util.function.LongSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The watched cannot stall the classifier or its rules: real processes in a test cgroup flood
 * the daemon with execs of hostile argv, and rules bombs land in the watched rules directory
 * of the running daemon. Deadlines are liveness bounds only (generous), never timings.
 */
class BoundedClassificationKernelTest {
    static final Path RULES_DIR;
    /** Low enough that a 4 KiB hostile argv through the default pack's regexes runs out (it needs about 200 000). */
    static final long BUDGET = 100_000;

    static {
        try {
            RULES_DIR = Files.createTempDirectory("agentguard-bounded");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @RegisterExtension
    static final KernelAgentExtension KERNEL = new KernelAgentExtension(4096, 8 << 20,
            io.agentguard.config.SyscallOutcomes.AUTO)
            .withRules(List.of(RULES_DIR + "/*.yaml"))
            .configure(b -> b.classification(new AgentConfig.Classification(RuleLimits.DEFAULT, BUDGET, 600_000)));

    private static String relative(Path cg) {
        return KERNEL.mount().relativize(cg).toString();
    }

    @Test
    void anExecFloodOfHostileArgvIsReportedOverBudgetAndTheNextExecIsStillClassified() throws Exception {
        Path cg = KERNEL.newCgroup("flood");
        String hostile = "mkfifo " + "|".repeat(4000);
        // 1 500 execs of sh -c 'mkfifo ||||...' (a syntax error for the inner shell: nothing else runs)
        KERNEL.runIn(cg, "/bin/sh", "-c", "i=0; while [ $i -lt 1500 ]; do /bin/sh -c \"$0\" 2>/dev/null;"
                + " i=$((i+1)); done; exit 0", hostile);
        Path dir = Files.createTempDirectory("agentguard-marker");
        Path miner = Files.copy(Path.of("/bin/true"), dir.resolve("xmrig"), StandardCopyOption.COPY_ATTRIBUTES);
        KernelAgentExtension.Run marker = KERNEL.runIn(cg, miner.toString());

        List<Violation> found = KERNEL.awaitViolations(v -> v.getRule().equals("Miner binary started")
                && v.getCgroupPath().equals(relative(cg)), 1, Duration.ofSeconds(120));
        assertThat(found).as("the marker exec after the flood is classified").hasSize(1);
        assertThat(found.getFirst().getProcess().getExe()).isEqualTo(miner.toString());

        List<Violation> over = KERNEL.awaitViolations(v -> v.getRule().equals("agentguard: classification budget exceeded")
                && v.getCgroupPath().equals(relative(cg)), 1, Duration.ofSeconds(10));
        assertThat(over).as("one report in the interval, however many events ran out").hasSize(1);
        Violation v = over.getFirst();
        assertThat(v.getPriority()).isEqualTo(Priority.PRIORITY_ERROR);
        assertThat(v.getOutput()).startsWith("classification budget exceeded: " + BUDGET
                + " units (classifier.budget_per_event) spent before rule '");
        assertThat(v.getEvidence(0).getExec().getFilename()).isEqualTo("/bin/sh");
        assertThat(v.getEvidence(0).getExec().getArgsList()).anySatisfy(a -> assertThat(a).startsWith("mkfifo |||"));
        assertThat(KERNEL.agent().overBudgetEvents()).as("every flooding exec counted").isGreaterThanOrEqualTo(1500);
        assertThat(KERNEL.agent().status()).contains("\"overBudgetTotal\"").contains("\"budgetReportsTotal\"");
        assertThat(marker.exitStatus()).isZero();
    }

    @Test
    void rulesBombsAreRefusedWithALimitErrorWhileTheOldRulesStayInForceAndTheWatchGoesOn() throws Exception {
        RuleReloader.Status start = KERNEL.agent().ruleStatus();
        replaceWhole(RULES_DIR.resolve("50-marker.yaml"), marker("Bounded test marker", 3998));
        awaitCount(() -> KERNEL.agent().ruleStatus().succeeded(), start.succeeded() + 1);

        Path bomb = RULES_DIR.resolve("60-bomb.yaml");
        String condition = "(".repeat(20_000) + "proc.pid = 1" + ")".repeat(20_000);
        StringBuilder lists = new StringBuilder("- list: l0\n  items: [a, b, c, d, e, f, g, h, i, j]\n");
        for (int i = 1; i < 10; i++) {
            lists.append("- list: l").append(i).append("\n  items: [")
                    .append(String.join(", ", Collections.nCopies(10, "l" + (i - 1)))).append("]\n");
        }
        StringBuilder laughs = new StringBuilder("- list: lol\n  items: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for (int i = 1; i < 10; i++) {
            laughs.append("- list: lol").append(i).append("\n  items: &a").append(i).append(" [")
                    .append(String.join(", ", Collections.nCopies(9, "*a" + (i - 1)))).append("]\n");
        }
        StringBuilder big = new StringBuilder("- list: big\n  items: [");
        while (big.length() < 20 << 20) {
            big.append("name").append(big.length()).append(", ");
        }
        big.append("x]\n");
        // the stack overflow first: on a watch that dies of an Error, nothing after it is looked at
        List<String[]> bombs = List.of(
                new String[] {rule("Parentheses bomb", condition), "(rules.limits.condition_depth)"},
                new String[] {"- list: deep\n  items: " + "[".repeat(5000) + "]".repeat(5000) + "\n", "(rules.limits.yaml_depth)"},
                new String[] {laughs.toString(), "(rules.limits.yaml_aliases)"},
                new String[] {lists + rule("Lists bomb", "proc.name in (l9)"), "(rules.limits.list_items)"},
                new String[] {big.toString(), "(rules.limits.file_bytes)"});
        long limitFailures = start.failedBy()[RuleReloader.FailureReason.LIMIT.ordinal()];
        for (String[] b : bombs) {
            long failed = KERNEL.agent().ruleStatus().failed();
            replaceWhole(bomb, b[0]);
            awaitCount(() -> KERNEL.agent().ruleStatus().failed(), failed + 1);
            RuleReloader.Status s = KERNEL.agent().ruleStatus();
            assertThat(s.lastFailure()).isEqualTo(RuleReloader.FailureReason.LIMIT);
            assertThat(s.lastError()).startsWith(bomb + ":").endsWith(b[1]);
            assertThat(s.failedBy()[RuleReloader.FailureReason.LIMIT.ordinal()]).isEqualTo(++limitFailures);
            long ok = s.succeeded();
            Files.delete(bomb);   // the set without it compiles again
            awaitCount(() -> KERNEL.agent().ruleStatus().succeeded(), ok + 1);
        }
        assertThat(KERNEL.agent().status()).contains("\"limit\": \"" + limitFailures + "\"");

        Path cg = KERNEL.newCgroup("marker");
        KERNEL.runIn(cg, KernelAgentExtension.nativeTool("connector").toString(), "tcp4", "127.66.0.78", "3998");
        assertThat(KERNEL.awaitViolations(v -> v.getRule().equals("Bounded test marker"), 1, Duration.ofSeconds(30)))
                .as("the rules in force before the bombs").hasSize(1);

        long ok = KERNEL.agent().ruleStatus().succeeded();
        replaceWhole(RULES_DIR.resolve("50-marker.yaml"), marker("Bounded test marker, edited", 3997));
        awaitCount(() -> KERNEL.agent().ruleStatus().succeeded(), ok + 1);
        KERNEL.runIn(cg, KernelAgentExtension.nativeTool("connector").toString(), "tcp4", "127.66.0.78", "3997");
        assertThat(KERNEL.awaitViolations(v -> v.getRule().equals("Bounded test marker, edited"), 1,
                Duration.ofSeconds(30))).as("a good edit after the bombs is applied: the watch went on").hasSize(1);
    }

    private static String marker(String name, int port) {
        return rule(name, "evt.type = connect and conn.addr = 127.66.0.78 and conn.port = " + port);
    }

    private static String rule(String name, String condition) {
        return "- rule: " + name + "\n  desc: d\n  condition: " + condition + "\n  output: \"%proc.name\"\n"
                + "  priority: ALERT\n";
    }

    /**
     * Writes the file whole, then renames it in: the watch polls modification times, and a
     * truncate-then-write can be read half done within one timestamp (INVALID, or an empty set
     * whose completion then goes unnoticed).
     */
    private static void replaceWhole(Path file, String text) throws java.io.IOException {
        Path partial = file.resolveSibling(file.getFileName() + ".partial");
        Files.writeString(partial, text);
        Files.move(partial, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    private static void awaitCount(LongSupplier count, long atLeast) throws InterruptedException {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (count.getAsLong() < atLeast && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertThat(count.getAsLong()).isGreaterThanOrEqualTo(atLeast);
    }
}
