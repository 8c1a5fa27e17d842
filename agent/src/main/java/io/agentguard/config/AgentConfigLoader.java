package io.agentguard.config;

import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.api.lowlevel.Compose;
import org.snakeyaml.engine.v2.exceptions.Mark;
import org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException;
import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.SequenceNode;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
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
            "report", "runtime_dir", "metrics");
    private static final Map<String, Set<String>> SECTION_KEYS = Map.ofEntries(
            Map.entry("output", Set.of("path", "format", "events")),
            Map.entry("rules", Set.of("default_pack", "paths", "watch_interval_ms")),
            Map.entry("state", Set.of("window_ms")),
            Map.entry("process_table", Set.of("capacity")),
            Map.entry("metrics", Set.of("listen")),
            Map.entry("report", Set.of("collectors", "node", "tls", "ca", "cert", "key", "spool_dir", "spool_max_bytes", "events",
                    "events_per_second", "evidence_events", "heartbeat_ms")),
            Map.entry("enforcement", Set.of("blast_radius_max_targets", "blast_radius_window_ms", "self_protection", "pin_path",
                    "block_duration_ms")),
            Map.entry("exec", Set.of("max_args_bytes")),
            Map.entry("ring_buffer", Set.of("size_bytes", "wakeup_delay_ms")),
            Map.entry("gpu", Set.of("standins", "device_rescan_ms")),
            Map.entry("connect", Set.of("outcome_timeout_ms")));

    private final String source;

    private AgentConfigLoader(String source) {
        this.source = source;
    }

    public static AgentConfig embeddedDefault() {
        try (InputStream in = AgentConfigLoader.class.getResourceAsStream(EMBEDDED_DEFAULT)) {
            return parse("(embedded default)", new String(in.readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static AgentConfig load(Path file) {
        String text;
        try {
            text = Files.readString(file);
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

    private AgentConfig parse(String yaml) {
        Optional<Node> root;
        try {
            root = new Compose(LoadSettings.builder().setLabel(source).build()).composeString(yaml);
        } catch (MarkedYamlEngineException e) {
            Mark mark = e.getProblemMark().orElse(null);
            throw new ConfigException(where(mark) + "YAML syntax error: " + e.getProblem());
        }
        List<String> cgroups = List.of();
        boolean create = false;
        String outputPath = "-";
        OutputFormat outputFormat = OutputFormat.JSON;
        int maxArgs = 4096;
        int ringBytes = 8 << 20;
        int wakeupDelayMs = 2;
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
        String pinPath = "/sys/fs/bpf/agentguard";
        long blockMs = 600_000;
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
        Node reportNode = null;
        String runtimeDir = "/run/agentguard";
        String metricsListen = "127.0.0.1:9464";
        if (root.isEmpty()) {
            throw new ConfigException(source + ": empty configuration: at least agent_cgroups is needed");
        }
        MappingNode top = mapping(root.get(), "the configuration");
        for (NodeTuple t : top.getValue()) {
            String key = key(t, TOP_KEYS);
            Node v = t.getValueNode();
            switch (key) {
                case "agent_cgroups" -> cgroups = strings(v, key);
                case "create_missing_cgroups" -> create = bool(v, key);
                case "stats_interval_ms" -> statsMs = integer(v, key, 0, 86_400_000L);
                case "syscall_outcomes" -> syscallOutcomes = oneOf(v, key, SyscallOutcomes.class);
                case "runtime_dir" -> runtimeDir = string(v, key);
                case "mode" -> enforce = oneOf(v, key, "monitor", "enforce").equals("enforce");
                case "policies" -> policiesNode = mapping(v, key);
                default -> {
                    MappingNode section = mapping(v, key);
                    for (NodeTuple s : section.getValue()) {
                        String sub = key(s, SECTION_KEYS.get(key));
                        String name = key + "." + sub;
                        Node sv = s.getValueNode();
                        switch (name) {
                            case "output.path" -> outputPath = string(sv, name);
                            case "output.format" -> outputFormat = oneOf(sv, name, OutputFormat.class);
                            case "output.events" -> emitEvents = bool(sv, name);
                            case "rules.default_pack" -> defaultPack = bool(sv, name);
                            case "rules.paths" -> rulePaths = strings(sv, name);
                            case "rules.watch_interval_ms" -> ruleWatchMs = integer(sv, name, 0, 3_600_000);
                            case "state.window_ms" -> windowMs = integer(sv, name, 100, 3_600_000);
                            case "process_table.capacity" -> tableCapacity = (int) integer(sv, name, 64, 4_194_304);
                            case "enforcement.blast_radius_max_targets" -> blastMax = (int) integer(sv, name, 1, 1_000_000);
                            case "enforcement.blast_radius_window_ms" -> blastWindowMs = integer(sv, name, 1, 86_400_000);
                            case "enforcement.self_protection" -> selfProtection = bool(sv, name);
                            case "enforcement.pin_path" -> pinPath = sv instanceof ScalarNode sc && sc.getValue().isEmpty()
                                    ? "" : string(sv, name);   // "" = no pinning
                            case "enforcement.block_duration_ms" -> blockMs = integer(sv, name, 1000, 86_400_000L * 7);
                            case "report.collectors" -> {
                                collectors = strings(sv, name);
                                reportNode = sv;
                                for (String c : collectors) {
                                    if (!c.matches("[^\\s]+:[0-9]{1,5}")) {
                                        throw new ConfigException(where(sv) + name + ": '" + c + "' is not HOST:PORT");
                                    }
                                }
                            }
                            case "report.node" -> node = string(sv, name);
                            case "metrics.listen" -> {
                                metricsListen = sv instanceof ScalarNode sc && sc.getValue().isEmpty() ? "" : string(sv, name);
                                if (!metricsListen.isEmpty() && !metricsListen.matches("[^\\s]+:[0-9]{1,5}")) {
                                    throw new ConfigException(where(sv) + name + ": '" + metricsListen + "' is not HOST:PORT");
                                }
                            }
                            case "report.tls" -> tlsMode = oneOf(sv, name, TlsMode.class);
                            case "report.ca" -> ca = string(sv, name);
                            case "report.cert" -> cert = string(sv, name);
                            case "report.key" -> keyFile = string(sv, name);
                            case "report.spool_dir" -> spoolDir = string(sv, name);
                            case "report.spool_max_bytes" -> spoolMax = integer(sv, name, 1 << 20, 1L << 40);
                            case "report.events" -> reportEvents = bool(sv, name);
                            case "report.events_per_second" -> eventsPerSecond = integer(sv, name, 1, 1_000_000);
                            case "report.evidence_events" -> evidence = (int) integer(sv, name, 0, 64);
                            case "report.heartbeat_ms" -> heartbeatMs = integer(sv, name, 100, 3_600_000);
                            case "exec.max_args_bytes" -> maxArgs = (int) integer(sv, name, 1, AgentConfig.MAX_ARGS_BYTES_CEILING);
                            case "ring_buffer.size_bytes" -> {
                                long size = integer(sv, name, 4096, 1L << 30);
                                if (Long.bitCount(size) != 1) {
                                    throw new ConfigException(where(sv) + name + ": " + size + " is not a power of two");
                                }
                                ringBytes = (int) size;
                            }
                            case "ring_buffer.wakeup_delay_ms" -> wakeupDelayMs = (int) integer(sv, name, 0, 1000);
                            case "gpu.standins" -> standins = strings(sv, name);
                            case "gpu.device_rescan_ms" -> rescanMs = integer(sv, name, 100, 3_600_000);
                            case "connect.outcome_timeout_ms" -> outcomeTimeoutMs = integer(sv, name, 1, 600_000);
                            default -> throw new AssertionError(name);
                        }
                    }
                }
            }
        }
        if (cgroups.isEmpty()) {
            throw new ConfigException(where(top) + "agent_cgroups: at least one agent cgroup is needed");
        }
        Policy defaultPolicy = Policies.SAFE_DEFAULT;
        List<Policy> cgroupPolicies = new ArrayList<>();
        if (policiesNode != null) {
            for (NodeTuple t : policiesNode.getValue()) {
                String k = key(t, Set.of("default", "cgroups"));
                if (k.equals("default")) {
                    defaultPolicy = policy(mapping(t.getValueNode(), "policies.default"), "", Policies.SAFE_DEFAULT);
                }
            }
            for (NodeTuple t : policiesNode.getValue()) {
                if (((ScalarNode) t.getKeyNode()).getValue().equals("cgroups")) {
                    if (!(t.getValueNode() instanceof SequenceNode seq)) {
                        throw new ConfigException(where(t.getValueNode()) + "policies.cgroups: expected a list of policies");
                    }
                    for (Node item : seq.getValue()) {
                        MappingNode m = mapping(item, "policies.cgroups item");
                        Node cg = m.getValue().stream().filter(x -> ((ScalarNode) x.getKeyNode()).getValue().equals("cgroup"))
                                .map(NodeTuple::getValueNode).findFirst()
                                .orElseThrow(() -> new ConfigException(where(m) + "a cgroup policy needs 'cgroup'"));
                        String path = string(cg, "cgroup").replaceAll("^/+|/+$", "");
                        if (cgroupPolicies.stream().anyMatch(p -> p.cgroup().equals(path))) {
                            throw new ConfigException(where(cg) + "cgroup '" + path + "' has a policy already");
                        }
                        cgroupPolicies.add(policy(m, path, defaultPolicy));
                    }
                }
            }
            if (cgroupPolicies.size() > Policies.MAX_CGROUP_POLICIES) {
                throw new ConfigException(source + ": at most " + Policies.MAX_CGROUP_POLICIES + " cgroup policies");
            }
        }
        return new AgentConfig(cgroups, create, outputPath, outputFormat, maxArgs, ringBytes, standins, rescanMs,
                outcomeTimeoutMs, statsMs, syscallOutcomes, emitEvents, defaultPack, rulePaths, ruleWatchMs, windowMs,
                tableCapacity, enforce, defaultPolicy, cgroupPolicies, blastMax, blastWindowMs, selfProtection, pinPath,
                blockMs, report(collectors, node, tlsMode, ca, cert, keyFile, spoolDir, spoolMax, reportEvents,
                        eventsPerSecond, evidence, heartbeatMs, reportNode), runtimeDir, metricsListen, wakeupDelayMs);
    }

    private AgentConfig.Report report(List<String> collectors, String node, TlsMode tlsMode, String ca, String cert,
                                      String key, String spoolDir, long spoolMax, boolean events, long eventsPerSecond,
                                      int evidence, long heartbeatMs, Node at) {
        if (collectors.isEmpty()) {
            return null;
        }
        if (tlsMode == TlsMode.MTLS && (cert.isEmpty() || key.isEmpty())) {
            throw new ConfigException(where(at) + "report: tls mtls needs cert and key (the node's client certificate)");
        }
        for (String f : List.of(ca, cert, key)) {
            if (!f.isEmpty() && !java.nio.file.Files.isReadable(java.nio.file.Path.of(f))) {
                throw new ConfigException(where(at) + "report: cannot read '" + f + "'");
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

    private Policy policy(MappingNode m, String cgroup, Policy base) {
        Boolean mode = base.cgroup().isEmpty() && !cgroup.isEmpty() ? base.enforce() : base.enforce();
        boolean egressDeny = base.egressDefaultDeny();
        List<Policy.EgressEntry> egress = base.egress();
        boolean gpuAll = base.gpuAll();
        long gpuAllowed = base.gpuAllowed();
        boolean compute = base.computeAllowed();
        List<String> computeExes = base.computeExecutables();
        List<String> denyNames = base.execDenyNames();
        List<String> denyPaths = base.execDenyPaths();
        for (NodeTuple t : m.getValue()) {
            String k = key(t, Set.of("cgroup", "mode", "egress", "gpu", "exec"));
            Node v = t.getValueNode();
            switch (k) {
                case "cgroup" -> {
                }
                case "mode" -> mode = oneOf(v, "mode", "monitor", "enforce").equals("enforce");
                case "egress" -> {
                    egress = new ArrayList<>();
                    egressDeny = false;
                    for (NodeTuple e : mapping(v, "egress").getValue()) {
                        String ek = key(e, Set.of("default", "allow", "deny"));
                        switch (ek) {
                            case "default" -> egressDeny = oneOf(e.getValueNode(), "egress.default", "allow", "deny")
                                    .equals("deny");
                            default -> {
                                if (!(e.getValueNode() instanceof SequenceNode seq)) {
                                    throw new ConfigException(where(e.getValueNode()) + "egress." + ek
                                            + ": expected a list of \"CIDR [tcp|udp][/PORT[-PORT]]\"");
                                }
                                for (Node entry : seq.getValue()) {
                                    egress.add(egressEntry(entry, ek.equals("allow")));
                                }
                            }
                        }
                    }
                    checkContradictions(egress, v);
                }
                case "gpu" -> {
                    for (NodeTuple g : mapping(v, "gpu").getValue()) {
                        String gk = key(g, Set.of("devices", "compute", "compute_executables"));
                        Node gv = g.getValueNode();
                        switch (gk) {
                            case "devices" -> {
                                gpuAll = false;
                                gpuAllowed = 0;
                                if (gv instanceof ScalarNode s && s.getValue().equals("all")) {
                                    gpuAll = true;
                                } else if (gv instanceof ScalarNode s && s.getValue().equals("none")) {
                                    gpuAllowed = 0;
                                } else if (gv instanceof SequenceNode seq) {
                                    for (Node d : seq.getValue()) {
                                        long index = integer(d, "gpu.devices item", 0, 63);
                                        gpuAllowed |= 1L << index;
                                    }
                                } else {
                                    throw new ConfigException(where(gv) + "gpu.devices: expected none, all, or a list of"
                                            + " GPU indexes (0..63)");
                                }
                            }
                            case "compute" -> compute = bool(gv, "gpu.compute");
                            default -> {
                                computeExes = strings(gv, "gpu.compute_executables");
                                for (int i = 0; i < computeExes.size(); i++) {
                                    java.nio.file.Path exe = java.nio.file.Path.of(computeExes.get(i));
                                    if (!exe.isAbsolute() || !java.nio.file.Files.isRegularFile(exe)) {
                                        throw new ConfigException(where(((SequenceNode) gv).getValue().get(i))
                                                + "gpu.compute_executables: '" + exe + "' is not an existing file"
                                                + " (absolute path; it is identified by its inode)");
                                    }
                                }
                            }
                        }
                    }
                }
                default -> {
                    for (NodeTuple x : mapping(v, "exec").getValue()) {
                        key(x, Set.of("deny"));
                        List<String> deny = strings(x.getValueNode(), "exec.deny");
                        denyNames = deny.stream().filter(d -> !d.contains("/")).toList();
                        denyPaths = deny.stream().filter(d -> d.contains("/")).toList();
                        for (String d : denyPaths) {
                            if (!d.startsWith("/") || d.length() > 255) {
                                throw new ConfigException(where(x.getValueNode()) + "exec.deny: '" + d
                                        + "' is neither a name (no '/') nor an absolute path of at most 255 bytes");
                            }
                        }
                    }
                }
            }
        }
        return new Policy(cgroup, mode, egressDeny, egress, gpuAll, gpuAllowed, compute, computeExes, denyNames, denyPaths);
    }

    /** "CIDR", "CIDR tcp", "CIDR 22", "CIDR tcp/22", "CIDR udp/1000-2000". */
    private Policy.EgressEntry egressEntry(Node n, boolean allow) {
        String text = string(n, "egress entry").trim();
        String[] parts = text.split("\\s+");
        if (parts.length > 2) {
            throw new ConfigException(where(n) + "egress entry '" + text + "': expected \"CIDR [tcp|udp][/PORT[-PORT]]\"");
        }
        long[] range;
        int prefix;
        try {
            range = Policies.parseCidr(parts[0]);
            prefix = Policies.prefixBits(parts[0]);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(where(n) + "invalid CIDR '" + parts[0] + "' (" + e.getMessage() + ")");
        }
        int protocol = 0;
        int lo = 0;
        int hi = 65535;
        if (parts.length == 2) {
            String spec = parts[1];
            String ports = spec;
            if (spec.startsWith("tcp") || spec.startsWith("udp")) {
                protocol = spec.startsWith("tcp") ? 6 : 17;
                ports = spec.length() > 3 && spec.charAt(3) == '/' ? spec.substring(4) : spec.length() == 3 ? "" : null;
            }
            if (ports == null) {
                throw new ConfigException(where(n) + "egress entry '" + text + "': bad protocol/port '" + spec + "'");
            }
            if (!ports.isEmpty()) {
                try {
                    String[] r = ports.split("-", 2);
                    lo = Integer.parseInt(r[0]);
                    hi = r.length == 2 ? Integer.parseInt(r[1]) : lo;
                } catch (NumberFormatException e) {
                    throw new ConfigException(where(n) + "egress entry '" + text + "': bad port '" + ports + "'");
                }
                if (lo < 0 || hi > 65535 || lo > hi) {
                    throw new ConfigException(where(n) + "egress entry '" + text + "': ports must be 0..65535, low <= high");
                }
            }
        }
        return new Policy.EgressEntry(allow, text, range, prefix, protocol, lo, hi);
    }

    private void checkContradictions(List<Policy.EgressEntry> entries, Node at) {
        for (int i = 0; i < entries.size(); i++) {
            for (int j = i + 1; j < entries.size(); j++) {
                Policy.EgressEntry a = entries.get(i);
                Policy.EgressEntry b = entries.get(j);
                if (a.allow() != b.allow() && java.util.Arrays.equals(a.range(), b.range()) && a.overlaps(b)) {
                    throw new ConfigException(where(at) + "egress: '" + a.text() + "' (" + (a.allow() ? "allow" : "deny")
                            + ") contradicts '" + b.text() + "' (" + (b.allow() ? "allow" : "deny") + ")");
                }
            }
        }
        java.util.Map<String, Long> perNetwork = new java.util.HashMap<>();
        for (Policy.EgressEntry e : entries) {
            long n = perNetwork.merge(java.util.Arrays.toString(e.range()), 1L, Long::sum);
            if (n > io.agentguard.abi.KernelAbi.AG_EGRESS_RULES) {
                throw new ConfigException(where(at) + "egress: more than " + io.agentguard.abi.KernelAbi.AG_EGRESS_RULES
                        + " entries for the network of '" + e.text() + "'");
            }
        }
    }

    private String where(Node node) {
        return where(node.getStartMark().orElse(null));
    }

    private String where(Mark mark) {
        if (mark == null) {
            return source + ": ";
        }
        return source + ":" + (mark.getLine() + 1) + ":" + (mark.getColumn() + 1) + ": ";
    }

    private MappingNode mapping(Node node, String what) {
        if (node instanceof MappingNode m) {
            return m;
        }
        throw new ConfigException(where(node) + what + ": expected a mapping of keys to values");
    }

    private String key(NodeTuple tuple, Set<String> allowed) {
        Node k = tuple.getKeyNode();
        if (!(k instanceof ScalarNode s)) {
            throw new ConfigException(where(k) + "expected a plain key");
        }
        String key = s.getValue();
        if (!allowed.contains(key)) {
            String suggestion = allowed.stream().min((a, b) -> distance(key, a) - distance(key, b)).orElse(null);
            String hint = suggestion != null && distance(key, suggestion) <= 3 ? " (did you mean '" + suggestion + "'?)"
                    : " (known: " + String.join(", ", allowed.stream().sorted().toList()) + ")";
            throw new ConfigException(where(k) + "unknown key '" + key + "'" + hint);
        }
        return key;
    }

    private String string(Node node, String name) {
        if (node instanceof ScalarNode s && !s.getValue().isEmpty()) {
            return s.getValue();
        }
        throw new ConfigException(where(node) + name + ": expected a non-empty string");
    }

    /** One of an enum's constants, spelled in lower case. */
    private <E extends Enum<E>> E oneOf(Node node, String name, Class<E> values) {
        String v = string(node, name);
        for (E e : values.getEnumConstants()) {
            if (e.name().toLowerCase(java.util.Locale.ROOT).equals(v)) {
                return e;
            }
        }
        throw new ConfigException(where(node) + name + ": '" + v + "' is not one of " + java.util.Arrays.stream(
                values.getEnumConstants()).map(e -> e.name().toLowerCase(java.util.Locale.ROOT)).collect(
                java.util.stream.Collectors.joining(", ")));
    }

    private String oneOf(Node node, String name, String... values) {
        String v = string(node, name);
        for (String allowed : values) {
            if (allowed.equals(v)) {
                return v;
            }
        }
        throw new ConfigException(where(node) + name + ": '" + v + "' is not one of " + String.join(", ", values));
    }

    private boolean bool(Node node, String name) {
        if (node instanceof ScalarNode s) {
            switch (s.getValue()) {
                case "true" -> {
                    return true;
                }
                case "false" -> {
                    return false;
                }
                default -> {
                }
            }
        }
        throw new ConfigException(where(node) + name + ": expected true or false");
    }

    private long integer(Node node, String name, long min, long max) {
        if (node instanceof ScalarNode s) {
            String text = s.getValue().replace("_", "");
            try {
                long v = text.startsWith("0x") ? Long.parseLong(text.substring(2), 16) : Long.parseLong(text);
                if (v < min || v > max) {
                    throw new ConfigException(where(node) + name + ": " + v + " is out of range " + min + ".." + max);
                }
                return v;
            } catch (NumberFormatException e) {
                // fall through
            }
        }
        throw new ConfigException(where(node) + name + ": expected an integer");
    }

    private List<String> strings(Node node, String name) {
        if (!(node instanceof SequenceNode seq)) {
            throw new ConfigException(where(node) + name + ": expected a list of strings");
        }
        List<String> out = new ArrayList<>();
        for (Node item : seq.getValue()) {
            out.add(string(item, name + " item"));
        }
        return out;
    }

    public static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }
}
