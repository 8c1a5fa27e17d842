package io.agentguard.rules;

import io.agentguard.rules.RuleItems.Action;
import io.agentguard.rules.RuleItems.ExceptionItem;
import io.agentguard.rules.RuleItems.Item;
import io.agentguard.rules.RuleItems.Priority;
import io.agentguard.text.Suggestions;
import io.agentguard.yaml.BoundedYaml;
import org.snakeyaml.engine.v2.common.ScalarStyle;
import org.snakeyaml.engine.v2.exceptions.Mark;
import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.SequenceNode;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/** Reads one rule file (YAML) into {@link Item}s, checking the shape of every item. */
public final class RuleFileParser {
    private static final Set<String> RULE_KEYS = Set.of("rule", "desc", "condition", "output", "priority", "tags",
            "enabled", "action", "mode", "exceptions");
    private static final Set<String> LIST_KEYS = Set.of("list", "items");
    private static final Set<String> MACRO_KEYS = Set.of("macro", "condition");
    private static final Set<String> EXCEPTION_KEYS = Set.of("name", "fields", "comps", "values");

    private final String file;
    private final RuleLimits limits;
    private String[] lines;

    private RuleFileParser(String file, RuleLimits limits) {
        this.file = file;
        this.limits = limits;
    }

    public static List<Item> parse(String file, String text) {
        return parse(file, text, RuleLimits.DEFAULT);
    }

    public static List<Item> parse(String file, String text, RuleLimits limits) {
        return new RuleFileParser(file, limits).items(text);
    }

    private List<Item> items(String text) {
        Optional<Node> root;
        try {
            root = BoundedYaml.compose(file, text, limits.yaml());
        } catch (BoundedYaml.Problem e) {
            throw new RuleException(e.where(file), e.overLimit());
        }
        lines = text.split("\n", -1);
        if (root.isEmpty()) {
            return List.of();
        }
        if (!(root.get() instanceof SequenceNode seq)) {
            throw at(root.get()).error("a rule file is a list of items (- rule: ..., - list: ..., - macro: ...)");
        }
        List<Item> items = new ArrayList<>();
        for (Node n : seq.getValue()) {
            if (!(n instanceof MappingNode m)) {
                throw at(n).error("expected an item (- rule: ..., - list: ..., - macro: ...)");
            }
            Map<String, NodeTuple> keys = keys(m);
            if (keys.containsKey("rule")) {
                items.add(rule(m, keys));
            } else if (keys.containsKey("list")) {
                check(keys, LIST_KEYS, "list");
                items.add(new RuleItems.ListItem(name(keys, "list"), literals(required(m, keys, "items"), "items"),
                        at(m)));
            } else if (keys.containsKey("macro")) {
                check(keys, MACRO_KEYS, "macro");
                items.add(new RuleItems.MacroItem(name(keys, "macro"), condition(required(m, keys, "condition")), at(m)));
            } else {
                throw at(m).error("unknown item: expected a 'rule', 'list' or 'macro' key");
            }
        }
        return items;
    }

