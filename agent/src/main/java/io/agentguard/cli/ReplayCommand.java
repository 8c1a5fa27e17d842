package io.agentguard.cli;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Struct;
import com.google.protobuf.util.JsonFormat;
import io.agentguard.config.AgentConfig;
import io.agentguard.config.AgentConfigLoader;
import io.agentguard.config.ConfigException;
import io.agentguard.event.Records;
import io.agentguard.output.TextFormatter;
import io.agentguard.pipeline.ConsumerPipeline;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.ProcessInfo;
import io.agentguard.rules.Classifier;
import io.agentguard.rules.RuleException;
import io.agentguard.rules.RuleLoader;
import io.agentguard.rules.RuleSet;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.BufferedReader;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** agentguard replay: classify recorded events offline. */
@Command(name = "replay", mixinStandardHelpOptions = true,
        description = {"Classifies events recorded by `agentguard run` (JSON lines) against the rules, offline,"
                + " through the same process table and classifier as the daemon, and prints the violations.",
                "Lines that are violations (they have a \"rule\" key) and action events are skipped; times and cgroup"
                        + " paths are the recorded ones. Exit status: 0 done, 1 bad input, 2 usage or rule error."})
public final class ReplayCommand implements Callable<Integer> {
    @Parameters(paramLabel = "EVENTS.jsonl", description = "recorded events; - for stdin")
    String input;

    @Option(names = "--rules", paramLabel = "FILE", description = "rule files (repeatable); default: the configured ones")
    List<String> rules;

    @Option(names = "--no-default-pack", description = "without the embedded default rule pack")
    boolean noDefaultPack;

    @Option(names = "--config", paramLabel = "FILE", description = "daemon configuration to take rules and state from")
    Path configFile;

    @Option(names = "--format", paramLabel = "json|text", description = "violations as json (default) or text")
    String format = "json";

    @Override
    public Integer call() throws IOException {
        AgentConfig config;
        RuleSet set;
        try {
            config = configFile != null ? AgentConfigLoader.load(configFile) : AgentConfigLoader.embeddedDefault();
            set = RuleLoader.load(!noDefaultPack && config.defaultRulePack(), rules != null ? rules : config.rulePaths(),
                    config.classification().ruleLimits());
        } catch (ConfigException | RuleException e) {
            System.err.println("agentguard: " + e.getMessage());
            return 2;
        }
        if (!format.equals("json") && !format.equals("text")) {
            System.err.println("agentguard: --format must be json or text");
            return 2;
        }
        JsonFormat.Printer json = JsonFormat.printer().omittingInsignificantWhitespace();
        long[] count = new long[1];
        // What the live agent learns from the kernel and the cgroup tree, the recorded events carry.
        Map<Long, String> cgroupPaths = new HashMap<>();
        long[] wallMinusMonotonicNs = new long[1];
        ConsumerPipeline pipeline = ConsumerPipeline.builder(config, new Classifier(set))
                .cgroupPaths(id -> cgroupPaths.getOrDefault(id, ""))
                .wallMinusMonotonicNs(() -> wallMinusMonotonicNs[0])
                .violations(v -> {
                    count[0]++;
                    try {
                        System.out.println(format.equals("json") ? json.print(v) : TextFormatter.format(v));
                    } catch (InvalidProtocolBufferException e) {
                        throw new IllegalStateException(e);
                    }
                })
                .build();
        Records records = new Records();
        MemorySegment buf = Arena.ofAuto().allocate(Records.maxRecordBytes(), 8);
        JsonFormat.Parser parser = JsonFormat.parser().ignoringUnknownFields();
        int lineNumber = 0;
        long events = 0;
        long actions = 0;
        try (BufferedReader in = input.equals("-") ? new BufferedReader(new java.io.InputStreamReader(System.in))
                : Files.newBufferedReader(Path.of(input))) {
            String line;
            while ((line = in.readLine()) != null) {
                lineNumber++;
                if (line.isBlank()) {
                    continue;
                }
                Event.Builder b = Event.newBuilder();
                try {
                    Struct.Builder object = Struct.newBuilder();
                    parser.merge(line, object);
                    if (object.containsFields("rule")) {
                        continue;   // a violation the agent printed among its events
                    }
                    parser.merge(line, b);
                    Event e = b.build();
                    if (e.hasAction()) {
                        actions++;   // the agent's own doing, not a kernel record
                        continue;
                    }
                    ProcessInfo p = e.getProcess();
                    if (!p.getCgroupPath().isEmpty()) {
                        cgroupPaths.put(p.getCgroupId(), p.getCgroupPath());
                    }
                    if (e.hasTime()) {
                        wallMinusMonotonicNs[0] = e.getTime().getSeconds() * 1_000_000_000L + e.getTime().getNanos()
                                - e.getMonotonicNs();
                    }
                    int length = records.write(e, buf, 0);
                    pipeline.onRecord(buf, 0, length);
                    events++;
                } catch (InvalidProtocolBufferException | IllegalArgumentException e) {
                    System.err.println(input + ":" + lineNumber + ": not an agentguard event: " + e.getMessage());
                    return 1;
                }
            }
        } catch (NoSuchFileException e) {
            System.err.println("agentguard: " + input + ": no such file");
            return 1;
        }
        pipeline.flush();
        System.err.println("agentguard: replayed " + events + " events against " + set.size() + " rules: "
                + count[0] + " violations" + (actions > 0 ? "; " + actions + " action events skipped" : ""));
        return 0;
    }
}
