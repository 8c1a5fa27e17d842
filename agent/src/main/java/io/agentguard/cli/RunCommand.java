package io.agentguard.cli;

import io.agentguard.config.AgentConfig;
import io.agentguard.config.AgentConfigLoader;
import io.agentguard.config.ConfigException;
import io.agentguard.config.ConfigValues;
import io.agentguard.config.OutputFormat;
import io.agentguard.config.SyscallOutcomes;
import io.agentguard.daemon.Agent;
import io.agentguard.output.EventWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.BufferedWriter;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** agentguard run: load the hooks and print every event from the agent cgroups. */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = {"Loads agentguard's BPF programs and prints every exec, fork, exit, connect and NVIDIA device"
                + " call of processes in the agent cgroups, as JSON lines (protobuf JSON mapping of"
                + " agentguard.v1.Event) or readable text. Status goes to stderr. Stop with Ctrl-C or SIGTERM.",
                "Without --config the embedded default is used: agent cgroup agentguard/sandbox, created if missing."})
public final class RunCommand implements Callable<Integer> {
    @Option(names = "--config", paramLabel = "FILE", description = "daemon configuration (YAML); default: embedded")
    Path configFile;

    @Option(names = "--agent-cgroup", paramLabel = "PATH",
            description = "agent cgroup, relative to the cgroup2 mount (repeatable; replaces the configured list)")
    List<String> agentCgroups;

    @Option(names = "--create-cgroups", negatable = true,
            description = "create agent cgroups that do not exist (--no-create-cgroups: fail instead)")
    Boolean createCgroups;

    @Option(names = "--output", paramLabel = "FILE", description = "write events to FILE (appended) instead of stdout")
    String output;

    @Option(names = "--format", paramLabel = "json|text", description = "json (default) or text, one line per event")
    String format;

    @Option(names = "--gpu-standin", paramLabel = "PATH=ROLE",
            description = "treat the character device at PATH as an NVIDIA device; ROLE: control, gpuN, uvm, uvm-tools,"
                    + " modeset (repeatable; for labs and tests without a GPU)")
    List<String> gpuStandins;

    @Option(names = "--max-args-bytes", paramLabel = "N", description = "exec argv bytes kept per event (1..8192)")
    Integer maxArgsBytes;

    @Option(names = "--stats-interval", paramLabel = "SECONDS", description = "print events/lost per second every"
            + " SECONDS to stderr; 0 = never")
    Integer statsIntervalSeconds;

    @Option(names = "--duration", paramLabel = "SECONDS", description = "stop after SECONDS (default: run until stopped)")
    Integer durationSeconds;

    @Option(names = "--syscall-outcomes", paramLabel = "auto|on|off",
            description = "report failed execs and connect() results through syscall exit tracepoints"
                    + " (a small cost to every syscall on the machine); auto: when the NVIDIA ioctl tracepoint"
                    + " is attached anyway")
    String syscallOutcomes;

    @Option(names = "--rules", paramLabel = "FILE", description = "rule file or glob (repeatable; replaces rules.paths)")
    List<String> rules;

    @Option(names = "--default-rules", negatable = true, description = "load the embedded default rule pack"
            + " (--no-default-rules: only the given files)")
    Boolean defaultRules;

    @Option(names = "--events", negatable = true, description = "print every event (--no-events: violations only)")
    Boolean events;

    @Option(names = "--mode", paramLabel = "monitor|enforce", description = "override the configured mode")
    String mode;

    @Option(names = "--pin-path", paramLabel = "DIR", description = "bpffs directory for pins (enforcement.pin_path);"
            + " \"\" = no pinning: enforcement ends with the agent")
    String pinPath;

    @Option(names = "--runtime-dir", paramLabel = "DIR", description = "lock and status socket (runtime_dir)")
    String runtimeDir;

    @Option(names = "--metrics-listen", paramLabel = "HOST:PORT", description = "Prometheus endpoint (metrics.listen);"
            + " \"\" = off")
    String metricsListen;

    @Option(names = "--verbose", description = "echo libbpf's log to stderr")
    boolean verbose;

