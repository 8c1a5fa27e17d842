package io.agentguard.cli;

import io.agentguard.config.AgentConfigLoader;
import io.agentguard.scope.AgentCgroups;
import io.agentguard.scope.Cgroup2Mount;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** agentguard sandbox: run a command inside an agent cgroup. */
@Command(name = "sandbox", mixinStandardHelpOptions = true,
        description = "Runs CMD inside an agent cgroup (created if needed), with this terminal's stdin/stdout/stderr,"
                + " and exits with its exit status. Everything it does is seen by a running `agentguard run`.")
public final class SandboxCommand implements Callable<Integer> {
    @Option(names = "--cgroup", paramLabel = "PATH",
            description = "cgroup relative to the cgroup2 mount (default: the embedded default's agent cgroup,"
                    + " agentguard/sandbox)")
    String cgroup;

    @Option(names = "--config", paramLabel = "FILE",
            description = "take the default cgroup (the first agent cgroup) from this configuration file")
    Path configFile;

    @Parameters(arity = "1..*", paramLabel = "CMD", description = "command and arguments (put them after --)")
    List<String> command;

    @Override
    public Integer call() throws Exception {
        String relative = cgroup != null ? cgroup
                : (configFile != null ? AgentConfigLoader.load(configFile) : AgentConfigLoader.embeddedDefault())
                        .agentCgroups().getFirst();
        Path mount = Cgroup2Mount.find();
        AgentCgroups.Root root = AgentCgroups.resolve(mount, List.of(relative), true).roots().getFirst();
        Process p = new ProcessBuilder(AgentCgroups.argvInside(root.directory(), command)).inheritIO().start();
        return p.waitFor();
    }
}
