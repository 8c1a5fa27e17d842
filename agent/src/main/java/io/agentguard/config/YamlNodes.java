package io.agentguard.config;

import io.agentguard.text.Suggestions;
import org.snakeyaml.engine.v2.exceptions.Mark;
import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.SequenceNode;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Typed reads of YAML nodes of one configuration file, each failing with a
 * {@link ConfigException} that says "file:line:col: what was expected".
 */
final class YamlNodes {
    private final String source;

    YamlNodes(String source) {
        this.source = source;
    }

    String source() {
        return source;
    }

    String where(Node node) {
        return where(node.getStartMark().orElse(null));
    }

    String where(Mark mark) {
        if (mark == null) {
            return source + ": ";
        }
        return source + ":" + (mark.getLine() + 1) + ":" + (mark.getColumn() + 1) + ": ";
    }

    MappingNode mapping(Node node, String what) {
        if (node instanceof MappingNode m) {
            return m;
        }
        throw new ConfigException(where(node) + what + ": expected a mapping of keys to values");
    }

    /** The tuple's key, which must be one of {@code allowed} (else the closest, or the list). */
    String key(NodeTuple tuple, Set<String> allowed) {
        Node k = tuple.getKeyNode();
        if (!(k instanceof ScalarNode s)) {
            throw new ConfigException(where(k) + "expected a plain key");
        }
        String key = s.getValue();
        if (!allowed.contains(key)) {
            String hint = Suggestions.closest(key, allowed, 3).map(x -> " (did you mean '" + x + "'?)")
                    .orElse(" (known: " + String.join(", ", allowed.stream().sorted().toList()) + ")");
            throw new ConfigException(where(k) + "unknown key '" + key + "'" + hint);
        }
        return key;
    }

    String string(Node node, String name) {
        if (node instanceof ScalarNode s && !s.getValue().isEmpty()) {
            return s.getValue();
        }
        throw new ConfigException(where(node) + name + ": expected a non-empty string");
    }

    /** One of an enum's constants, spelled in lower case. */
    <E extends Enum<E>> E oneOf(Node node, String name, Class<E> values) {
        String v = string(node, name);
        return ConfigValues.parse(values, v).orElseThrow(() -> new ConfigException(where(node) + name + ": '" + v
                + "' is not one of " + ConfigValues.spellings(values)));
    }

    String oneOf(Node node, String name, String... values) {
        String v = string(node, name);
        for (String allowed : values) {
            if (allowed.equals(v)) {
                return v;
            }
        }
        throw new ConfigException(where(node) + name + ": '" + v + "' is not one of " + String.join(", ", values));
    }

    boolean bool(Node node, String name) {
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

    long integer(Node node, String name, long min, long max) {
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

    List<String> strings(Node node, String name) {
        if (!(node instanceof SequenceNode seq)) {
            throw new ConfigException(where(node) + name + ": expected a list of strings");
        }
        List<String> out = new ArrayList<>();
        for (Node item : seq.getValue()) {
            out.add(string(item, name + " item"));
        }
        return out;
    }

    /**
     * Where character {@code index} of a scalar's value sits (file:line:col): its start mark plus
     * the index, past the opening quote of a quoted scalar. Exact for a value on one line
     * without escapes, which is how cgroup paths are written; else the scalar's start.
     */
    String whereInScalar(ScalarNode node, int index) {
        org.snakeyaml.engine.v2.exceptions.Mark start = node.getStartMark().orElse(null);
        org.snakeyaml.engine.v2.exceptions.Mark end = node.getEndMark().orElse(null);
        if (start == null || end == null || start.getLine() != end.getLine()) {
            return where(node);
        }
        int quote = node.getScalarStyle() == org.snakeyaml.engine.v2.common.ScalarStyle.PLAIN ? 0 : 1;
        boolean escapes = end.getColumn() - start.getColumn() != node.getValue().length() + 2 * quote;
        if (escapes) {
            return where(node);
        }
        return source + ":" + (start.getLine() + 1) + ":" + (start.getColumn() + 1 + quote + index) + ": ";
    }
}
