package io.agentguard.cli;

import io.agentguard.demo.Demo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** agentguard demo: an agent-like workload caught and stopped, on this machine, on loopback only. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Starts an agent of its own on a fresh sandbox cgroup and runs a scripted agent-like workload in it:"
                + " benign work, a miner (by name, then renamed) talking to a mock pool, a reverse SSH tunnel attempt to a"
                + " mock sshd, a GPU compute context replayed on stand-in devices. Shows live what is seen, blocked and"
                + " reported to a local collector, checks every outcome and removes what it created.",
                "Needs root. Traffic stays on loopback (127.66.x.y stands for outside hosts). Runs beside a running"
                        + " agentguard service without touching it.",
                "Exit status: 0 when every step came out as expected, 1 otherwise."})
public final class DemoCommand implements Callable<Integer> {
    @Option(names = "--all-events", description = "print every event (default: GPU ioctls other than compute contexts,"
            + " and forks, are only counted)")
    boolean allEvents;

    @Option(names = "--work-dir", paramLabel = "DIR", description = "where the demo's scratch files go (default: ${DEFAULT-VALUE})")
    Path workDir = Path.of(System.getProperty("java.io.tmpdir"));

    @Override
    public Integer call() throws Exception {
        return new Demo(System.out, NativeTools.directory(), workDir, allEvents).run() ? 0 : 1;
    }
}
