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

/**
 * Reads one rule file (YAML) into {@link Item}s, checking the shape of every item. An item in
 * error is left out and its error kept; the others are read on, so that {@code rules check}
 * reports every error of a file at once ({@link #parseAll}).
 */
public final class RuleFileParser {
    private static final Set<String> RULE_KEYS = Set.of("rule", "desc", "condition", "output", "priority", "tags",
            "enabled", "action", "mode", "exceptions", "append", "override");
    private static final Set<String> LIST_KEYS = Set.of("list", "items", "append", "override");
    private static final Set<String> MACRO_KEYS = Set.of("macro", "condition", "append", "override");
    // what override: may append to or replace, per kind (Falco 0.36 and later); append: true (legacy) appends
    private static final Set<String> RULE_APPEND = Set.of("condition", "output", "desc", "tags", "exceptions");
    private static final Set<String> RULE_REPLACE = Set.of("condition", "output", "desc", "priority", "tags",
            "exceptions", "enabled", "action", "mode");
    private static final Set<String> RULE_LEGACY_APPEND = Set.of("condition", "exceptions");
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

    /** The items of a file; throws its first error (all of them, one per line: {@link RuleException#problems}). */
    public static List<Item> parse(String file, String text, RuleLimits limits) {
        List<RuleException> errors = new ArrayList<>();
        List<Item> items = parseAll(file, text, limits, errors, new java.util.HashSet<>());
        if (!errors.isEmpty()) {
            throw RuleException.all(errors);
        }
        return items;
    }

    /**
     * The items of a file that are well formed; each item in error goes to errors (file order)
     * and its name, where it has one, to broken (so that uses of it elsewhere are not reported
     * again as unknown).
     */
    public static List<Item> parseAll(String file, String text, RuleLimits limits, List<RuleException> errors,
                                      Set<String> broken) {
        return new RuleFileParser(file, limits).items(text, errors, broken);
    }

    private List<Item> items(String text, List<RuleException> errors, Set<String> broken) {
        Optional<Node> root;
        try {
            root = BoundedYaml.compose(file, text, limits.yaml());
        } catch (BoundedYaml.Problem e) {
            errors.add(new RuleException(e.where(file), e.overLimit()));
            return List.of();
        }
        lines = text.split("\n", -1);
        if (root.isEmpty()) {
            return List.of();
        }
        if (!(root.get() instanceof SequenceNode seq)) {
            errors.add(at(root.get()).error("a rule file is a list of items (- rule: ..., - list: ..., - macro: ...)"));
            return List.of();
        }
        List<Item> items = new ArrayList<>();
        for (Node n : seq.getValue()) {
            try {
                items.add(item(n));
            } catch (RuleException e) {
                errors.add(e);
                if (e.overLimit()) {
                    break;   // a limit is about the whole file: reading on would only cost more
                }
                String name = nameOf(n);
                if (name != null) {
                    broken.add(name);
                }
            }
        }
        return items;
    }

    /** The name an item in error was given, if it can be read. */
    private static String nameOf(Node n) {
        if (n instanceof MappingNode m) {
            for (NodeTuple t : m.getValue()) {
                if (t.getKeyNode() instanceof ScalarNode k && Set.of("rule", "list", "macro").contains(k.getValue())
                        && t.getValueNode() instanceof ScalarNode v) {
                    return v.getValue();
                }
            }
        }
        return null;
    }

    private Item item(Node n) {
        if (!(n instanceof MappingNode m)) {
            throw at(n).error("expected an item (- rule: ..., - list: ..., - macro: ...)");
        }
        Map<String, NodeTuple> keys = keys(m);
        if (keys.containsKey("rule")) {
            return rule(m, keys);
        } else if (keys.containsKey("list")) {
            check(keys, LIST_KEYS, "list");
            RuleItems.Override override = override(m, keys, "list", Set.of("items"), Set.of("items"), Set.of("items"));
            return new RuleItems.ListItem(name(keys, "list"), literals(required(m, keys, "items"), "items"), at(m),
                    override);
        } else if (keys.containsKey("macro")) {
            check(keys, MACRO_KEYS, "macro");
            RuleItems.Override override = override(m, keys, "macro", Set.of("condition"), Set.of("condition"),
                    Set.of("condition"));
            Node c = required(m, keys, "condition");
            return new RuleItems.MacroItem(name(keys, "macro"), appends(override, "condition") ? appendedCondition(c)
                    : condition(c), at(m), override);
        }
        throw at(m).error("unknown item: expected a 'rule', 'list' or 'macro' key");
    }

