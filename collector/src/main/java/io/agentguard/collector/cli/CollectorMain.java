package io.agentguard.collector.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** agentguard-collector: receive, store and query what agents report. */
@Command(name = "agentguard-collector", mixinStandardHelpOptions = true,
        versionProvider = CollectorMain.Version.class,
        description = "Receives violations and events from agentguard agents over gRPC, stores them, and answers queries.",
        subcommands = {ServeCommand.class, QueryCommand.class, CommandLine.HelpCommand.class})
public final class CollectorMain implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    public static int execute(String... args) {
        return new CommandLine(new CollectorMain())
                .setExecutionExceptionHandler((e, cmd, parsed) -> {
                    cmd.getErr().println("agentguard-collector: " + e.getMessage());
                    return 1;
                })
                .execute(args);
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is needed (serve, query, help)");
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = CollectorMain.class.getPackage().getImplementationVersion();
            return new String[] {"agentguard-collector " + (v != null ? v : "(development build)")};
        }
    }
}
