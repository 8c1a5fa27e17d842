package io.agentguard.collector.export;

import io.agentguard.proto.v1.Priority;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.composer.Composer;
import org.snakeyaml.engine.v2.exceptions.Mark;
import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.SequenceNode;
import org.snakeyaml.engine.v2.parser.ParserImpl;
import org.snakeyaml.engine.v2.scanner.StreamReader;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The collector's {@code exports:} section (docs/REPORTING.md, "Exports"): a list of exports,
 * each a webhook, a syslog destination or an OTLP logs endpoint, with filters and retry
 * settings. Parsed from a snakeyaml-engine node so that every error names the key path and,
 * where the node has one, file:line:col. Unknown keys are errors (a typo must not silently
 * turn a filter off).
 */
public record ExportsConfig(List<Export> exports) {

    /** Thrown for a bad {@code exports:} section; the message names where and what. */
    public static final class ConfigException extends Exception {
        public ConfigException(String message) {
            super(message);
        }
    }

    public enum Type { WEBHOOK, SYSLOG, OTLP }

    /** One export. Exactly one of webhook, syslog, otlp is set, as type says. */
    public record Export(String name, Type type, Filter filter, Retry retry, Webhook webhook, Syslog syslog, Otlp otlp) {
    }

    /**
     * Which violations an export sends; empty lists mean "any". minPriority: the least severe
     * priority sent (Falco order: emergency most severe); null = all.
     */
    public record Filter(Priority minPriority, List<String> rules, List<String> tags, List<String> nodes) {
        public static final Filter ALL = new Filter(null, List.of(), List.of(), List.of());
    }

    /**
     * Retry policy: a transient failure (receiver down, 5xx, 429, timeout) is retried forever
     * with exponential backoff from initial to max (jittered); a permanent rejection is tried
     * rejectAttempts times, then the violation is dead-lettered.
     */
    public record Retry(Duration initialBackoff, Duration maxBackoff, int rejectAttempts) {
        public static final Retry DEFAULT = new Retry(Duration.ofSeconds(1), Duration.ofMinutes(5), 3);
    }

    public enum Template { GENERIC, SLACK }

    /** secretFile: HMAC key file (its bytes, trailing newline stripped); null = unsigned. */
    public record Webhook(String url, Template template, Path secretFile, Duration timeout, Map<String, String> headers) {
    }

    public enum Transport { TCP, TLS, UDP }

    public enum Format { TEXT, CEF }

    /** caFile: trust for TLS (PEM); null = the JVM's default trust store. */
    public record Syslog(String host, int port, Transport transport, Path caFile, int facility, String appName,
                         Format format, int maxMessageBytes, Duration timeout) {
    }

    /** insecure: plaintext gRPC (must be said explicitly); caFile: TLS trust, null = system default. */
    public record Otlp(String host, int port, boolean insecure, Path caFile, Duration timeout,
                       Map<String, String> headers, String serviceName) {
    }