    private static boolean appends(RuleItems.Override o, String key) {
        return o != null && o.change(key) == RuleItems.Change.APPEND;
    }

    /**
     * override: {key: append|replace, ...} or append: true; null for a definition. Checks
     * that the keys named are given and may be changed so, and that nothing else is given.
     */
    private RuleItems.Override override(MappingNode m, Map<String, NodeTuple> keys, String kind, Set<String> appendable,
                                        Set<String> replaceable, Set<String> legacyAppendable) {
        boolean legacy = false;
        if (keys.containsKey("append")) {
            Node n = keys.get("append").getValueNode();
            String v = scalar(n, "append");
            if (!v.equals("true") && !v.equals("false")) {
                throw at(n).error("append: expected true or false");
            }
            legacy = v.equals("true");
            if (legacy && keys.containsKey("override")) {
                throw at(n).error("append: true and override: together; use override: alone (e.g. override: {condition:"
                        + " append})");
            }
        }
        java.util.Map<String, RuleItems.Change> changes = new java.util.LinkedHashMap<>();
        if (legacy) {
            for (String key : keys.keySet()) {
                if (key.equals(kind) || key.equals("append")) {
                    continue;
                }
                if (!legacyAppendable.contains(key)) {
                    throw at(keys.get(key).getKeyNode()).error("append: true appends " + String.join(" and ",
                            legacyAppendable.stream().sorted().toList()) + " only; to change '" + key + "' use override: {"
                            + key + ": " + (appendable.contains(key) ? "append" : "replace") + "}");
                }
                changes.put(key, RuleItems.Change.APPEND);
            }
            if (changes.isEmpty()) {
                throw at(m).error(kind + " '" + name(keys, kind) + "': append: true with nothing to append");
            }
            return new RuleItems.Override(Map.copyOf(changes), true, at(keys.get("append").getKeyNode()));
        }
        if (!keys.containsKey("override")) {
            return null;
        }
        Node o = keys.get("override").getValueNode();
        if (!(o instanceof MappingNode om)) {
            throw at(o).error("override: expected a mapping of keys to append or replace, e.g. override: {condition:"
                    + " append}");
        }
        Set<String> known = new java.util.TreeSet<>(appendable);
        known.addAll(replaceable);
        for (NodeTuple t : om.getValue()) {
            String key = scalar(t.getKeyNode(), "override");
            if (!known.contains(key)) {
                throw at(t.getKeyNode()).error("override: a " + kind + " has no '" + key + "' to change"
                        + Suggestions.closest(key, known, 2).map(a -> " (did you mean '" + a + "'?)")
                        .orElse(" (it has: " + String.join(", ", known) + ")"));
            }
            String how = scalar(t.getValueNode(), "override." + key);
            RuleItems.Change change = switch (how) {
                case "append" -> RuleItems.Change.APPEND;
                case "replace" -> RuleItems.Change.REPLACE;
                default -> throw at(t.getValueNode()).error("override." + key + ": '" + how
                        + "' is not append or replace");
            };
            if (change == RuleItems.Change.APPEND && !appendable.contains(key)) {
                throw at(t.getValueNode()).error("override." + key + ": '" + key + "' of a " + kind
                        + " cannot be appended to; use replace");
            }
            if (change == RuleItems.Change.REPLACE && !replaceable.contains(key)) {
                throw at(t.getValueNode()).error("override." + key + ": '" + key + "' of a " + kind
                        + " cannot be replaced; use append");
            }
            if (!keys.containsKey(key)) {
                throw at(t.getKeyNode()).error("override names '" + key + "' but the " + kind + " gives no '" + key + "'");
            }
            if (changes.put(key, change) != null) {
                throw at(t.getKeyNode()).error("override names '" + key + "' twice");
            }
        }
        if (changes.isEmpty()) {
            throw at(o).error("override: names nothing to append or replace");
        }
        for (String key : keys.keySet()) {
            if (!key.equals(kind) && !key.equals("override") && !key.equals("append") && !changes.containsKey(key)) {
                throw at(keys.get(key).getKeyNode()).error("'" + key + "' is given but override does not name it (add "
                        + key + ": " + (appendable.contains(key) ? "append or " : "") + "replace to override:)");
            }
        }
        return new RuleItems.Override(Map.copyOf(changes), false, at(keys.get("override").getKeyNode()));
    }

