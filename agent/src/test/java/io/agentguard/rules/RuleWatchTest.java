package io.agentguard.rules;

import io.agentguard.log.Log;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The rule file watch survives whatever a reload throws: the old rules stay in force, the
 * failure is counted by reason, and a later good edit is applied. A scheduled task that throws
 * once is never run again (ScheduledExecutorService), which is how a rules bomb's
 * OutOfMemoryError once ended the watch silently.
 */
class RuleWatchTest {
    private static String forkRule(String name) {
        return "- rule: " + name + "\n  desc: d\n  condition: evt.type = fork\n  output: o\n  priority: NOTICE\n";
    }

    /** As an editor saving: the watcher never reads a half-written file (an empty one would load fine). */
    private static void writeAtomically(Path file, String text) throws java.io.IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, text);
        Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    private static Log quietLog() {
        return new Log(new PrintStream(new ByteArrayOutputStream()), Log.Level.INFO, false);
    }

    @Test
    void theScheduledWatchGoesOnAfterErrorsAndAppliesALaterGoodEdit(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("r.yaml");
        Files.writeString(file, forkRule("first"));
        List<String> paths = List.of(file.toString());
        Classifier classifier = new Classifier(RuleLoader.load(false, paths));
        AtomicInteger loads = new AtomicInteger();
        Supplier<RuleSet> loader = () -> switch (loads.incrementAndGet()) {
            case 1 -> throw new OutOfMemoryError("Java heap space");
            case 2 -> throw new StackOverflowError();
            case 3 -> throw new IllegalStateException("a bug");
            default -> RuleLoader.load(false, paths);
        };
        RuleReloader reloader = new RuleReloader(classifier, paths, loader, quietLog());
        ScheduledExecutorService watch = Executors.newSingleThreadScheduledExecutor();
        try {
            watch.scheduleWithFixedDelay(reloader::checkForChanges, 10, 10, TimeUnit.MILLISECONDS);   // as the daemon does
            for (int edit = 1; edit <= 3; edit++) {
                writeAtomically(file, forkRule("broken-" + edit) + "#" + "x".repeat(edit));   // size changes: seen
                awaitLoads(loads, edit);
            }
            writeAtomically(file, forkRule("good") + "# the good edit, after three failures");
            awaitLoads(loads, 4);
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (!classifier.rules().rules().stream().map(CompiledRule::name).toList().equals(List.of("good"))
                    && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
        } finally {
            watch.shutdownNow();
        }
        assertThat(classifier.rules().rules()).extracting(CompiledRule::name).containsExactly("good");
        RuleReloader.Status s = reloader.status();
        assertThat(s.failed()).isEqualTo(3);
        assertThat(s.failedBy()[RuleReloader.FailureReason.OUT_OF_MEMORY.ordinal()]).isEqualTo(1);
        assertThat(s.failedBy()[RuleReloader.FailureReason.STACK_OVERFLOW.ordinal()]).isEqualTo(1);
        assertThat(s.failedBy()[RuleReloader.FailureReason.INTERNAL.ordinal()]).isEqualTo(1);
        assertThat(s.succeeded()).isEqualTo(1);
        assertThat(s.watchChecks()).isGreaterThanOrEqualTo(4);   // one look per change at least
    }

    private static void awaitLoads(AtomicInteger loads, int n) throws InterruptedException {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (loads.get() < n && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertThat(loads.get()).as("reload attempts: the watch is still running").isGreaterThanOrEqualTo(n);
    }

    @Test
    void aSighupReloadThatThrowsAnErrorKeepsTheOldRulesAndSaysWhy(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("r.yaml");
        Files.writeString(file, forkRule("old"));
        List<String> paths = List.of(file.toString());
        Classifier classifier = new Classifier(RuleLoader.load(false, paths));
        RuleReloader reloader = new RuleReloader(classifier, paths, () -> {
            throw new OutOfMemoryError("Java heap space");
        }, quietLog());
        assertThat(reloader.reload("SIGHUP")).isFalse();
        assertThat(classifier.rules().rules()).extracting(CompiledRule::name).containsExactly("old");
        assertThat(reloader.status().lastFailure()).isEqualTo(RuleReloader.FailureReason.OUT_OF_MEMORY);
        assertThat(reloader.status().lastError()).isEqualTo("OutOfMemoryError: Java heap space");
    }

    @Test
    void aRulesBombReloadIsALimitFailureAndTheOldRulesStay(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("r.yaml");
        Files.writeString(file, forkRule("old"));
        List<String> paths = List.of(file.toString());
        Classifier classifier = new Classifier(RuleLoader.load(false, paths));
        RuleReloader reloader = new RuleReloader(classifier, false, paths, RuleLimits.DEFAULT, quietLog());
        Files.writeString(file, RuleLimitsTest.nestedListsBomb());
        reloader.checkForChanges();
        assertThat(classifier.rules().rules()).extracting(CompiledRule::name).containsExactly("old");
        assertThat(reloader.status().lastFailure()).isEqualTo(RuleReloader.FailureReason.LIMIT);
        assertThat(reloader.status().lastError()).isEqualTo(file + ":23:28: 'l9' expands to more than 100000 values"
                + " (lists in lists), over the limit of 100000 (rules.limits.list_items)");
        Files.writeString(file, forkRule("new"));
        reloader.checkForChanges();
        assertThat(classifier.rules().rules()).extracting(CompiledRule::name).containsExactly("new");
    }
}
