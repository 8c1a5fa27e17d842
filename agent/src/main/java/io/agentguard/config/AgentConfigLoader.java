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
            "ring_buffer", "gpu", "connect", "stats_interval_ms", "syscall_outcomes", "rules", "state", "process_table", "mode");
    private static final Map<String, Set<String>> SECTION_KEYS = Map.of(
            "output", Set.of("path", "format", "events"),
            "rules", Set.of("default_pack", "paths", "watch_interval_ms"),
            "state", Set.of("window_ms"),
            "process_table", Set.of("capacity"),
            "exec", Set.of("max_args_bytes"),
            "ring_buffer", Set.of("size_bytes"),
            "gpu", Set.of("standins", "device_rescan_ms"),
            "connect", Set.of("outcome_timeout_ms"));

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
        String outputFormat = "json";
        int maxArgs = 4096;
        int ringBytes = 8 << 20;
        List<String> standins = List.of();
        long rescanMs = 5000;
        long outcomeTimeoutMs = 3000;
        long statsMs = 10_000;
        String syscallOutcomes = "auto";
        boolean emitEvents = true;
        boolean defaultPack = true;
        List<String> rulePaths = List.of();
        long ruleWatchMs = 1000;
        long windowMs = 10_000;
        int tableCapacity = 65536;
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
                case "syscall_outcomes" -> syscallOutcomes = oneOf(v, key, "auto", "on", "off");
                case "mode" -> {
                    // Only monitor exists until the enforcement stage lands; refusing enforce is safer
                    // than silently not enforcing what an operator asked for.
                    if (oneOf(v, key, "monitor", "enforce").equals("enforce")) {
                        throw new ConfigException(where(v) + "mode: 'enforce' needs the enforcement stage, which this"
                                + " version does not have yet; use 'monitor' (everything is observed and reported)");
                    }
                }
                default -> {
                    MappingNode section = mapping(v, key);
                    for (NodeTuple s : section.getValue()) {
                        String sub = key(s, SECTION_KEYS.get(key));
                        String name = key + "." + sub;
                        Node sv = s.getValueNode();
                        switch (name) {
                            case "output.path" -> outputPath = string(sv, name);
                            case "output.format" -> outputFormat = oneOf(sv, name, "json", "text");
                            case "output.events" -> emitEvents = bool(sv, name);
                            case "rules.default_pack" -> defaultPack = bool(sv, name);
                            case "rules.paths" -> rulePaths = strings(sv, name);
                            case "rules.watch_interval_ms" -> ruleWatchMs = integer(sv, name, 0, 3_600_000);
                            case "state.window_ms" -> windowMs = integer(sv, name, 100, 3_600_000);
                            case "process_table.capacity" -> tableCapacity = (int) integer(sv, name, 64, 4_194_304);
                            case "exec.max_args_bytes" -> maxArgs = (int) integer(sv, name, 1, AgentConfig.MAX_ARGS_BYTES_CEILING);
                            case "ring_buffer.size_bytes" -> {
                                long size = integer(sv, name, 4096, 1L << 30);
                                if (Long.bitCount(size) != 1) {
                                    throw new ConfigException(where(sv) + name + ": " + size + " is not a power of two");
                                }
                                ringBytes = (int) size;
                            }
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
        return new AgentConfig(cgroups, create, outputPath, outputFormat, maxArgs, ringBytes, standins, rescanMs,
                outcomeTimeoutMs, statsMs, syscallOutcomes, emitEvents, defaultPack, rulePaths, ruleWatchMs, windowMs,
                tableCapacity);
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
