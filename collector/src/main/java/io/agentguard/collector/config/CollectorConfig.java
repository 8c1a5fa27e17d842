package io.agentguard.collector.config;

import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.composer.Composer;
import org.snakeyaml.engine.v2.events.Event;
import org.snakeyaml.engine.v2.exceptions.Mark;
import org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;
import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.parser.ParserImpl;
import org.snakeyaml.engine.v2.scanner.StreamReader;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The collector's configuration file (/etc/agentguard/collector.yaml in the package;
 * docs/COLLECTOR.md lists every key). Every key is optional; `serve` flags override it. A key
 * that is unknown, of the wrong type or out of range is an error with file:line:col, like
 * the agent's configuration. Read with SnakeYAML Engine (the library the agent uses), within
 * limits: the file's size, its nesting and its aliases.
 *
 * @param listen           gRPC HOST:PORT
 * @param tlsCert          server certificate chain (PEM), or null
 * @param tlsKey           server private key (PEM, PKCS#8), or null
 * @param clientCa         mutual TLS: the CA agents' certificates must chain to, or null
 * @param plaintext        no TLS (loopback only unless allowUnauthenticated)
 * @param allowUnauthenticated plaintext or TLS without client CA on a non-loopback address
 * @param databaseUrl      sqlite:/path or jdbc:postgresql://host/db
 * @param databaseUser     PostgreSQL user, or null (then PGUSER)
 * @param passwordFile     a file whose first line is the PostgreSQL password, or null (then PGPASSWORD)
 * @param metricsListen    Prometheus HOST:PORT, "" = off
 * @param retention        records older than this are deleted; null = keep
 * @param exports          where violations are sent on (webhook, syslog, OTLP; docs/REPORTING.md "Exports")
 * @param queryListen      loopback HOST:PORT where `query --follow` subscribes, "" = off
 */
public record CollectorConfig(String listen, Path tlsCert, Path tlsKey, Path clientCa, boolean plaintext,
                              boolean allowUnauthenticated, String databaseUrl, String databaseUser, Path passwordFile,
                              String metricsListen, Duration retention, io.agentguard.collector.export.ExportsConfig exports,
                              String queryListen) {
    public static final String DEFAULT_LISTEN = "0.0.0.0:4317";
    public static final String DEFAULT_DATABASE = "sqlite:/var/lib/agentguard-collector/collector.db";
    public static final String DEFAULT_METRICS = "127.0.0.1:9465";
    public static final String DEFAULT_QUERY = "127.0.0.1:9466";
    private static final int MAX_BYTES = 1 << 20;
    private static final int MAX_DEPTH = 32;

    /** Everything at its default: no file. */
    public static CollectorConfig defaults() {
        return new CollectorConfig(DEFAULT_LISTEN, null, null, null, false, false, DEFAULT_DATABASE, null, null,
                DEFAULT_METRICS, null, new io.agentguard.collector.export.ExportsConfig(List.of()), DEFAULT_QUERY);
    }

    /** A file that does not hold a valid configuration: the message starts with file:line:col. */
    public static final class Invalid extends Exception {
        public Invalid(String message) {
            super(message);
        }
    }

    public static CollectorConfig load(Path file) throws Invalid, IOException {
        long size = Files.size(file);
        if (size > MAX_BYTES) {
            throw new Invalid(file + ": " + size + " bytes, over the limit of " + MAX_BYTES + " bytes");
        }
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(Files.readAllBytes(file)))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new Invalid(file + ": not UTF-8");
        }
        return parse(file.toString(), text);
    }

    /** Parses the text of a configuration; source names it in errors. */
    public static CollectorConfig parse(String source, String text) throws Invalid {
        LoadSettings settings = LoadSettings.builder().setLabel(source).setAllowDuplicateKeys(false)
                .setMaxAliasesForCollections(16).setAllowRecursiveKeys(false).setCodePointLimit(MAX_BYTES).build();
        Node root;
        try {
            // the composer recurses once per level: refuse deep nesting before composing
            ParserImpl events = new ParserImpl(settings, new StreamReader(settings, text));
            int depth = 0;
            while (events.hasNext()) {
                Event e = events.next();
                if (e.getEventId() == Event.ID.MappingStart || e.getEventId() == Event.ID.SequenceStart) {
                    if (++depth > MAX_DEPTH) {
                        throw new Invalid(at(source, e.getStartMark().orElse(null)) + "nested more than " + MAX_DEPTH
                                + " levels deep");
                    }
                } else if (e.getEventId() == Event.ID.MappingEnd || e.getEventId() == Event.ID.SequenceEnd) {
                    depth--;
                }
            }
            root = new Composer(settings, new ParserImpl(settings, new StreamReader(settings, text))).getSingleNode()
                    .orElse(null);
        } catch (MarkedYamlEngineException e) {
            throw new Invalid(at(source, e.getProblemMark().orElse(null)) + "YAML syntax error: " + e.getProblem());
        } catch (YamlEngineException e) {
            throw new Invalid(source + ": YAML error: " + e.getMessage());
        }
        CollectorConfig d = defaults();
        if (root == null) {
            return d;
        }
        Reader r = new Reader(source);
        MappingNode top = r.mapping(root, "the file");
        String listen = d.listen;
        Path cert = null;
        Path key = null;
        Path ca = null;
        boolean plaintext = false;
        boolean allowUnauthenticated = false;
        String url = d.databaseUrl;
        String user = null;
        Path passwordFile = null;
        String metrics = d.metricsListen;
        Duration retention = null;
        io.agentguard.collector.export.ExportsConfig exports = d.exports;
        String query = d.queryListen;
        for (NodeTuple t : r.entries(top, "", Set.of("listen", "tls", "database", "metrics", "retention", "exports",
                "query"))) {
            String k = r.key(t);
            Node v = t.getValueNode();
            switch (k) {
                case "listen" -> listen = r.hostPort(v, k, false);
                case "tls" -> {
                    for (NodeTuple u : r.entries(r.mapping(v, k), "tls.", Set.of("cert", "key", "client_ca", "plaintext",
                            "allow_unauthenticated_nodes"))) {
                        String uk = r.key(u);
                        Node uv = u.getValueNode();
                        switch (uk) {
                            case "cert" -> cert = r.path(uv, "tls." + uk);
                            case "key" -> key = r.path(uv, "tls." + uk);
                            case "client_ca" -> ca = r.path(uv, "tls." + uk);
                            case "plaintext" -> plaintext = r.bool(uv, "tls." + uk);
                            default -> allowUnauthenticated = r.bool(uv, "tls." + uk);
                        }
                    }
                }
                case "database" -> {
                    for (NodeTuple u : r.entries(r.mapping(v, k), "database.", Set.of("url", "user", "password_file"))) {
                        String uk = r.key(u);
                        Node uv = u.getValueNode();
                        switch (uk) {
                            case "url" -> {
                                url = r.string(uv, "database.url");
                                if (!url.startsWith("sqlite:") && !url.startsWith("jdbc:sqlite:")
                                        && !url.startsWith("jdbc:postgresql:") && !url.startsWith("postgresql:")) {
                                    throw r.invalid(uv, "database.url: '" + url
                                            + "' is not sqlite:/path/file.db or jdbc:postgresql://host/db");
                                }
                            }
                            case "user" -> user = r.string(uv, "database.user");
                            default -> passwordFile = r.path(uv, "database.password_file");
                        }
                    }
                }
                case "metrics" -> {
                    for (NodeTuple u : r.entries(r.mapping(v, k), "metrics.", Set.of("listen"))) {
                        metrics = r.hostPort(u.getValueNode(), "metrics.listen", true);
                    }
                }
                case "query" -> {
                    for (NodeTuple u : r.entries(r.mapping(v, k), "query.", Set.of("listen"))) {
                        query = r.hostPort(u.getValueNode(), "query.listen", true);
                    }
                }
                case "retention" -> {
                    String text2 = r.string(v, k);
                    if (!text2.isEmpty() && !text2.equals("keep")) {
                        try {
                            retention = parseDuration(text2);
                        } catch (IllegalArgumentException e) {
                            throw r.invalid(v, "retention: " + e.getMessage());
                        }
                    }
                }
                default -> {
                    try {
                        exports = io.agentguard.collector.export.ExportsConfig.parse(v, source.toString());
                    } catch (io.agentguard.collector.export.ExportsConfig.ConfigException e) {
                        throw new Invalid(e.getMessage());
                    }
                }
            }
        }
        return new CollectorConfig(listen, cert, key, ca, plaintext, allowUnauthenticated, url, user, passwordFile, metrics,
                retention, exports, query);
    }

    /** 30d, 12h, 15m, 90s, 2w; positive. */
    public static Duration parseDuration(String text) {
        if (!text.matches("[0-9]{1,9}[wdhms]")) {
            throw new IllegalArgumentException("duration '" + text + "': use 2w, 30d, 12h, 15m or 90s");
        }
        long n = Long.parseLong(text.substring(0, text.length() - 1));
        if (n == 0) {
            throw new IllegalArgumentException("duration '" + text + "' must be more than 0");
        }
        return switch (text.charAt(text.length() - 1)) {
            case 'w' -> Duration.ofDays(7 * n);
            case 'd' -> Duration.ofDays(n);
            case 'h' -> Duration.ofHours(n);
            case 'm' -> Duration.ofMinutes(n);
            default -> Duration.ofSeconds(n);
        };
    }

    private static String at(String source, Mark m) {
        return m == null ? source + ": " : source + ":" + (m.getLine() + 1) + ":" + (m.getColumn() + 1) + ": ";
    }

    /** Typed reads of nodes, each error at the node's position. */
    private record Reader(String source) {
        Invalid invalid(Node n, String message) {
            return new Invalid(at(source, n.getStartMark().orElse(null)) + message);
        }

        MappingNode mapping(Node n, String what) throws Invalid {
            if (n instanceof MappingNode m) {
                return m;
            }
            throw invalid(n, what + " must be a mapping of keys");
        }

        java.util.List<NodeTuple> entries(MappingNode m, String prefix, Set<String> known) throws Invalid {
            Set<String> seen = new HashSet<>();
            for (NodeTuple t : m.getValue()) {
                String k = key(t);
                if (!known.contains(k)) {
                    throw invalid(t.getKeyNode(), "unknown key '" + prefix + k + "' (known: "
                            + String.join(", ", new java.util.TreeSet<>(known)) + ")");
                }
                if (!seen.add(k)) {
                    throw invalid(t.getKeyNode(), "key '" + prefix + k + "' given twice");
                }
            }
            return m.getValue();
        }

        String key(NodeTuple t) throws Invalid {
            if (t.getKeyNode() instanceof ScalarNode s) {
                return s.getValue();
            }
            throw invalid(t.getKeyNode(), "a key must be a plain word");
        }

        String string(Node n, String key) throws Invalid {
            if (n instanceof ScalarNode s) {
                return s.getValue();
            }
            throw invalid(n, key + " must be a string");
        }

        Path path(Node n, String key) throws Invalid {
            String s = string(n, key);
            if (s.isEmpty()) {
                return null;
            }
            if (!s.startsWith("/")) {
                throw invalid(n, key + ": '" + s + "' must be an absolute path");
            }
            return Path.of(s);
        }

        boolean bool(Node n, String key) throws Invalid {
            String s = string(n, key);
            return switch (s) {
                case "true" -> true;
                case "false" -> false;
                default -> throw invalid(n, key + " must be true or false, not '" + s + "'");
            };
        }

        String hostPort(Node n, String key, boolean emptyAllowed) throws Invalid {
            String s = string(n, key);
            if (s.isEmpty() && emptyAllowed) {
                return s;
            }
            int colon = s.lastIndexOf(':');
            int port = -1;
            try {
                port = colon < 1 ? -1 : Integer.parseInt(s.substring(colon + 1));
            } catch (NumberFormatException ignored) {
                // reported below
            }
            if (port < 0 || port > 65535) {
                throw invalid(n, key + ": '" + s + "' is not HOST:PORT" + (emptyAllowed ? " (or \"\" for off)" : ""));
            }
            return s;
        }
    }
}
