package io.agentguard.cli;

import io.agentguard.bpf.BpfObject;
import io.agentguard.bpf.BpfPins;
import io.agentguard.config.AgentConfigLoader;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** agentguard unload: remove the pinned programs, links and maps. */
@Command(name = "unload", mixinStandardHelpOptions = true,
        description = {"Removes everything agentguard pinned in bpffs: the hooks detach and enforcement stops"
                + " (once no running agent holds them). Run it after stopping the service.",
                "Exit status: 0 removed or nothing to remove, 1 failure."})
public final class UnloadCommand implements Callable<Integer> {
    @Option(names = "--pin-path", paramLabel = "DIR", description = "default: enforcement.pin_path of --config, or"
            + " /sys/fs/bpf/agentguard")
    Path pinPath;

    @Option(names = "--config", paramLabel = "FILE", description = "configuration to take the pin path from")
    Path configFile;

    @Override
    public Integer call() {
        Path root = pinPath != null ? pinPath : Path.of((configFile != null ? AgentConfigLoader.load(configFile)
                : AgentConfigLoader.embeddedDefault()).pinPath());
        if (!Files.exists(root)) {
            System.out.println("agentguard: nothing pinned under " + root);
            return 0;
        }
        int removed = new BpfPins(root, BpfObject.embeddedElf()).removeAll();
        System.out.println("agentguard: removed " + removed + " pins under " + root + "; hooks are detached");
        return 0;
    }
}
