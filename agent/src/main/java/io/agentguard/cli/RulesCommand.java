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
        subcommands = {RulesCommand.Check.class})
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
}
