package io.agentguard.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** agentguard's command line. */
@Command(name = "agentguard",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Watches what AI agents do on GPU nodes: programs, connections and NVIDIA driver calls"
                + " of processes in agent cgroups.",
        subcommands = {RunCommand.class, SandboxCommand.class, RulesCommand.class, ReplayCommand.class, UnloadCommand.class, StatusCommand.class, DemoCommand.class, ConfigCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    public static int execute(String... args) {
        return new CommandLine(new Main())
                .setExecutionExceptionHandler((e, cmd, parsed) -> {
                    cmd.getErr().println("agentguard: " + e.getMessage());
                    return 1;
                })
                .execute(args);
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is needed (run, sandbox, help)");
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"agentguard " + (v != null ? v : "(development build)")};
        }
    }
}
