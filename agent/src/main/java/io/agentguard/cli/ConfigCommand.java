package io.agentguard.cli;

import io.agentguard.config.AgentConfig;
import io.agentguard.config.AgentConfigLoader;
import io.agentguard.config.ConfigException;
import io.agentguard.rules.RuleException;
import io.agentguard.rules.RuleLoader;
import io.agentguard.rules.RuleSet;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** agentguard config check: what the daemon would say about a configuration, without starting it. */
@Command(name = "config", mixinStandardHelpOptions = true, description = "Agent configuration files (docs/CONFIG.md).",
        subcommands = {ConfigCommand.Check.class})
public final class ConfigCommand {
    @Command(name = "check", mixinStandardHelpOptions = true,
            description = {"Validates a configuration file and compiles the rules it names (default pack and"
                    + " rules.paths), as the daemon does at start and on reload. Errors are FILE:LINE:COL: message.",
                    "Exit status: 0 valid, 1 invalid, 2 usage."})
    public static final class Check implements Callable<Integer> {
        @Parameters(arity = "0..1", paramLabel = "FILE", description = "default: ${DEFAULT-VALUE}")
        Path file = Path.of("/etc/agentguard/agentguard.yaml");

        @Override
        public Integer call() {
            AgentConfig config;
            RuleSet rules;
            try {
                config = AgentConfigLoader.load(file);
                rules = RuleLoader.load(config.defaultRulePack(), config.rulePaths(), config.classification().ruleLimits());
            } catch (ConfigException | RuleException e) {
                System.err.println(e.getMessage());
                return 1;
            }
            System.out.println("ok: " + file + ": mode " + (config.enforce() ? "enforce" : "monitor") + ", " + config.agentCgroups().size()
                    + " agent cgroups, " + config.cgroupPolicies().size() + " cgroup policies, " + rules.size()
                    + " rules from " + String.join(", ", rules.sources()));
            return 0;
        }
    }
}