    private RuleItems.RuleItem rule(MappingNode m, Map<String, NodeTuple> keys) {
        check(keys, RULE_KEYS, "rule");
        String name = name(keys, "rule");
        RuleItems.Override override = override(m, keys, "rule", RULE_APPEND, RULE_REPLACE, RULE_LEGACY_APPEND);
        boolean change = override != null;
        if (!change) {
            for (String key : List.of("desc", "condition", "output", "priority")) {
                if (!keys.containsKey(key)) {
                    // most likely a change of a pack rule written without override:
                    List<String> given = keys.keySet().stream().filter(k -> !k.equals("rule")).toList();
                    throw at(m).error("missing '" + key + "' (a new rule needs desc, condition, output and priority"
                            + (given.isEmpty() ? "" : "; to change the earlier rule '" + name + "', add override: {"
                            + String.join(", ", given.stream().map(k -> k + ": " + (RULE_LEGACY_APPEND.contains(k)
                            ? "append" : "replace")).toList()) + "}") + ")");
                }
            }
        }
        String desc = change && !keys.containsKey("desc") ? null : scalar(required(m, keys, "desc"), "desc");
        Condition condition = change && !keys.containsKey("condition") ? null
                : appends(override, "condition") ? appendedCondition(keys.get("condition").getValueNode())
                : condition(required(m, keys, "condition"));
        Node outputNode = change && !keys.containsKey("output") ? null : required(m, keys, "output");
        String output = outputNode == null ? null : scalar(outputNode, "output");
        Priority priority = null;
        if (!change || keys.containsKey("priority")) {
            Node priorityNode = required(m, keys, "priority");
            String priorityText = scalar(priorityNode, "priority").toUpperCase(Locale.ROOT);
            try {
                priority = Priority.valueOf(priorityText.equals("INFO") ? "INFORMATIONAL" : priorityText);
            } catch (IllegalArgumentException e) {
                throw at(priorityNode).error("priority '" + priorityText + "' is not one of EMERGENCY, ALERT, CRITICAL,"
                        + " ERROR, WARNING, NOTICE, INFORMATIONAL, DEBUG");
            }
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
        Action action = change && !keys.containsKey("action") ? null : Action.NONE;
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
                exceptions.add(exception(e, appends(override, "exceptions")));
            }
        }
        return new RuleItems.RuleItem(name, desc, condition, output,
                outputNode == null ? null : textStart((ScalarNode) outputNode), priority, tags, enabled, action, enforce,
                exceptions, at(m), override);
    }

    /** appending: fields (and comps) may be left out to add values to the earlier exception of the name. */
    private ExceptionItem exception(Node n, boolean appending) {
        if (!(n instanceof MappingNode m)) {
            throw at(n).error("an exception is a mapping with name, fields and values");
        }
        Map<String, NodeTuple> keys = keys(m);
        check(keys, EXCEPTION_KEYS, "exception");
        String name = scalar(required(m, keys, "name"), "name");
        if (appending && !keys.containsKey("fields")) {
            if (keys.containsKey("comps")) {
                throw at(keys.get("comps").getKeyNode()).error("exception '" + name + "': comps without fields");
            }
            Node valuesNode = required(m, keys, "values");
            if (!(valuesNode instanceof SequenceNode vs)) {
                throw at(valuesNode).error("values: expected a list of tuples, one value per field");
            }
            List<List<Condition.Literal>> values = new ArrayList<>();
            for (Node tuple : vs.getValue()) {
                values.add(literals(tuple, "values"));   // sizes checked against the earlier exception's fields
            }
            return new ExceptionItem(name, List.of(), List.of(), List.of(), values, at(m));
        }
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

    /**
     * An appended condition: text that continues the earlier one ("and not ..."), as Falco
     * appends "(earlier) text". Parsed as "PREVIOUS text" with positions of the text as written;
     * the merger puts the earlier condition where PREVIOUS is.
     */
    private Condition appendedCondition(Node n) {
        if (!(n instanceof ScalarNode s)) {
            throw at(n).error("condition: expected a string");
        }
        String prefix = RuleMerger.PREVIOUS + " ";
        try {
            return ConditionParser.parse(prefix + s.getValue(), textStart(s).at(-prefix.length()), limits.conditionDepth());
        } catch (RuleException e) {
            if (e.getMessage().contains("unexpected '") && s.getValue().strip().split("\\s+")[0].matches("[^ ]+")
                    && !s.getValue().strip().matches("(?s)(and|or)\\b.*")) {
                throw new RuleException(e.getMessage() + " (an appended condition continues the earlier one: start it"
                        + " with 'and' or 'or', e.g. 'and not proc.name = x')", e.overLimit(), e.position());
            }
            throw e;
        }
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
