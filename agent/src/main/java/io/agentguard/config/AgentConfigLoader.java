package io.agentguard.config;

import io.agentguard.rules.RuleLimits;
import io.agentguard.yaml.BoundedYaml;
import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Reads agentguard.yaml into an {@link AgentConfig}, reporting the first problem as
 * "file:line:col: ..." with what was expected. Unknown keys are errors (with a
 * suggestion), so a typo never silently falls back to a default.
 */
public final class AgentConfigLoader {
    public static final String EMBEDDED_DEFAULT = "/io/agentguard/config/default.yaml";

    private static final Set<String> TOP_KEYS = Set.of("agent_cgroups", "create_missing_cgroups", "output", "exec",
            "ring_buffer", "gpu", "connect", "stats_interval_ms", "syscall_outcomes", "rules", "state", "process_table", "mode", "policies", "enforcement",
            "report", "runtime_dir", "metrics", "posture", "classifier",
            "tunnels", "workload", "jvm", "host_root");
    private static final Map<String, Set<String>> SECTION_KEYS = Map.ofEntries(
            Map.entry("output", Set.of("path", "format", "events")),
            Map.entry("rules", Set.of("default_pack", "paths", "watch_interval_ms", "limits")),
            Map.entry("classifier", Set.of("budget_per_event", "budget_report_interval_ms")),
            Map.entry("state", Set.of("window_ms")),
            Map.entry("process_table", Set.of("capacity")),
            Map.entry("metrics", Set.of("listen")),
            Map.entry("jvm", Set.of("max_heap_mb")),
            Map.entry("report", Set.of("collectors", "node", "tls", "ca", "cert", "key", "spool_dir", "spool_max_bytes", "events",
                    "events_per_second", "evidence_events", "heartbeat_ms", "aggregation_window_ms")),
            Map.entry("enforcement", Set.of("blast_radius_max_targets", "blast_radius_window_ms", "self_protection", "pin_path",
                    "block_duration_ms", "verify_interval_ms")),
            Map.entry("exec", Set.of("max_args_bytes", "recheck_ms", "hash_max_bytes")),
            Map.entry("ring_buffer", Set.of("size_bytes", "wakeup_delay_ms", "records_per_second_per_cgroup",
                    "priority_records_per_second_per_cgroup", "reserved_bytes")),
            Map.entry("gpu", Set.of("standins", "device_rescan_ms")),
            Map.entry("connect", Set.of("outcome_timeout_ms")),
            Map.entry("posture", Set.of("check", "repeat_after_ms", "rescan_interval_ms")),
            Map.entry("tunnels", Set.of("programs", "hold_timeout_ms")),
            Map.entry("workload", Set.of("names", "runtime_sockets", "lookup_timeout_ms", "cache_ttl_ms", "negative_ttl_ms",
                    "cache_entries")));

    /** jvm.max_heap_mb when absent: the daemon's heap is bounded even in a file without the key. */
    public static final int DEFAULT_MAX_HEAP_MB = 256;

    private final String source;
    private final YamlNodes nodes;
    /** jvm.max_heap_mb: read by the launcher before the JVM starts ({@link #maxHeapMb}), not part of AgentConfig. */
    private int maxHeapMb = DEFAULT_MAX_HEAP_MB;

    private AgentConfigLoader(String source) {
        this.source = source;
        this.nodes = new YamlNodes(source);
    }

