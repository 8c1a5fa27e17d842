package io.agentguard.collector.cli;

import picocli.CommandLine.Command;

/** agentguard-collector query violations (and plain `query`, as before the subcommands). */
@Command(name = "violations", mixinStandardHelpOptions = true,
        description = "Prints stored violations, oldest first, as a table or as JSON lines; --evidence adds the events"
                + " that matched; --follow keeps printing new ones as the collector stores them.")
public final class QueryViolations extends ViolationsQuery {
}
