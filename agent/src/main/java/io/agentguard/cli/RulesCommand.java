package io.agentguard.cli;

import io.agentguard.rules.CompiledRule;
import io.agentguard.rules.RuleCompiler;
import io.agentguard.rules.RuleException;
import io.agentguard.rules.RuleLimits;
import io.agentguard.rules.RuleLoader;
import io.agentguard.rules.RuleSet;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** agentguard rules: work with rule files. */
@Command(name = "rules", mixinStandardHelpOptions = true, description = "Rule files (docs/RULES.md).",
        subcommands = {RulesCommand.Check.class, RulesCommand.Fields.class})
public final class RulesCommand {
    /** agentguard rules check FILE...: compile, report every error with file:line:col, in file order. */
    @Command(name = "check", mixinStandardHelpOptions = true,
            description = {"Compiles rule files as the daemon would (after the embedded default pack, whose lists,"
                    + " macros and rules they may use, append to or override) and reports every error, one per line"
                    + " in file order, as FILE:LINE:COL: message.",
                    "Exit status: 0 valid, 1 invalid, 2 usage."})
    public static final class Check implements Callable<Integer> {
        @Parameters(arity = "0..*", paramLabel = "FILE", description = "rule files, in load order")
        List<Path> files = new ArrayList<>();

        @Option(names = "--no-default-pack", description = "check the files alone, without the default pack")
        boolean noDefaultPack;

        @Option(names = "--list", description = "list the compiled rules")
        boolean list;

        @Option(names = "--config", paramLabel = "FILE",
                description = "take rules.limits.* from this daemon configuration (default: the built-in limits)")
        Path config;

        @Override
        public Integer call() {
            List<RuleCompiler.Source> sources = new ArrayList<>();
            if (!noDefaultPack) {
                sources.add(RuleLoader.defaultPack());
            }
            RuleSet set;
            try {
                // the daemon's limits, so that check refuses and accepts what the daemon would
                RuleLimits limits = config == null ? RuleLimits.DEFAULT
                        : io.agentguard.config.AgentConfigLoader.load(config).classification().ruleLimits();
                for (Path f : files) {
                    sources.add(RuleLoader.read(f, limits));   // size and UTF-8 checked, as the daemon does
                }
                set = RuleCompiler.compile(sources, limits);
            } catch (RuleException e) {
                for (RuleException problem : e.problems()) {   // every error, file order, one per line
                    System.err.println(problem.getMessage());
                }
                return 1;
            } catch (io.agentguard.config.ConfigException e) {
                System.err.println(e.getMessage());
                return 1;
            }
            if (list) {
                for (CompiledRule r : set.rules()) {
                    System.out.printf("%-13s %-40s %s  %s%n", r.priority(), r.name(), String.join(",", r.tags()),
                            r.position());
                }
            }
            System.out.println("ok: " + set.size() + " enabled rules from " + String.join(", ", set.sources()));
            return 0;
        }
    }

    /** agentguard rules fields: every field a condition or output can name, with its type, events and an example. */
    @Command(name = "fields", mixinStandardHelpOptions = true,
            description = {"Lists every rule field: name, type, the event types where it has a value, an example"
                    + " value and what it means (docs/RULES.md, \"Fields\")."})
    public static final class Fields implements Callable<Integer> {
        @Option(names = "--format", paramLabel = "FORMAT", description = "text (aligned columns, default) or json")
        String format = "text";

        @Override
        public Integer call() throws Exception {
            java.util.List<io.agentguard.rules.Field> fields = java.util.Arrays.asList(io.agentguard.rules.Field.values());
            switch (format) {
                case "text" -> {
                    int name = "FIELD".length();
                    int events = "EVENTS".length();
                    int example = "EXAMPLE".length();
                    for (io.agentguard.rules.Field f : fields) {
                        name = Math.max(name, f.fieldName().length());
                        events = Math.max(events, events(f).length());
                        example = Math.max(example, f.example().length());
                    }
                    String row = "%-" + name + "s  %-6s  %-" + events + "s  %-" + example + "s  %s%n";
                    System.out.printf(row, "FIELD", "TYPE", "EVENTS", "EXAMPLE", "DESCRIPTION");
                    for (io.agentguard.rules.Field f : fields) {
                        System.out.printf(row, f.fieldName(), f.type().name().toLowerCase(java.util.Locale.ROOT),
                                events(f), f.example(), f.description());
                    }
                }
                case "json" -> {
                    com.google.protobuf.ListValue.Builder list = com.google.protobuf.ListValue.newBuilder();
                    for (io.agentguard.rules.Field f : fields) {
                        com.google.protobuf.ListValue.Builder ev = com.google.protobuf.ListValue.newBuilder();
                        f.eventNames().forEach(e -> ev.addValues(text(e)));
                        list.addValues(com.google.protobuf.Value.newBuilder().setStructValue(
                                com.google.protobuf.Struct.newBuilder()
                                        .putFields("name", text(f.fieldName()))
                                        .putFields("type", text(f.type().name().toLowerCase(java.util.Locale.ROOT)))
                                        .putFields("events", com.google.protobuf.Value.newBuilder().setListValue(ev).build())
                                        .putFields("example", text(f.example()))
                                        .putFields("description", text(f.description()))));
                    }
                    System.out.println(com.google.protobuf.util.JsonFormat.printer().print(
                            com.google.protobuf.Value.newBuilder().setListValue(list).build()));
                }
                default -> {
                    System.err.println("--format: expected text or json, not '" + format + "'");
                    return 2;
                }
            }
            return 0;
        }

        /** "all", or the event types joined by commas. */
        private static String events(io.agentguard.rules.Field f) {
            return f.eventTypes() == io.agentguard.rules.Field.ALL_EVENT_TYPES ? "all" : String.join(",", f.eventNames());
        }

        private static com.google.protobuf.Value text(String s) {
            return com.google.protobuf.Value.newBuilder().setStringValue(s).build();
        }
    }
}