    private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9_-]{0,63}");
    private static final Pattern DURATION = Pattern.compile("(\\d+)(ms|s|m|h|d)");
    private static final List<String> FACILITIES = List.of("kern", "user", "mail", "daemon", "auth", "syslog", "lpr",
            "news", "uucp", "cron", "authpriv", "ftp", "ntp", "audit", "alert", "clock", "local0", "local1", "local2",
            "local3", "local4", "local5", "local6", "local7");

    /** Parses a YAML text whose top level holds {@code exports:} (other top-level keys are ignored). */
    public static ExportsConfig parseYaml(String text, String label) throws ConfigException {
        LoadSettings settings = LoadSettings.builder().setLabel(label).setMaxAliasesForCollections(10)
                .setAllowDuplicateKeys(false).build();
        Optional<Node> root;
        try {
            root = new Composer(settings, new ParserImpl(settings, new StreamReader(settings, text))).getSingleNode();
        } catch (RuntimeException e) {
            throw new ConfigException(label + ": " + e.getMessage());
        }
        if (root.isEmpty()) {
            return new ExportsConfig(List.of());
        }
        if (!(root.get() instanceof MappingNode m)) {
            throw new ConfigException(where(label, root.get()) + "the top level must be a mapping with 'exports:'");
        }
        for (NodeTuple t : m.getValue()) {
            if (t.getKeyNode() instanceof ScalarNode k && k.getValue().equals("exports")) {
                return parse(t.getValueNode(), label);
            }
        }
        return new ExportsConfig(List.of());
    }

    public static ExportsConfig parseFile(File file) throws ConfigException {
        try {
            return parseYaml(Files.readString(file.toPath()), file.getPath());
        } catch (java.io.IOException e) {
            throw new ConfigException(file + ": " + e.getMessage());
        }
    }

    /**
     * Parses the value of {@code exports:} (a sequence node, or null / an empty node for none).
     * label: the file name used in error locations.
     */
    public static ExportsConfig parse(Node exportsNode, String label) throws ConfigException {
        if (exportsNode == null || exportsNode instanceof ScalarNode s && (s.getValue().isEmpty() || s.getValue().equals("null"))) {
            return new ExportsConfig(List.of());
        }
        Ctx ctx = new Ctx(label);
        if (!(exportsNode instanceof SequenceNode seq)) {
            throw ctx.error(exportsNode, "exports", "must be a list of exports");
        }
        List<Export> exports = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (int i = 0; i < seq.getValue().size(); i++) {
            Export e = export(ctx, seq.getValue().get(i), "exports[" + i + "]");
            if (!names.add(e.name())) {
                throw ctx.error(seq.getValue().get(i), "exports[" + i + "].name", "'" + e.name() + "' is used twice");
            }
            exports.add(e);
        }
        return new ExportsConfig(List.copyOf(exports));
    }

    private static Export export(Ctx ctx, Node node, String path) throws ConfigException {
        Map<String, Node> m = ctx.mapping(node, path);
        String name = ctx.string(m, path, "name", null);
        if (name == null || !NAME.matcher(name).matches()) {
            throw ctx.error(m.getOrDefault("name", node), path + ".name",
                    "required: 1-64 of a-z 0-9 _ - (it keys the persisted position and the metrics label)");
        }
        String typeText = ctx.string(m, path, "type", null);
        Type type;
        try {
            type = typeText == null ? null : Type.valueOf(typeText.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            type = null;
        }
        if (type == null) {
            throw ctx.error(m.getOrDefault("type", node), path + ".type", "required: webhook, syslog or otlp");
        }
        Set<String> allowed = new HashSet<>(List.of("name", "type", "filter", "retry"));
        Filter filter = m.containsKey("filter") ? filter(ctx, m.get("filter"), path + ".filter") : Filter.ALL;
        Retry retry = m.containsKey("retry") ? retry(ctx, m.get("retry"), path + ".retry") : Retry.DEFAULT;
        Webhook webhook = null;
        Syslog syslog = null;
        Otlp otlp = null;
        switch (type) {
            case WEBHOOK -> {
                allowed.addAll(List.of("url", "template", "secret_file", "timeout", "headers"));
                String url = ctx.required(m, path, "url", node);
                if (!url.startsWith("http://") && !url.startsWith("https://")) {
                    throw ctx.error(m.get("url"), path + ".url", "'" + url + "' is not an http:// or https:// URL");
                }
                try {
                    java.net.URI.create(url);
                } catch (IllegalArgumentException e) {
                    throw ctx.error(m.get("url"), path + ".url", e.getMessage());
                }
                Template template = switch (ctx.string(m, path, "template", "generic")) {
                    case "generic" -> Template.GENERIC;
                    case "slack" -> Template.SLACK;
                    default -> throw ctx.error(m.get("template"), path + ".template", "generic or slack");
                };
                String secret = ctx.string(m, path, "secret_file", null);
                webhook = new Webhook(url, template, secret == null ? null : Path.of(secret),
                        ctx.duration(m, path, "timeout", Duration.ofSeconds(10)), ctx.stringMap(m, path, "headers"));
            }
            case SYSLOG -> {
                allowed.addAll(List.of("address", "transport", "ca_file", "facility", "app_name", "format",
                        "max_message_bytes", "timeout"));
                String address = ctx.required(m, path, "address", node);
                Transport transport = switch (ctx.string(m, path, "transport", "tcp")) {
                    case "tcp" -> Transport.TCP;
                    case "tls" -> Transport.TLS;
                    case "udp" -> Transport.UDP;
                    default -> throw ctx.error(m.get("transport"), path + ".transport", "tcp, tls or udp");
                };
                String facilityText = ctx.string(m, path, "facility", "local0");
                int facility = FACILITIES.indexOf(facilityText);
                if (facility < 0 && facilityText.matches("\\d{1,2}") && Integer.parseInt(facilityText) <= 23) {
                    facility = Integer.parseInt(facilityText);
                }
                if (facility < 0) {
                    throw ctx.error(m.get("facility"), path + ".facility", "'" + facilityText + "': a name (" + String.join(", ", FACILITIES)
                            + ") or 0-23");
                }
                String appName = ctx.string(m, path, "app_name", "agentguard");
                if (appName.isEmpty() || appName.length() > 48 || !appName.chars().allMatch(c -> c > 32 && c < 127)) {
                    throw ctx.error(m.get("app_name"), path + ".app_name", "1-48 printable ASCII characters, no spaces (RFC 5424)");
                }
                Format format = switch (ctx.string(m, path, "format", "text")) {
                    case "text" -> Format.TEXT;
                    case "cef" -> Format.CEF;
                    default -> throw ctx.error(m.get("format"), path + ".format", "text or cef");
                };
                int max = ctx.integer(m, path, "max_message_bytes", transport == Transport.UDP ? 2048 : 8192, 480, 1 << 20);
                String ca = ctx.string(m, path, "ca_file", null);
                if (ca != null && transport != Transport.TLS) {
                    throw ctx.error(m.get("ca_file"), path + ".ca_file", "only with transport: tls");
                }
                int[] hp = hostPort(ctx, m.get("address"), path + ".address", address);
                syslog = new Syslog(address.substring(0, address.lastIndexOf(':')).replace("[", "").replace("]", ""),
                        hp[0], transport, ca == null ? null : Path.of(ca), facility, appName, format, max,
                        ctx.duration(m, path, "timeout", Duration.ofSeconds(10)));
            }
            case OTLP -> {
                allowed.addAll(List.of("endpoint", "insecure", "ca_file", "timeout", "headers", "service_name"));
                String endpoint = ctx.required(m, path, "endpoint", node);
                int[] hp = hostPort(ctx, m.get("endpoint"), path + ".endpoint", endpoint);
                boolean insecure = ctx.bool(m, path, "insecure", false);
                String ca = ctx.string(m, path, "ca_file", null);
                if (ca != null && insecure) {
                    throw ctx.error(m.get("ca_file"), path + ".ca_file", "contradicts insecure: true (plaintext)");
                }
                otlp = new Otlp(endpoint.substring(0, endpoint.lastIndexOf(':')).replace("[", "").replace("]", ""), hp[0],
                        insecure, ca == null ? null : Path.of(ca), ctx.duration(m, path, "timeout", Duration.ofSeconds(10)),
                        ctx.stringMap(m, path, "headers"), ctx.string(m, path, "service_name", "agentguard"));
            }
        }
        for (Map.Entry<String, Node> e : m.entrySet()) {
            if (!allowed.contains(e.getKey())) {
                throw ctx.error(e.getValue(), path + "." + e.getKey(), "unknown key for a " + type.name().toLowerCase(Locale.ROOT)
                        + " export (known: " + String.join(", ", new java.util.TreeSet<>(allowed)) + ")");
            }
        }
        return new Export(name, type, filter, retry, webhook, syslog, otlp);
    }

    private static int[] hostPort(Ctx ctx, Node node, String path, String text) throws ConfigException {
        int colon = text.lastIndexOf(':');
        if (colon <= 0 || !text.substring(colon + 1).matches("\\d{1,5}") || Integer.parseInt(text.substring(colon + 1)) > 65535) {
            throw ctx.error(node, path, "'" + text + "' is not HOST:PORT");
        }
        return new int[] {Integer.parseInt(text.substring(colon + 1))};
    }

    private static Filter filter(Ctx ctx, Node node, String path) throws ConfigException {
        Map<String, Node> m = ctx.mapping(node, path);
        for (Map.Entry<String, Node> e : m.entrySet()) {
            if (!List.of("min_priority", "rules", "tags", "nodes").contains(e.getKey())) {
                throw ctx.error(e.getValue(), path + "." + e.getKey(), "unknown key (known: min_priority, rules, tags, nodes)");
            }
        }
        String p = ctx.string(m, path, "min_priority", null);
        Priority min = null;
        if (p != null) {
            try {
                min = Priority.valueOf("PRIORITY_" + p.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                min = null;
            }
            if (min == null || min == Priority.PRIORITY_UNSPECIFIED) {
                throw ctx.error(m.get("min_priority"), path + ".min_priority", "'" + p + "' is not a priority (emergency, alert,"
                        + " critical, error, warning, notice, informational, debug)");
            }
        }
        return new Filter(min, ctx.stringList(m, path, "rules"), ctx.stringList(m, path, "tags"), ctx.stringList(m, path, "nodes"));
    }

    private static Retry retry(Ctx ctx, Node node, String path) throws ConfigException {
        Map<String, Node> m = ctx.mapping(node, path);
        for (Map.Entry<String, Node> e : m.entrySet()) {
            if (!List.of("initial_backoff", "max_backoff", "reject_attempts").contains(e.getKey())) {
                throw ctx.error(e.getValue(), path + "." + e.getKey(), "unknown key (known: initial_backoff, max_backoff, reject_attempts)");
            }
        }
        Duration initial = ctx.duration(m, path, "initial_backoff", Retry.DEFAULT.initialBackoff());
        Duration max = ctx.duration(m, path, "max_backoff", Retry.DEFAULT.maxBackoff());
        if (max.compareTo(initial) < 0) {
            throw ctx.error(m.get("max_backoff"), path + ".max_backoff", "is shorter than initial_backoff");
        }
        return new Retry(initial, max, ctx.integer(m, path, "reject_attempts", Retry.DEFAULT.rejectAttempts(), 1, 100));
    }

    /** Parses 500ms, 10s, 5m, 1h, 1d. */
    static Duration parseDuration(String text) {
        Matcher mm = DURATION.matcher(text);
        if (!mm.matches()) {
            return null;
        }
        long n = Long.parseLong(mm.group(1));
        return switch (mm.group(2)) {
            case "ms" -> Duration.ofMillis(n);
            case "s" -> Duration.ofSeconds(n);
            case "m" -> Duration.ofMinutes(n);
            case "h" -> Duration.ofHours(n);
            default -> Duration.ofDays(n);
        };
    }

    private static String where(String label, Node node) {
        Optional<Mark> mark = node == null ? Optional.empty() : node.getStartMark();
        return mark.map(mk -> label + ":" + (mk.getLine() + 1) + ":" + (mk.getColumn() + 1) + ": ").orElse(label + ": ");
    }

    /** Typed access with errors that say where. */
    private record Ctx(String label) {
        ConfigException error(Node node, String path, String what) {
            return new ConfigException(where(label, node) + path + ": " + what);
        }

        Map<String, Node> mapping(Node node, String path) throws ConfigException {
            if (!(node instanceof MappingNode mn)) {
                throw error(node, path, "must be a mapping");
            }
            Map<String, Node> m = new LinkedHashMap<>();
            for (NodeTuple t : mn.getValue()) {
                if (!(t.getKeyNode() instanceof ScalarNode k)) {
                    throw error(t.getKeyNode(), path, "keys must be plain strings");
                }
                m.put(k.getValue(), t.getValueNode());
            }
            return m;
        }

        String string(Map<String, Node> m, String path, String key, String dflt) throws ConfigException {
            Node n = m.get(key);
            if (n == null) {
                return dflt;
            }
            if (!(n instanceof ScalarNode s)) {
                throw error(n, path + "." + key, "must be a string");
            }
            return s.getValue();
        }

        String required(Map<String, Node> m, String path, String key, Node parent) throws ConfigException {
            String v = string(m, path, key, null);
            if (v == null || v.isEmpty()) {
                throw error(m.getOrDefault(key, parent), path + "." + key, "required");
            }
            return v;
        }

        Duration duration(Map<String, Node> m, String path, String key, Duration dflt) throws ConfigException {
            String v = string(m, path, key, null);
            if (v == null) {
                return dflt;
            }
            Duration d = parseDuration(v);
            if (d == null || d.isZero()) {
                throw error(m.get(key), path + "." + key, "'" + v + "' is not a duration (e.g. 500ms, 10s, 5m, 1h)");
            }
            return d;
        }

        int integer(Map<String, Node> m, String path, String key, int dflt, int min, int max) throws ConfigException {
            String v = string(m, path, key, null);
            if (v == null) {
                return dflt;
            }
            if (!v.matches("\\d{1,9}") || Integer.parseInt(v) < min || Integer.parseInt(v) > max) {
                throw error(m.get(key), path + "." + key, "'" + v + "' is not an integer from " + min + " to " + max);
            }
            return Integer.parseInt(v);
        }

        boolean bool(Map<String, Node> m, String path, String key, boolean dflt) throws ConfigException {
            String v = string(m, path, key, null);
            if (v == null) {
                return dflt;
            }
            return switch (v) {
                case "true" -> true;
                case "false" -> false;
                default -> throw error(m.get(key), path + "." + key, "true or false");
            };
        }

        List<String> stringList(Map<String, Node> m, String path, String key) throws ConfigException {
            Node n = m.get(key);
            if (n == null) {
                return List.of();
            }
            if (!(n instanceof SequenceNode seq)) {
                throw error(n, path + "." + key, "must be a list of strings");
            }
            List<String> out = new ArrayList<>();
            for (int i = 0; i < seq.getValue().size(); i++) {
                if (!(seq.getValue().get(i) instanceof ScalarNode s) || s.getValue().isEmpty()) {
                    throw error(seq.getValue().get(i), path + "." + key + "[" + i + "]", "must be a non-empty string");
                }
                out.add(s.getValue());
            }
            return List.copyOf(out);
        }

        Map<String, String> stringMap(Map<String, Node> m, String path, String key) throws ConfigException {
            Node n = m.get(key);
            if (n == null) {
                return Map.of();
            }
            Map<String, Node> raw = mapping(n, path + "." + key);
            Map<String, String> out = new LinkedHashMap<>();
            for (Map.Entry<String, Node> e : raw.entrySet()) {
                if (!(e.getValue() instanceof ScalarNode s)) {
                    throw error(e.getValue(), path + "." + key + "." + e.getKey(), "must be a string");
                }
                if (!e.getKey().matches("[A-Za-z0-9!#$%&'*+.^_`|~-]+") || s.getValue().chars().anyMatch(c -> c == '\r' || c == '\n')) {
                    throw error(e.getValue(), path + "." + key + "." + e.getKey(), "not a valid header name or value");
                }
                out.put(e.getKey(), s.getValue());
            }
            return Map.copyOf(out);
        }
    }
}
