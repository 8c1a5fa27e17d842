package io.agentguard.rules;

import io.agentguard.pipeline.ConsumerPipeline;
import io.agentguard.event.Records;
import io.agentguard.process.ProcessTable;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.ForkEvent;
import io.agentguard.proto.v1.ProcessInfo;
import io.agentguard.proto.v1.Violation;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import static org.assertj.core.api.Assertions.assertThat;

class RuleReloaderTest {
    private static String forkRule(String name) {
        return "- rule: " + name + "\n  desc: d\n  condition: evt.type = fork\n  output: o\n  priority: NOTICE\n";
    }

    @Test
    void reloadUnderLoadClassifiesEveryEventExactlyOnce(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("r.yaml");
        Files.writeString(file, forkRule("generation-0"));
        Classifier classifier = new Classifier(RuleLoader.load(false, List.of(file.toString())));
        RuleReloader reloader = new RuleReloader(classifier, false, List.of(file.toString()),
                new io.agentguard.log.Log(new PrintStream(new ByteArrayOutputStream()), io.agentguard.log.Log.Level.INFO, false));
        List<Violation> violations = new ArrayList<>();
        ConsumerPipeline pipeline = new ConsumerPipeline.Builder(classifier, new ProcessTable(4096, 1))
                .violations(violations::add).build();
        Records records = new Records();

        AtomicBoolean running = new AtomicBoolean(true);
        int[] generations = new int[1];
        Thread swapper = Thread.ofPlatform().start(() -> {
            while (running.get()) {
                generations[0]++;
                try {
                    Files.writeString(file, forkRule("generation-" + generations[0]));
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
                reloader.reload("test");
            }
        });
        MemorySegment buf = Arena.ofAuto().allocate(Records.maxRecordBytes(), 8);
        int events = 200_000;
        for (int i = 0; i < events; i++) {
            Event fork = Event.newBuilder().setMonotonicNs(i).setProcess(ProcessInfo.newBuilder().setPid(1 + i % 1000))
                    .setFork(ForkEvent.newBuilder().setChildPid(5000 + i % 1000)).build();
            pipeline.onRecord(buf, 0, records.write(fork, buf, 0));
        }
        running.set(false);
        swapper.join();

        assertThat(generations[0]).as("reloads during the run").isGreaterThan(10);
        assertThat(violations).hasSize(events);   // none lost, none twice
        Map<String, Integer> byGeneration = new HashMap<>();
        violations.forEach(v -> byGeneration.merge(v.getRule(), 1, Integer::sum));
        assertThat(byGeneration.size()).as("events classified by several generations").isGreaterThan(1);
        assertThat(reloader.status().failed()).isZero();
    }

    @Test
    void aBrokenFileKeepsTheOldRulesAndReportsTheError(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("r.yaml");
        Files.writeString(file, forkRule("good"));
        Classifier classifier = new Classifier(RuleLoader.load(false, List.of(file.toString())));
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        RuleReloader reloader = new RuleReloader(classifier, false, List.of(file.toString()),
                new io.agentguard.log.Log(new PrintStream(log, true), io.agentguard.log.Log.Level.INFO, false));

        Files.writeString(file, forkRule("good") + "- rule: bad\n  desc: d\n  condition: proc.nmae = x\n  output: o\n"
                + "  priority: NOTICE\n");
        assertThat(reloader.reload("SIGHUP")).isFalse();
        assertThat(classifier.rules().rules()).extracting(CompiledRule::name).containsExactly("good");
        assertThat(reloader.status().failed()).isEqualTo(1);
        assertThat(reloader.status().lastError()).isEqualTo(file + ":8:14: unknown field 'proc.nmae' (did you mean 'proc.name'?)");
        assertThat(log.toString()).contains("rules reload failed (SIGHUP), keeping the previous 1 rules");

        Files.writeString(file, forkRule("better"));
        reloader.checkForChanges();
        assertThat(classifier.rules().rules()).extracting(CompiledRule::name).containsExactly("better");
        assertThat(reloader.status().succeeded()).isEqualTo(1);
        assertThat(reloader.status().lastError()).isEmpty();
    }

    @Test
    void globsPickUpNewFilesInNameOrder(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("20-b.yaml"), forkRule("b"));
        Files.writeString(dir.resolve("10-a.yaml"), forkRule("a"));
        Files.writeString(dir.resolve("notes.txt"), "not rules");
        RuleSet set = RuleLoader.load(false, List.of(dir + "/*.yaml"));
        assertThat(set.rules()).extracting(CompiledRule::name).containsExactly("a", "b");
        assertThat(RuleLoader.load(false, List.of(dir + "/missing/*.yaml")).size()).isZero();
    }

    @Test
    void aReloadThatRemovesRulesOrTheirActionsIsReportedAsWeakening(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("r.yaml");
        Files.writeString(file, forkRule("kept") + forkRule("dropped") + forkRule("armed") + "  action: kill_process\n");
        Classifier classifier = new Classifier(RuleLoader.load(false, List.of(file.toString())));
        RuleReloader reloader = new RuleReloader(classifier, false, List.of(file.toString()),
                new io.agentguard.log.Log(new PrintStream(new ByteArrayOutputStream()), io.agentguard.log.Log.Level.INFO, false));
        List<String> weakened = new ArrayList<>();
        reloader.onWeakened((why, lines) -> weakened.addAll(lines));

        Files.writeString(file, forkRule("kept") + forkRule("armed") + forkRule("added"));
        assertThat(reloader.reload("test")).isTrue();
        assertThat(weakened).containsExactly("rules removed (1): dropped", "rule actions removed (1): armed");

        weakened.clear();   // adding rules or actions weakens nothing
        Files.writeString(file, forkRule("kept") + forkRule("armed") + "  action: kill_process\n" + forkRule("added"));
        assertThat(reloader.reload("test")).isTrue();
        assertThat(weakened).isEmpty();
    }
}