    @Override
    public Integer call() throws Exception {
        AgentConfig config;
        try {
            config = configFile != null ? AgentConfigLoader.load(configFile) : AgentConfigLoader.embeddedDefault();
        } catch (ConfigException e) {
            System.err.println("agentguard: " + e.getMessage());
            return 2;
        }
        AgentConfig.Builder b = config.toBuilder();
        if (agentCgroups != null) {
            b.agentCgroups(agentCgroups);
        }
        if (createCgroups != null) {
            b.createMissingCgroups(createCgroups);
        }
        if (output != null || format != null) {
            OutputFormat f = config.outputFormat();
            if (format != null) {
                f = ConfigValues.parse(OutputFormat.class, format).orElse(null);
                if (f == null) {
                    System.err.println("agentguard: --format must be json or text, not '" + format + "'");
                    return 2;
                }
            }
            b.output(output != null ? output : config.outputPath(), f);
        }
        if (gpuStandins != null) {
            b.gpuStandins(gpuStandins);
        }
        if (maxArgsBytes != null) {
            if (maxArgsBytes < 1 || maxArgsBytes > AgentConfig.MAX_ARGS_BYTES_CEILING) {
                System.err.println("agentguard: --max-args-bytes must be 1..8192");
                return 2;
            }
            b.maxArgsBytes(maxArgsBytes);
        }
        if (statsIntervalSeconds != null) {
            b.statsIntervalMs(statsIntervalSeconds * 1000L);
        }
        if (syscallOutcomes != null) {
            SyscallOutcomes v = ConfigValues.parse(SyscallOutcomes.class, syscallOutcomes).orElse(null);
            if (v == null) {
                System.err.println("agentguard: --syscall-outcomes must be auto, on or off, not '" + syscallOutcomes + "'");
                return 2;
            }
            b.syscallOutcomes(v);
        }
        if (rules != null) {
            b.rulePaths(rules);
        }
        if (defaultRules != null) {
            b.defaultRulePack(defaultRules);
        }
        if (events != null) {
            b.emitEvents(events);
        }
        if (pinPath != null) {
            b.pinPath(pinPath);
        }
        if (runtimeDir != null) {
            b.runtimeDir(runtimeDir);
        }
        if (metricsListen != null) {
            b.metricsListen(metricsListen);
        }
        if (mode != null) {
            if (!mode.equals("monitor") && !mode.equals("enforce")) {
                System.err.println("agentguard: --mode must be monitor or enforce, not '" + mode + "'");
                return 2;
            }
            b.enforce(mode.equals("enforce"));
        }
        config = b.build();
        io.agentguard.bpf.Libbpf.echoLog(verbose);

        Writer out = config.outputPath().equals("-")
                ? new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8), 1 << 16)
                : openAppend(config.outputPath());
        // priority prefixes only where stdout is the journal: a terminal or a file gets bare lines
        EventWriter writer = new EventWriter(out, config.outputFormat(), 65536,
                config.outputPath().equals("-") && io.agentguard.output.JournalStream.isStdout());
        Agent agent;
        try {
            agent = Agent.start(config, configFile, writer, writer::acceptViolation, io.agentguard.log.Log.stderr());
        } catch (RuntimeException e) {
            writer.close();
            System.err.println("agentguard: cannot start: " + e.getMessage());
            return 1;
        }
        installSighup(agent, configFile);
        Thread shutdown = new Thread(() -> {
            agent.stop();
            System.err.println(agent.summary());
            writer.close();
            agent.close();
        }, "agentguard-shutdown");
        Runtime.getRuntime().addShutdownHook(shutdown);
        if (durationSeconds != null) {
            Thread.sleep(durationSeconds * 1000L);
            Runtime.getRuntime().removeShutdownHook(shutdown);
            shutdown.run();
            return agent.failure() == null ? 0 : 1;
        }
        agent.awaitTermination();
        return agent.failure() == null ? 0 : 1;
    }

    /**
     * SIGHUP (systemctl reload) reloads the rules and, with --config, the file's mode and
     * policies. A file with an error changes nothing and says why.
     */
    @SuppressWarnings("sunapi")
    private static void installSighup(Agent agent, Path configFile) {
        try {
            sun.misc.SignalHandler previous = sun.misc.Signal.handle(new sun.misc.Signal("HUP"), sig -> {
                if (agent.refuseReloadFromAgent()) {
                    return;
                }
                agent.reloadRules("SIGHUP");
                if (configFile != null) {
                    try {
                        agent.reloadPolicies(AgentConfigLoader.load(configFile), "SIGHUP");
                    } catch (ConfigException e) {
                        System.err.println("agentguard: configuration reload failed, keeping the policies in force: "
                                + e.getMessage());
                    }
                }
                agent.checkPaths("reload (SIGHUP)");
            });
            if (previous == sun.misc.SignalHandler.SIG_IGN) {
                // the JVM keeps a signal its parent ignored (nohup) ignored: say so, reloads will not come
                System.err.println("agentguard: SIGHUP was ignored when agentguard started (under nohup?): it will not"
                        + " reload on SIGHUP; rule files are still watched, a restart reloads the configuration");
            }
        } catch (IllegalArgumentException e) {
            System.err.println("agentguard: cannot handle SIGHUP: " + e.getMessage());
        }
    }

    private static Writer openAppend(String path) throws IOException {
        return new BufferedWriter(new OutputStreamWriter(new FileOutputStream(path, true), StandardCharsets.UTF_8), 1 << 16);
    }
}
