package io.agentguard.rules;

import io.agentguard.rules.Condition.Literal;
import io.agentguard.rules.RuleItems.ExceptionItem;
import io.agentguard.rules.RuleItems.Item;
import io.agentguard.rules.RuleItems.ListItem;
import io.agentguard.rules.RuleItems.MacroItem;
import io.agentguard.rules.RuleItems.RuleItem;
import io.agentguard.text.Suggestions;

import com.google.re2j.Pattern;
import com.google.re2j.PatternSyntaxException;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Compiles rule files into a {@link RuleSet}: every file parsed, then merged ({@link
 * RuleMerger}: override and append change earlier items), then names resolved (lists, macros,
 * fields: any file's, wherever defined), types checked, each comparison turned into the
 * matching structure for its operator and literals, each rule indexed by the event types it can
 * match. An item in error is left out and compilation goes on, so that every error is reported
 * (in file order, one per line); any error fails the whole compilation: a rule set is applied
 * entirely or not at all.
 */
public final class RuleCompiler {
    /** One file's text and the name errors should use for it. */
    public record Source(String name, String text) {
    }

    private final Map<String, ListItem> lists = new HashMap<>();
    private final Map<String, MacroItem> macros = new HashMap<>();
    private final Deque<String> macroStack = new ArrayDeque<>();
    private final RuleLimits limits;
    private final Set<String> broken;   // items that did not parse: uses of their names are not errors of their own
    /** A use of a broken item: its own error is reported where it is, this one is not. */
    private static final RuleException ALREADY_REPORTED = new RuleException("(reported where it is defined)");
    private int compiledSize;   // nodes and values compiled so far, macros' own checks included
    private int depth;          // of the condition being compiled, through macros

    private RuleCompiler(RuleLimits limits, Set<String> broken) {
        this.limits = limits;
        this.broken = broken;
    }

    public static RuleSet compile(List<Source> sources) {
        return compile(sources, RuleLimits.DEFAULT);
    }

    /**
     * Compiles within limits: something over one is an error, like a syntax error (and ends the
     * compilation: going on would only cost more). Throws a RuleException carrying every error,
     * in file order ({@link RuleException#problems}).
     */
    public static RuleSet compile(List<Source> sources, RuleLimits limits) {
        List<RuleException> errors = new ArrayList<>();
        Set<String> broken = new java.util.HashSet<>();
        List<String> names = new ArrayList<>();
        List<List<Item>> files = new ArrayList<>();
        for (Source s : sources) {
            names.add(s.name());
            files.add(RuleFileParser.parseAll(s.name(), s.text(), limits, errors, broken));
            if (errors.stream().anyMatch(RuleException::overLimit)) {
                throw failed(errors, names);
            }
        }
        List<Item> items = RuleMerger.merge(files, errors, broken);
        RuleCompiler c = new RuleCompiler(limits, broken);
        for (Item item : items) {   // names first: an item may use a list or macro any file defines
            switch (item) {
                case ListItem l -> c.lists.put(l.name(), l);
                case MacroItem m -> c.macros.put(m.name(), m);
                case RuleItem r -> {
                }
            }
        }
        List<CompiledRule> rules = new ArrayList<>();
        for (Item item : items) {
            try {
                CompiledRule r = c.add(item);
                if (r != null) {
                    rules.add(r);
                }
            } catch (RuleException e) {
                if (e != ALREADY_REPORTED) {
                    errors.add(e);
                }
                if (e.overLimit()) {
                    break;
                }
            }
        }
        if (!errors.isEmpty()) {
            throw failed(errors, names);
        }
        return new RuleSet(rules, names);
    }

    /** Every error once, in file order (the sources' order, then line and column). */
    private static RuleException failed(List<RuleException> errors, List<String> sourceNames) {
        Map<String, RuleException> once = new java.util.LinkedHashMap<>();
        for (RuleException e : errors) {
            once.putIfAbsent(e.getMessage(), e);
        }
        List<RuleException> sorted = new ArrayList<>(once.values());
        sorted.sort(java.util.Comparator.comparingInt((RuleException e) -> e.position() == null ? -1
                        : sourceNames.indexOf(e.position().file()))
                .thenComparingInt(e -> e.position() == null ? 0 : e.position().line())
                .thenComparingInt(e -> e.position() == null ? 0 : e.position().column()));
        return RuleException.all(sorted);
    }

    private CompiledRule add(Item item) {
        switch (item) {
            case ListItem l -> {
                return null;
            }
            case MacroItem m -> {
                compile(m.condition());   // report errors where the macro is, not where it is used
                return null;
            }
            case RuleItem r -> {
                CompiledCondition condition = compile(r.condition());
                int eventTypes = eventTypes(r.condition());
                if (!r.exceptions().isEmpty()) {
                    condition = new CompiledCondition.And(new CompiledCondition[] {condition,
                            new CompiledCondition.Not(exceptions(r.exceptions()))});
                }
                OutputTemplate output = OutputTemplate.compile(r.output(), r.outputPosition());
                if (!r.enabled()) {
                    return null;
                }
                if (eventTypes == 0) {
                    throw r.condition().position().error("rule '" + r.name() + "' can never match: no event type has"
                            + " all the fields its condition requires");
                }
                return new CompiledRule(r.name(), r.description(), r.priority(), r.tags(), r.action(), r.enforce(),
                        condition, output, eventTypes, r.position());
            }
        }
    }

    private CompiledCondition exceptions(List<ExceptionItem> exceptions) {
        List<CompiledCondition> any = new ArrayList<>();
        for (ExceptionItem e : exceptions) {
            for (List<Literal> tuple : e.values()) {
                CompiledCondition[] all = new CompiledCondition[e.fields().size()];
                for (int i = 0; i < all.length; i++) {
                    Literal v = tuple.get(i);
                    String comp = e.comps().get(i);
                    // a bare name of a list stands for its items (Falco's values: [[my_list]]): = becomes in
                    boolean list = !v.quoted() && lists.containsKey(v.text());
                    if (list && !comp.equals("=") && !comp.equals("in")) {
                        throw v.position().error("exception '" + e.name() + "': '" + v.text() + "' is a list, which"
                                + " comp '" + comp + "' cannot take (use = or in)");
                    }
                    boolean many = list || comp.equals("in");
                    Condition.Compare cmp = new Condition.Compare(e.fields().get(i), e.fieldPositions().get(i),
                            many ? "in" : comp, List.of(v), many, v.position());
                    all[i] = compile(cmp);
                }
                any.add(all.length == 1 ? all[0] : new CompiledCondition.And(all));
            }
        }
        return any.size() == 1 ? any.getFirst() : new CompiledCondition.Or(any.toArray(CompiledCondition[]::new));
    }

    // ---- conditions ------------------------------------------------------------------------

    /**
     * Each node compiled counts towards rules.limits.compiled_size, and the depth through
     * macros is bounded: macros that use each other twice over would otherwise double the tree
     * at each level (a few hundred bytes of YAML, gigabytes of nodes), and a chain of thousands
     * would overflow the stack.
     */
    private CompiledCondition compile(Condition c) {
        grow(1, c.position());
        if (++depth > limits.conditionDepth()) {
            throw c.position().overLimit("condition nested " + depth + " levels deep through macros, over the limit of "
                    + limits.conditionDepth() + " " + RuleLimits.key("condition_depth"));
        }
        try {
            return compileNode(c);
        } finally {
            depth--;
        }
    }

    private void grow(int n, SourcePosition at) {
        compiledSize += n;
        if (compiledSize > limits.compiledSize()) {
            throw at.overLimit("the rules compile to more than " + limits.compiledSize() + " nodes and values (here: "
                    + compiledSize + "), over the limit of " + limits.compiledSize() + " "
                    + RuleLimits.key("compiled_size"));
        }
    }

    private CompiledCondition compileNode(Condition c) {
        return switch (c) {
            case Condition.And a -> new CompiledCondition.And(a.terms().stream().map(this::compile)
                    .toArray(CompiledCondition[]::new));
            case Condition.Or o -> new CompiledCondition.Or(o.terms().stream().map(this::compile)
                    .toArray(CompiledCondition[]::new));
            case Condition.Not n -> new CompiledCondition.Not(compile(n.term()));
            case Condition.Name n -> name(n);
            case Condition.Compare cmp -> compare(cmp);
        };
    }

    private CompiledCondition name(Condition.Name n) {
        MacroItem macro = macros.get(n.name());
        if (macro != null) {
            return withMacro(n, macro, () -> compile(macro.condition()));
        }
        Field f = Field.byName(n.name());
        if (f != null) {
            if (f.type() != Field.Type.BOOL) {
                throw n.position().error("'" + n.name() + "' is " + article(f.type()) + " field: compare it with an"
                        + " operator");
            }
            return new CompiledCondition.BoolCompare(f, true);
        }
        if (lists.containsKey(n.name())) {
            throw n.position().error("'" + n.name() + "' is a list: use it as an operand, e.g. proc.name in ("
                    + n.name() + ")");
        }
        if (broken.contains(n.name())) {
            throw ALREADY_REPORTED;
        }
        if (n.name().equals(RuleMerger.PREVIOUS)) {
            throw n.position().error("'" + RuleMerger.PREVIOUS + "' is reserved");
        }
        String falco = FalcoNames.macro(n.name());
        if (falco != null) {
            throw n.position().error("unknown macro '" + n.name() + "' (Falco macro; agentguard: " + falco + ")");
        }
        throw n.position().error("unknown macro or field '" + n.name() + "'" + suggestName(n.name()));
    }

    private <T> T withMacro(Condition.Name use, MacroItem macro, java.util.function.Supplier<T> body) {
        if (macroStack.contains(macro.name())) {
            List<String> cycle = new ArrayList<>(macroStack.reversed());
            cycle = cycle.subList(cycle.indexOf(macro.name()), cycle.size());
            throw use.position().error("macro cycle: " + String.join(" -> ", cycle) + " -> " + macro.name());
        }
        macroStack.push(macro.name());
        try {
            return body.get();
        } finally {
            macroStack.pop();
        }
    }

    private CompiledCondition compare(Condition.Compare cmp) {
        String fieldName = cmp.field();
        int ancestor = 0;
        Field f;
        if (fieldName.startsWith("proc.aname[")) {
            OutputTemplate.FieldRef ref = OutputTemplate.resolve(fieldName, cmp.fieldPosition());
            f = ref.field();
            ancestor = ref.ancestorIndex();
        } else {
            f = Field.byName(fieldName);
        }
        if (f == null) {
            throw cmp.fieldPosition().error("unknown field '" + fieldName + "'" + suggestField(fieldName));
        }
        String op = cmp.operator();
        List<Literal> values = expand(cmp.values(), cmp.listSyntax());
        boolean many = values.size() > 1 || cmp.listSyntax();
        switch (op) {
            case "=", "!=", "<", "<=", ">", ">=" -> {
                if (many) {
                    throw cmp.position().error("'" + op + "' takes one value; use 'in' for a list");
                }
            }
            default -> {
            }
        }
        boolean negate = op.equals("!=");
        return switch (f.type()) {
            case STRING -> stringCompare(f, ancestor, op, values, negate, cmp);
            case INT -> numberCompare(f, op, values, cmp);
            case BOOL -> {
                if (!op.equals("=") && !op.equals("!=")) {
                    throw cmp.position().error("operator '" + op + "' does not apply to bool field '" + fieldName
                            + "' (use = or !=)");
                }
                Literal v = values.getFirst();
                if (!v.text().equals("true") && !v.text().equals("false")) {
                    throw v.position().error("'" + fieldName + "' is a bool; \"" + v.text() + "\" is not true or false");
                }
                yield new CompiledCondition.BoolCompare(f, v.text().equals("true") != negate);
            }
            case IP -> ipCompare(f, op, values, negate, cmp);
        };
    }

    private CompiledCondition stringCompare(Field f, int ancestor, String op, List<Literal> values, boolean negate,
                                            Condition.Compare cmp) {
        switch (op) {
            case "<", "<=", ">", ">=", "cidr" -> throw cmp.position().error("operator '" + op + "' needs "
                    + (op.equals("cidr") ? "an ip" : "an int") + " field; '" + cmp.field() + "' is a string");
            default -> {
            }
        }
        List<String> texts = values.stream().map(Literal::text).toList();
        if (f == Field.EVT_TYPE) {
            if (!op.equals("=") && !op.equals("!=") && !op.equals("in")) {
                throw cmp.position().error("evt.type takes =, != or in");
            }
            int mask = 0;
            for (Literal v : values) {
                int t = Field.eventType(v.text());
                if (t < 0) {
                    String falco = FalcoNames.eventType(v.text());
                    throw v.position().error("unknown event type '" + v.text() + "' (" + (falco != null
                            ? "Falco name; agentguard: " + falco : "exec, fork, exit, connect, gpu_open, gpu_ioctl") + ")");
                }
                mask |= 1 << t;
            }
            return new CompiledCondition.EventTypeIn(mask, negate);
        }
        if (op.equals("regex") || op.equals("glob")) {
            for (Literal v : values) {
                try {
                    Pattern.compile(op.equals("glob") ? StringMatcher.globToRegex(v.text()) : v.text());
                } catch (PatternSyntaxException e) {
                    throw v.position().error("invalid " + op + " '" + v.text() + "': " + e.getDescription());
                }
            }
        }
        StringMatcher matcher = StringMatcher.of(op, texts);
        if (f == Field.PROC_ANAME) {
            return ancestor == 0 ? new CompiledCondition.AnyAncestor(matcher, negate)
                    : new CompiledCondition.NthAncestor(ancestor, matcher, negate);
        }
        return new CompiledCondition.StringCompare(f, matcher, negate);
    }

    private CompiledCondition numberCompare(Field f, String op, List<Literal> values, Condition.Compare cmp) {
        long[] numbers = new long[values.size()];
        for (int i = 0; i < numbers.length; i++) {
            Literal v = values.get(i);
            try {
                String t = v.text().replace("_", "");
                numbers[i] = t.startsWith("0x") || t.startsWith("0X") ? Long.parseUnsignedLong(t.substring(2), 16)
                        : Long.parseLong(t);
            } catch (NumberFormatException e) {
                throw v.position().error("'" + cmp.field() + "' is an int; \"" + v.text() + "\" is not a number");
            }
        }
        CompiledCondition.NumberCompare.Op o = switch (op) {
            case "=" -> CompiledCondition.NumberCompare.Op.EQ;
            case "!=" -> CompiledCondition.NumberCompare.Op.NE;
            case "<" -> CompiledCondition.NumberCompare.Op.LT;
            case "<=" -> CompiledCondition.NumberCompare.Op.LE;
            case ">" -> CompiledCondition.NumberCompare.Op.GT;
            case ">=" -> CompiledCondition.NumberCompare.Op.GE;
            case "in" -> CompiledCondition.NumberCompare.Op.IN;
            default -> throw cmp.position().error("operator '" + op + "' does not apply to int field '" + cmp.field()
                    + "' (use =, !=, <, <=, >, >= or in)");
        };
        return new CompiledCondition.NumberCompare(f, o, numbers[0], o == CompiledCondition.NumberCompare.Op.IN
                ? numbers : null);
    }

    private CompiledCondition ipCompare(Field f, String op, List<Literal> values, boolean negate, Condition.Compare cmp) {
        switch (op) {
            case "=", "!=", "in", "cidr" -> {
            }
            default -> throw cmp.position().error("operator '" + op + "' does not apply to ip field '" + cmp.field()
                    + "' (use =, !=, in or cidr)");
        }
        List<long[]> ranges = new ArrayList<>();
        for (Literal v : values) {
            boolean network = v.text().contains("/");
            if (network && !op.equals("cidr") && !op.equals("in")) {
                throw v.position().error("'" + v.text() + "' is a network: use cidr");
            }
            try {
                ranges.add(IpRanges.parseRange(v.text(), true));
            } catch (IllegalArgumentException e) {
                throw v.position().error("invalid " + (network || op.equals("cidr") ? "CIDR" : "IP address") + " '"
                        + v.text() + "' (" + e.getMessage() + ")");
            }
        }
        return new CompiledCondition.IpIn(IpRanges.of(ranges), negate);
    }

    /** Parenthesised operands may name lists; list items may name lists too. */
    private List<Literal> expand(List<Literal> values, boolean listSyntax) {
        if (!listSyntax) {
            return values;
        }
        List<Literal> out = new ArrayList<>();
        for (Literal v : values) {
            expandInto(v, v, out, new ArrayDeque<>());
        }
        grow(out.size(), values.getFirst().position());
        return out;
    }

    /** Lists in lists are expanded as written, each use again: the count is checked as it grows. */
    private void expandInto(Literal operand, Literal v, List<Literal> out, Deque<String> seen) {
        ListItem list = v.quoted() ? null : lists.get(v.text());
        if (list == null) {
            if (!v.quoted() && looksLikeListName(v.text()) && !lists.containsKey(v.text()) && similarList(v.text()) != null) {
                throw v.position().error("unknown list '" + v.text() + "' (did you mean '" + similarList(v.text()) + "'?)");
            }
            if (out.size() >= limits.listItems()) {
                throw operand.position().overLimit("'" + operand.text() + "' expands to more than " + limits.listItems()
                        + " values (lists in lists), over the limit of " + limits.listItems() + " "
                        + RuleLimits.key("list_items"));
            }
            out.add(v);
            return;
        }
        if (seen.contains(list.name())) {
            throw v.position().error("list cycle: " + String.join(" -> ", seen) + " -> " + list.name());
        }
        if (seen.size() >= limits.conditionDepth()) {   // a chain of thousands of lists would overflow the stack
            throw operand.position().overLimit("'" + operand.text() + "' nests lists " + (seen.size() + 1)
                    + " levels deep, over the limit of " + limits.conditionDepth() + " " + RuleLimits.key("condition_depth"));
        }
        // each list walked counts towards compiled_size: references to empty lists add no value,
        // so without this a few lines of lists of lists of an empty list are walked 10^n times
        grow(1, operand.position());
        seen.push(list.name());
        for (Literal item : list.items()) {
            expandInto(operand, item, out, seen);
        }
        seen.pop();
    }

    /** [a-z][a-z0-9_]*_[a-z0-9_]+, checked in one pass (the regex backtracks on long runs of '_'). */
    static boolean looksLikeListName(String s) {
        if (s.length() < 3 || s.charAt(0) < 'a' || s.charAt(0) > 'z') {
            return false;
        }
        boolean underscore = false;
        for (int i = 1; i < s.length(); i++) {
            char c = s.charAt(i);
            if (!(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_')) {
                return false;
            }
            underscore |= c == '_' && i < s.length() - 1;
        }
        return underscore;
    }

    private String similarList(String name) {
        return Suggestions.closest(name, lists.keySet(), 2).orElse(null);
    }

    // ---- event types a rule can match ---------------------------------------------------

    /** Bit N: the condition can hold for record type N (unknown fields make comparisons false). */
    private int eventTypes(Condition c) {
        return switch (c) {
            case Condition.And a -> a.terms().stream().mapToInt(this::eventTypes).reduce(Field.ALL_EVENT_TYPES, (x, y) -> x & y);
            case Condition.Or o -> o.terms().stream().mapToInt(this::eventTypes).reduce(0, (x, y) -> x | y);
            case Condition.Not n -> Field.ALL_EVENT_TYPES;
            case Condition.Name n -> {
                MacroItem m = macros.get(n.name());
                if (m != null) {
                    yield withMacro(n, m, () -> eventTypes(m.condition()));
                }
                Field f = Field.byName(n.name());
                yield f != null ? f.eventTypes() : Field.ALL_EVENT_TYPES;
            }
            case Condition.Compare cmp -> {
                Field f = cmp.field().startsWith("proc.aname[") ? Field.PROC_ANAME : Field.byName(cmp.field());
                if (f == Field.EVT_TYPE && !cmp.operator().equals("!=")) {
                    int mask = 0;
                    for (Literal v : cmp.values()) {
                        int t = Field.eventType(v.text());
                        if (t > 0) {
                            mask |= 1 << t;
                        }
                    }
                    yield mask;
                }
                yield f == null ? Field.ALL_EVENT_TYPES : f.eventTypes() & Field.ALL_EVENT_TYPES;
            }
        };
    }

    // ---- suggestions -------------------------------------------------------------------------

    static String suggestField(String name) {
        String falco = FalcoNames.field(name);
        if (falco != null) {
            return " (Falco name; agentguard: " + falco + ")";
        }
        return Suggestions.didYouMean(name, Field.names(), 3);
    }

    private String suggestName(String name) {
        List<String> candidates = new ArrayList<>(macros.keySet());
        candidates.addAll(Field.names());
        return Suggestions.didYouMean(name, candidates, 2);
    }

    private static String article(Field.Type t) {
        return t == Field.Type.INT ? "an int" : t == Field.Type.IP ? "an ip" : "a " + t.lower();
    }
}