    private RuleItems.RuleItem rule(MappingNode m, Map<String, NodeTuple> keys) {
        check(keys, RULE_KEYS, "rule");
        String name = name(keys, "rule");
        String desc = scalar(required(m, keys, "desc"), "desc");
        Condition condition = condition(required(m, keys, "condition"));
        Node outputNode = required(m, keys, "output");
        String output = scalar(outputNode, "output");
        Node priorityNode = required(m, keys, "priority");
        String priorityText = scalar(priorityNode, "priority").toUpperCase(Locale.ROOT);
        Priority priority;
        try {
            priority = Priority.valueOf(priorityText.equals("INFO") ? "INFORMATIONAL" : priorityText);
        } catch (IllegalArgumentException e) {
            throw at(priorityNode).error("priority '" + priorityText + "' is not one of EMERGENCY, ALERT, CRITICAL,"
                    + " ERROR, WARNING, NOTICE, INFORMATIONAL, DEBUG");
        }
        List<String> tags = keys.containsKey("tags")
                ? literals(keys.get("tags").getValueNode(), "tags").stream().map(Condition.Literal::text).toList()
                : List.of();
        boolean enabled = true;
        if (keys.containsKey("enabled")) {
            Node n = keys.get("enabled").getValueNode();
            String v = scalar(n, "enabled");
            if (!v.equals("true") && !v.equals("false")) {
                throw at(n).error("enabled: expected true or false");
            }
            enabled = v.equals("true");
        }
        Action action = Action.NONE;
        if (keys.containsKey("action")) {
            Node n = keys.get("action").getValueNode();
            String v = scalar(n, "action");
            try {
                action = Action.valueOf(v.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw at(n).error("action '" + v + "' is not one of none, kill_process, kill_cgroup, freeze_cgroup,"
                        + " block_destination");
            }
        }
        Boolean enforce = null;
        if (keys.containsKey("mode")) {
            Node n = keys.get("mode").getValueNode();
            String v = scalar(n, "mode");
            if (!v.equals("monitor") && !v.equals("enforce")) {
                throw at(n).error("mode '" + v + "' is not one of monitor, enforce");
            }
            enforce = v.equals("enforce");
        }
        List<ExceptionItem> exceptions = new ArrayList<>();
        if (keys.containsKey("exceptions")) {
            Node n = keys.get("exceptions").getValueNode();
            if (!(n instanceof SequenceNode seq)) {
                throw at(n).error("exceptions: expected a list of {name, fields, values}");
            }
            for (Node e : seq.getValue()) {
                exceptions.add(exception(e));
            }
        }
        return new RuleItems.RuleItem(name, desc, condition, output, textStart((ScalarNode) outputNode), priority,
                tags, enabled, action, enforce, exceptions, at(m));
    }

    private ExceptionItem exception(Node n) {
        if (!(n instanceof MappingNode m)) {
            throw at(n).error("an exception is a mapping with name, fields and values");
        }
        Map<String, NodeTuple> keys = keys(m);
        check(keys, EXCEPTION_KEYS, "exception");
        String name = scalar(required(m, keys, "name"), "name");
        Node fieldsNode = required(m, keys, "fields");
        List<Condition.Literal> fieldLits = literals(fieldsNode, "fields");
        List<String> fields = fieldLits.stream().map(Condition.Literal::text).toList();
        List<SourcePosition> fieldPositions = fieldLits.stream().map(Condition.Literal::position).toList();
        List<String> comps = new ArrayList<>();
        if (keys.containsKey("comps")) {
            Node c = keys.get("comps").getValueNode();
            comps.addAll(literals(c, "comps").stream().map(Condition.Literal::text).toList());
            if (comps.size() != fields.size()) {
                throw at(c).error("exception '" + name + "': " + comps.size() + " comps for " + fields.size() + " fields");
            }
        } else {
            fields.forEach(f -> comps.add("="));
        }
        Node valuesNode = required(m, keys, "values");
        if (!(valuesNode instanceof SequenceNode vs)) {
            throw at(valuesNode).error("values: expected a list of tuples, one value per field");
        }
        List<List<Condition.Literal>> values = new ArrayList<>();
        for (Node tuple : vs.getValue()) {
            List<Condition.Literal> t = literals(tuple, "values");
            if (t.size() != fields.size()) {
                throw at(tuple).error("exception '" + name + "': a tuple of " + t.size() + " values for "
                        + fields.size() + " fields");
            }
            values.add(t);
        }
        return new ExceptionItem(name, fields, fieldPositions, comps, values, at(m));
    }

    /**
     * Parsed conditions and value lists by YAML node: an alias is the node it names, parsed
     * once. Aliases to scalars are not counted by rules.limits.yaml_aliases, so a long
     * condition used through thousands of aliases would otherwise be parsed thousands of times.
     */
    private final Map<Node, Condition> conditions = new java.util.IdentityHashMap<>();
    private final Map<Node, List<Condition.Literal>> literalLists = new java.util.IdentityHashMap<>();

    private Condition condition(Node n) {
        if (!(n instanceof ScalarNode s)) {
            throw at(n).error("condition: expected a string");
        }
        Condition c = conditions.get(n);
        if (c == null) {
            c = ConditionParser.parse(s.getValue(), textStart(s), limits.conditionDepth());
            conditions.put(n, c);
        }
        return c;
    }

    /** Where a scalar's text starts: after the quote, or on the line after a block indicator. */
    private SourcePosition textStart(ScalarNode s) {
        SourcePosition p = at(s);
        ScalarStyle style = s.getScalarStyle();
        if (style == ScalarStyle.DOUBLE_QUOTED || style == ScalarStyle.SINGLE_QUOTED) {
            return p.at(1);
        }
        if (style == ScalarStyle.LITERAL || style == ScalarStyle.FOLDED) {
            for (int line = p.line(); line < lines.length; line++) {
                String l = lines[line];
                if (!l.isBlank()) {
                    int indent = 0;
                    while (indent < l.length() && l.charAt(indent) == ' ') {
                        indent++;
                    }
                    return new SourcePosition(file, line + 1, indent + 1);
                }
            }
        }
        return p;
    }

    private Map<String, NodeTuple> keys(MappingNode m) {
        Map<String, NodeTuple> keys = new LinkedHashMap<>();
        for (NodeTuple t : m.getValue()) {
            if (!(t.getKeyNode() instanceof ScalarNode k)) {
                throw at(t.getKeyNode()).error("expected a plain key");
            }
            if (keys.put(k.getValue(), t) != null) {
                throw at(k).error("duplicate key '" + k.getValue() + "'");
            }
        }
        return keys;
    }

    private void check(Map<String, NodeTuple> keys, Set<String> allowed, String kind) {
        for (Map.Entry<String, NodeTuple> e : keys.entrySet()) {
            if (!allowed.contains(e.getKey())) {
                String hint = Suggestions.closest(e.getKey(), allowed, 2).map(a -> " (did you mean '" + a + "'?)")
                        .orElse(" (a " + kind + " has: " + String.join(", ", allowed.stream().sorted().toList()) + ")");
                throw at(e.getValue().getKeyNode()).error("unknown key '" + e.getKey() + "' in a " + kind + hint);
            }
        }
    }

    private Node required(MappingNode m, Map<String, NodeTuple> keys, String key) {
        NodeTuple t = keys.get(key);
        if (t == null) {
            throw at(m).error("missing '" + key + "'");
        }
        return t.getValueNode();
    }

    private String name(Map<String, NodeTuple> keys, String key) {
        Node n = keys.get(key).getValueNode();
        String v = scalar(n, key);
        if (v.isBlank()) {
            throw at(n).error(key + ": the name is empty");
        }
        return v;
    }

    private String scalar(Node n, String what) {
        if (n instanceof ScalarNode s) {
            return s.getValue();
        }
        throw at(n).error(what + ": expected a string");
    }

    private List<Condition.Literal> literals(Node n, String what) {
        if (!(n instanceof SequenceNode seq)) {
            throw at(n).error(what + ": expected a list");
        }
        List<Condition.Literal> parsed = literalLists.get(n);
        if (parsed == null) {
            parsed = List.copyOf(parseLiterals(seq, what));
            literalLists.put(n, parsed);
        }
        return parsed;
    }

    private List<Condition.Literal> parseLiterals(SequenceNode seq, String what) {
        List<Condition.Literal> out = new ArrayList<>();
        for (Node item : seq.getValue()) {
            if (!(item instanceof ScalarNode s)) {
                throw at(item).error(what + ": expected a list of plain values");
            }
            out.add(new Condition.Literal(s.getValue(), s.getScalarStyle() != ScalarStyle.PLAIN, at(s)));
        }
        return out;
    }

    private SourcePosition at(Node n) {
        return at(n.getStartMark().orElse(null));
    }

    private SourcePosition at(Mark mark) {
        return mark == null ? new SourcePosition(file, 0, 0)
                : new SourcePosition(file, mark.getLine() + 1, mark.getColumn() + 1);
    }
}
