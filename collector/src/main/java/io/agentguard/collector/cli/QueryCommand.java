package io.agentguard.collector.cli;

import picocli.CommandLine.Command;

/**
 * agentguard-collector query: violations (also without a subcommand, as before there were
 * subcommands), events, nodes.
 */
@Command(name = "query", mixinStandardHelpOptions = true,
        description = "Asks the collector's database. Without a subcommand: violations (as `query violations`).",
        subcommands = {QueryViolations.class, QueryEvents.class, QueryNodes.class})
public final class QueryCommand extends ViolationsQuery {
}