    public static AgentConfig embeddedDefault() {
        try (InputStream in = AgentConfigLoader.class.getResourceAsStream(EMBEDDED_DEFAULT)) {
            return parse("(embedded default)", new String(in.readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Fixed limits for agentguard.yaml (it cannot configure its own): the packaged file is
     * about 10 KB and 4 levels deep.
     */
    public static final BoundedYaml.Limits LIMITS = new BoundedYaml.Limits(1L << 20, 32, 20, "");

    public static AgentConfig load(Path file) {
        String text;
        try {
            text = BoundedYaml.read(file, LIMITS);
        } catch (BoundedYaml.Problem e) {
            throw new ConfigException(e.where(file.toString()));
        } catch (NoSuchFileException e) {
            throw new ConfigException(file + ": no such file");
        } catch (IOException e) {
            throw new ConfigException(file + ": cannot read: " + e.getMessage());
        }
        return parse(file.toString(), text);
    }

    public static AgentConfig parse(String source, String yaml) {
        return new AgentConfigLoader(source).parse(yaml);
    }

    /** jvm.max_heap_mb of a configuration file (the whole file is checked), or of the embedded default (null). */
    public static int maxHeapMb(Path file) {
        String source = file == null ? "(embedded default)" : file.toString();
        String text;
        if (file == null) {
            try (InputStream in = AgentConfigLoader.class.getResourceAsStream(EMBEDDED_DEFAULT)) {
                text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        } else {
            try {
                text = BoundedYaml.read(file, LIMITS);
            } catch (BoundedYaml.Problem e) {
                throw new ConfigException(e.where(source));
            } catch (IOException e) {
                throw new ConfigException(source + ": cannot read: " + e.getMessage());
            }
        }
        AgentConfigLoader loader = new AgentConfigLoader(source);
        loader.parse(text);
        return loader.maxHeapMb;
    }

    private AgentConfig parse(String yaml) {
        Optional<Node> root;
        try {
            root = BoundedYaml.compose(source, yaml, LIMITS);
        } catch (BoundedYaml.Problem e) {
            throw new ConfigException(e.where(source));
        }
        List<String> cgroups = List.of();
        boolean create = false;
        String outputPath = "-";
        OutputFormat outputFormat = OutputFormat.JSON;
        int maxArgs = 4096;
        int ringBytes = 8 << 20;
        int wakeupDelayMs = 2;
        int recordsPerSecond = AgentConfig.RecordLimits.DEFAULT.recordsPerSecond();
        int priorityPerSecond = AgentConfig.RecordLimits.DEFAULT.priorityPerSecond();
        long reservedBytes = -1;   // default: an eighth of the ring
        Node reservedNode = null;
        long execRecheckMs = 2000;
        long execHashMaxBytes = 256L << 20;
        List<String> standins = List.of();
        long rescanMs = 5000;
        long outcomeTimeoutMs = 3000;
        long statsMs = 10_000;
        SyscallOutcomes syscallOutcomes = SyscallOutcomes.AUTO;
        boolean emitEvents = true;
        boolean defaultPack = true;
        List<String> rulePaths = List.of();
        long ruleWatchMs = 1000;
        long windowMs = 10_000;
        int tableCapacity = 65536;
        boolean enforce = true;
        MappingNode policiesNode = null;
        int blastMax = 5;
        long blastWindowMs = 60_000;
        boolean selfProtection = true;
        boolean postureCheck = AgentConfig.Posture.DEFAULT.check();
        long postureRepeatMs = AgentConfig.Posture.DEFAULT.repeatAfterMs();
        long postureRescanMs = AgentConfig.Posture.DEFAULT.rescanIntervalMs();
        String pinPath = "/sys/fs/bpf/agentguard";
        List<String> tunnelPrograms = AgentConfig.Tunnels.DEFAULT.programs();
        long holdTimeoutMs = AgentConfig.Tunnels.DEFAULT.holdTimeoutMs();
        long blockMs = 600_000;
        long verifyMs = 2000;
        List<String> collectors = List.of();
        String node = "";
        TlsMode tlsMode = TlsMode.TLS;
        String ca = "";
        String cert = "";
        String keyFile = "";
        String spoolDir = "/var/lib/agentguard/spool";
        long spoolMax = 1L << 30;
        boolean reportEvents = false;
        long eventsPerSecond = 1000;
        int evidence = 8;
        long heartbeatMs = 10_000;
        long aggregationWindowMs = AgentConfig.DEFAULT_AGGREGATION_WINDOW_MS;
        Node reportNode = null;
        String runtimeDir = "/run/agentguard";
        // the container image sets the environment (/proc/1/root); a file's host_root wins over it
        String hostRoot = System.getenv().getOrDefault(io.agentguard.process.HostRoot.ENV, "/");
        Node hostRootNode = null;
        String metricsListen = "127.0.0.1:9464";
        RuleLimits ruleLimits = RuleLimits.DEFAULT;
        long budgetPerEvent = AgentConfig.Classification.DEFAULT.budgetPerEvent();
        long budgetReportMs = AgentConfig.Classification.DEFAULT.budgetReportIntervalMs();
        AgentConfig.RuntimeLookup names = AgentConfig.RuntimeLookup.DEFAULT;
        boolean namesEnabled = names.enabled();
        Map<String, String> runtimeSockets = names.sockets();
        long lookupTimeoutMs = names.lookupTimeoutMs();
        long namesTtlMs = names.cacheTtlMs();
        long namesNegativeTtlMs = names.negativeTtlMs();
        int namesEntries = names.cacheEntries();
        if (root.isEmpty()) {
            throw new ConfigException(source + ": empty configuration: at least agent_cgroups is needed");
        }
        MappingNode top = nodes.mapping(root.get(), "the configuration");
        for (NodeTuple t : top.getValue()) {
            String key = nodes.key(t, TOP_KEYS);
            Node v = t.getValueNode();
            switch (key) {
                case "agent_cgroups" -> cgroups = agentCgroups(v, key);
                case "create_missing_cgroups" -> create = nodes.bool(v, key);
                case "stats_interval_ms" -> statsMs = nodes.integer(v, key, 0, 86_400_000L);
                case "syscall_outcomes" -> syscallOutcomes = nodes.oneOf(v, key, SyscallOutcomes.class);
                case "runtime_dir" -> runtimeDir = nodes.string(v, key);
                case "host_root" -> {
                    hostRoot = nodes.string(v, key);
                    hostRootNode = v;
                }
                case "mode" -> enforce = nodes.oneOf(v, key, "monitor", "enforce").equals("enforce");
                case "policies" -> policiesNode = nodes.mapping(v, key);
                default -> {
                    MappingNode section = nodes.mapping(v, key);
                    for (NodeTuple s : section.getValue()) {
                        String sub = nodes.key(s, SECTION_KEYS.get(key));
                        String name = key + "." + sub;
                        Node sv = s.getValueNode();
                        switch (name) {
                            case "output.path" -> outputPath = nodes.string(sv, name);
                            case "output.format" -> outputFormat = nodes.oneOf(sv, name, OutputFormat.class);
                            case "output.events" -> emitEvents = nodes.bool(sv, name);
                            case "rules.default_pack" -> defaultPack = nodes.bool(sv, name);
                            case "rules.paths" -> rulePaths = nodes.strings(sv, name);
                            case "rules.watch_interval_ms" -> ruleWatchMs = nodes.integer(sv, name, 0, 3_600_000);
                            case "rules.limits" -> ruleLimits = ruleLimits(nodes.mapping(sv, name));
                            case "classifier.budget_per_event" -> budgetPerEvent = nodes.integer(sv, name, 1000, 1L << 40);
                            case "classifier.budget_report_interval_ms" ->
                                    budgetReportMs = nodes.integer(sv, name, 0, 3_600_000);
                            case "state.window_ms" -> windowMs = nodes.integer(sv, name, 100, 3_600_000);
                            case "process_table.capacity" -> tableCapacity = (int) nodes.integer(sv, name, 64, 4_194_304);
                            case "enforcement.blast_radius_max_targets" -> blastMax = (int) nodes.integer(sv, name, 1, 1_000_000);
                            case "enforcement.blast_radius_window_ms" -> blastWindowMs = nodes.integer(sv, name, 1, 86_400_000);
                            case "enforcement.self_protection" -> selfProtection = nodes.bool(sv, name);
                            case "enforcement.pin_path" -> pinPath = sv instanceof ScalarNode sc && sc.getValue().isEmpty()
                                    ? "" : nodes.string(sv, name);   // "" = no pinning
                            case "enforcement.block_duration_ms" -> blockMs = nodes.integer(sv, name, 1000, 86_400_000L * 7);
                            case "enforcement.verify_interval_ms" -> {
                                verifyMs = nodes.integer(sv, name, 0, 3_600_000);
                                if (verifyMs > 0 && verifyMs < 100) {
                                    throw new ConfigException(nodes.where(sv) + name + ": " + verifyMs
                                            + " ms is too short (each check walks every link, pin and policy entry);"
                                            + " use 100 or more, or 0 to turn the checks off");
                                }
                            }
                            case "report.collectors" -> {
                                collectors = nodes.strings(sv, name);
                                reportNode = sv;
                                for (String c : collectors) {
                                    if (!c.matches("[^\\s]+:[0-9]{1,5}")) {
                                        throw new ConfigException(nodes.where(sv) + name + ": '" + c + "' is not HOST:PORT");
                                    }
                                }
                            }
                            case "report.node" -> node = nodes.string(sv, name);
                            case "jvm.max_heap_mb" -> maxHeapMb = (int) nodes.integer(sv, name, 32, 65_536);
                            case "metrics.listen" -> {
                                metricsListen = sv instanceof ScalarNode sc && sc.getValue().isEmpty() ? "" : nodes.string(sv, name);
                                if (!metricsListen.isEmpty() && !metricsListen.matches("[^\\s]+:[0-9]{1,5}")) {
                                    throw new ConfigException(nodes.where(sv) + name + ": '" + metricsListen + "' is not HOST:PORT");
                                }
                            }
                            case "report.tls" -> tlsMode = nodes.oneOf(sv, name, TlsMode.class);
                            case "report.ca" -> ca = nodes.string(sv, name);
                            case "report.cert" -> cert = nodes.string(sv, name);
                            case "report.key" -> keyFile = nodes.string(sv, name);
                            case "report.spool_dir" -> spoolDir = nodes.string(sv, name);
                            case "report.spool_max_bytes" -> spoolMax = nodes.integer(sv, name, 1 << 20, 1L << 40);
                            case "report.events" -> reportEvents = nodes.bool(sv, name);
                            case "report.events_per_second" -> eventsPerSecond = nodes.integer(sv, name, 1, 1_000_000);
                            case "report.evidence_events" -> evidence = (int) nodes.integer(sv, name, 0, 64);
                            case "report.heartbeat_ms" -> heartbeatMs = nodes.integer(sv, name, 100, 3_600_000);
                            case "report.aggregation_window_ms" ->
                                    aggregationWindowMs = nodes.integer(sv, name, 0, 3_600_000);
                            case "exec.max_args_bytes" -> maxArgs = (int) nodes.integer(sv, name, 1, AgentConfig.MAX_ARGS_BYTES_CEILING);
                            case "exec.recheck_ms" -> execRecheckMs = nodes.integer(sv, name, 100, 3_600_000);
                            case "exec.hash_max_bytes" -> execHashMaxBytes = nodes.integer(sv, name, 0, 1L << 40);
                            case "ring_buffer.size_bytes" -> {
                                long size = nodes.integer(sv, name, 4096, 1L << 30);
                                if (Long.bitCount(size) != 1) {
                                    throw new ConfigException(nodes.where(sv) + name + ": " + size + " is not a power of two");
                                }
                                ringBytes = (int) size;
                            }
                            case "ring_buffer.wakeup_delay_ms" -> wakeupDelayMs = (int) nodes.integer(sv, name, 0, 1000);
                            case "ring_buffer.records_per_second_per_cgroup" ->
                                    recordsPerSecond = (int) nodes.integer(sv, name, 0, 100_000_000);
                            case "ring_buffer.priority_records_per_second_per_cgroup" ->
                                    priorityPerSecond = (int) nodes.integer(sv, name, 0, 100_000_000);
                            case "ring_buffer.reserved_bytes" -> {
                                reservedBytes = nodes.integer(sv, name, 0, 1L << 29);
                                reservedNode = sv;
                            }
                            case "gpu.standins" -> standins = nodes.strings(sv, name);
                            case "gpu.device_rescan_ms" -> rescanMs = nodes.integer(sv, name, 100, 3_600_000);
                            case "connect.outcome_timeout_ms" -> outcomeTimeoutMs = nodes.integer(sv, name, 1, 600_000);
                            case "posture.check" -> postureCheck = nodes.bool(sv, name);
                            case "posture.repeat_after_ms" -> postureRepeatMs = nodes.integer(sv, name, 1000, 86_400_000L * 7);
                            case "posture.rescan_interval_ms" -> postureRescanMs = nodes.integer(sv, name, 0, 86_400_000L);
                            case "tunnels.programs" -> tunnelPrograms = tunnelPrograms(sv, name);
                            case "tunnels.hold_timeout_ms" -> holdTimeoutMs = nodes.integer(sv, name, 10, 10_000);
                            case "workload.names" -> namesEnabled = nodes.bool(sv, name);
                            case "workload.runtime_sockets" -> runtimeSockets = runtimeSockets(nodes.mapping(sv, name), name);
                            case "workload.lookup_timeout_ms" -> lookupTimeoutMs = nodes.integer(sv, name, 10, 10_000);
                            case "workload.cache_ttl_ms" -> namesTtlMs = nodes.integer(sv, name, 1000, 86_400_000L);
                            case "workload.negative_ttl_ms" -> namesNegativeTtlMs = nodes.integer(sv, name, 0, 3_600_000);
                            case "workload.cache_entries" -> namesEntries = (int) nodes.integer(sv, name, 16, 1_000_000);
                            default -> throw new AssertionError(name);
                        }
                    }
                }
            }
        }
        if (cgroups.isEmpty()) {
            throw new ConfigException(nodes.where(top) + "agent_cgroups: at least one agent cgroup is needed");
        }
        if (reservedBytes > ringBytes / 2) {
            throw new ConfigException(nodes.where(reservedNode) + "ring_buffer.reserved_bytes: " + reservedBytes
                    + " is more than half the ring (" + ringBytes + " bytes): ordinary records would hardly fit");
        }
        io.agentguard.process.HostRoot host = hostRoot(hostRoot, hostRootNode);
        PolicyParser.Parsed policies = new PolicyParser(nodes, host).parse(policiesNode);
        Policy defaultPolicy = policies.defaultPolicy();
        List<Policy> cgroupPolicies = policies.cgroupPolicies();
        return new AgentConfig(cgroups, create, outputPath, outputFormat, maxArgs, ringBytes, standins, rescanMs,
                outcomeTimeoutMs, statsMs, syscallOutcomes, emitEvents, defaultPack, rulePaths, ruleWatchMs, windowMs,
                tableCapacity, enforce, defaultPolicy, cgroupPolicies, blastMax, blastWindowMs, selfProtection, pinPath,
                blockMs, report(collectors, node, tlsMode, ca, cert, keyFile, spoolDir, spoolMax, reportEvents,
                        eventsPerSecond, evidence, heartbeatMs, reportNode), runtimeDir, metricsListen, wakeupDelayMs,
                new AgentConfig.RecordLimits(recordsPerSecond, priorityPerSecond, (int) reservedBytes),
                execRecheckMs, execHashMaxBytes, verifyMs, new AgentConfig.Posture(postureCheck, postureRepeatMs, postureRescanMs),
                new AgentConfig.Classification(ruleLimits, budgetPerEvent, budgetReportMs), aggregationWindowMs,
                new AgentConfig.Tunnels(tunnelPrograms, holdTimeoutMs),
                new AgentConfig.RuntimeLookup(namesEnabled, runtimeSockets, lookupTimeoutMs, namesTtlMs, namesNegativeTtlMs,
                        namesEntries), host);
    }

    /** host_root: an absolute path of a directory (the daemon looks up the host's programs under it). */
    private io.agentguard.process.HostRoot hostRoot(String dir, Node where) {
        String from = where != null ? nodes.where(where) + "host_root" : source + ": " + io.agentguard.process.HostRoot.ENV
                + " (the environment, as host_root)";
        if (!dir.startsWith("/")) {
            throw new ConfigException(from + ": '" + dir + "' is not an absolute path");
        }
        if (!java.nio.file.Files.isDirectory(java.nio.file.Path.of(dir))) {
            throw new ConfigException(from + ": '" + dir + "' is not a directory (the host's root as this process"
                    + " reaches it: / , or /proc/1/root in a container with the host's PID namespace)");
        }
        return io.agentguard.process.HostRoot.of(dir);
    }

    /**
     * workload.runtime_sockets: runtime to socket path, each key optional (the others keep their
     * standard paths); "" = that runtime is not asked.
     */
    private Map<String, String> runtimeSockets(MappingNode m, String name) {
        Map<String, String> sockets = new java.util.LinkedHashMap<>(AgentConfig.RuntimeLookup.DEFAULT_SOCKETS);
        for (NodeTuple t : m.getValue()) {
            String runtime = nodes.key(t, AgentConfig.RuntimeLookup.DEFAULT_SOCKETS.keySet());
            Node v = t.getValueNode();
            String path = v instanceof ScalarNode sc && sc.getValue().isEmpty() ? "" : nodes.string(v, name + "." + runtime);
            if (!path.isEmpty() && !path.startsWith("/")) {
                throw new ConfigException(nodes.where(v) + name + "." + runtime + ": '" + path
                        + "' is not an absolute path (the runtime's Unix socket, or \"\" to not ask it)");
            }
            sockets.put(runtime, path);
        }
        return sockets;
    }

    /** tunnels.programs: names (a program's file name, as comm: at most 15 bytes) or absolute paths. */
    private List<String> tunnelPrograms(Node v, String name) {
        List<String> programs = nodes.strings(v, name);
        for (String p : programs) {
            if (p.isEmpty() || p.contains("/") && (!p.startsWith("/") || p.endsWith("/") || p.length() > 255)) {
                throw new ConfigException(nodes.where(v) + name + ": '" + p + "' is neither a program name (no '/')"
                        + " nor an absolute path of a file (at most 255 bytes)");
            }
            if (!p.contains("/") && p.getBytes(StandardCharsets.UTF_8).length > 15) {
                throw new ConfigException(nodes.where(v) + name + ": '" + p + "' is longer than 15 bytes; the kernel"
                        + " names a program by the first 15 bytes of its file name: give the path instead");
            }
        }
        return programs;
    }

    private static final Set<String> RULE_LIMIT_KEYS = Set.of("file_bytes", "yaml_depth", "yaml_aliases", "list_items",
            "condition_depth", "compiled_size");

    /** rules.limits: each key optional, the others keep their defaults. */
    private RuleLimits ruleLimits(MappingNode m) {
        RuleLimits d = RuleLimits.DEFAULT;
        long fileBytes = d.fileBytes();
        int yamlDepth = d.yamlDepth();
        int yamlAliases = d.yamlAliases();
        int listItems = d.listItems();
        int conditionDepth = d.conditionDepth();
        int compiledSize = d.compiledSize();
        for (NodeTuple t : m.getValue()) {
            String key = nodes.key(t, RULE_LIMIT_KEYS);
            String name = "rules.limits." + key;
            Node v = t.getValueNode();
            switch (key) {
                case "file_bytes" -> fileBytes = nodes.integer(v, name, 1024, 1L << 30);
                case "yaml_depth" -> yamlDepth = (int) nodes.integer(v, name, 8, 1000);   // each level is a stack frame
                case "yaml_aliases" -> yamlAliases = (int) nodes.integer(v, name, 0, 100_000);
                case "list_items" -> listItems = (int) nodes.integer(v, name, 1, 100_000_000);
                case "condition_depth" -> conditionDepth = (int) nodes.integer(v, name, 8, 1000);
                case "compiled_size" -> compiledSize = (int) nodes.integer(v, name, 1000, 1_000_000_000);
                default -> throw new AssertionError(key);
            }
        }
        return new RuleLimits(fileBytes, yamlDepth, yamlAliases, listItems, conditionDepth, compiledSize);
    }

    private AgentConfig.Report report(List<String> collectors, String node, TlsMode tlsMode, String ca, String cert,
                                      String key, String spoolDir, long spoolMax, boolean events, long eventsPerSecond,
                                      int evidence, long heartbeatMs, Node at) {
        if (collectors.isEmpty()) {
            return null;
        }
        if (tlsMode == TlsMode.MTLS && (cert.isEmpty() || key.isEmpty())) {
            throw new ConfigException(nodes.where(at) + "report: tls mtls needs cert and key (the node's client certificate)");
        }
        for (String f : List.of(ca, cert, key)) {
            if (!f.isEmpty() && !java.nio.file.Files.isReadable(java.nio.file.Path.of(f))) {
                throw new ConfigException(nodes.where(at) + "report: cannot read '" + f + "'");
            }
        }
        if (node.isEmpty()) {
            try {
                node = java.net.InetAddress.getLocalHost().getHostName();
            } catch (java.net.UnknownHostException e) {
                node = System.getenv().getOrDefault("HOSTNAME", "unknown");
            }
        }
        return new AgentConfig.Report(collectors, node, tlsMode, ca, cert, key, spoolDir, spoolMax, events,
                eventsPerSecond, evidence, heartbeatMs);
    }


    /**
     * agent_cgroups: fixed paths and patterns ('*', '?'); an invalid pattern is an error at its
     * offending character, and no more patterns than the kernel's pattern map holds.
     */
    private List<String> agentCgroups(Node v, String key) {
        List<String> entries = nodes.strings(v, key);
        int patterns = 0;
        for (Node item : ((org.snakeyaml.engine.v2.nodes.SequenceNode) v).getValue()) {
            ScalarNode s = (ScalarNode) item;
            String entry = s.getValue();
            try {
                io.agentguard.scope.CgroupPattern.validate(entry);
            } catch (io.agentguard.scope.CgroupPattern.Invalid e) {
                throw new ConfigException(nodes.whereInScalar(s, e.index()) + key + ": '" + entry + "': " + e.getMessage());
            }
            if (io.agentguard.scope.CgroupPattern.isPattern(entry)
                    && ++patterns > io.agentguard.abi.KernelAbi.AG_SCOPE_PATTERNS) {
                throw new ConfigException(nodes.where(s) + key + ": more than " + io.agentguard.abi.KernelAbi.AG_SCOPE_PATTERNS
                        + " patterns (the kernel's pattern map holds that many)");
            }
        }
        return entries;
    }
}
