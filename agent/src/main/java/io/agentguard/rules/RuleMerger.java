package io.agentguard.rules;

import io.agentguard.rules.RuleItems.Change;
import io.agentguard.rules.RuleItems.ExceptionItem;
import io.agentguard.rules.RuleItems.Item;
import io.agentguard.rules.RuleItems.ListItem;
import io.agentguard.rules.RuleItems.MacroItem;
import io.agentguard.rules.RuleItems.RuleItem;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Applies Falco's tuning semantics to the items of all rule files, in load order (the default
 * pack first, then each rule file): an item with {@code override:} (or the legacy
 * {@code append: true}) changes the item of the same name defined before it, which keeps its
 * place (and so its order among rules and its rule_source); an item with a name already
 * defined and no override is an error naming both places. So an operator silences or narrows
 * a pack rule from /etc/agentguard/rules.d/ without copying the pack.
 *
 * <ul>
 *   <li>list items: append concatenates, replace replaces;</li>
 *   <li>condition (macro, rule): append makes {@code (earlier) appended-text}, as Falco does
 *       (the text starts with "and ..." or "or ..."); replace replaces;</li>
 *   <li>output, desc: append adds the text after a space; tags: append adds the new ones;</li>
 *   <li>exceptions: append adds values to the earlier exception of the same name (its fields),
 *       or adds an exception of a new name; replace replaces them all;</li>
 *   <li>priority, enabled, action, mode: replace.</li>
 * </ul>
 * Lists, macros and rules have names of their own (a list and a macro may share one).
 */
public final class RuleMerger {
    /** Where an appended condition's earlier condition goes (a name no field or macro has). */
    public static final String PREVIOUS = "agentguard.earlier_condition";

    private final List<Item> merged = new ArrayList<>();
    private final Map<String, Integer> lists = new HashMap<>();
    private final Map<String, Integer> macros = new HashMap<>();
    private final Map<String, Integer> rules = new HashMap<>();
    private final List<RuleException> errors;
    private final Set<String> broken;

    private RuleMerger(List<RuleException> errors, Set<String> broken) {
        this.errors = errors;
        this.broken = broken;
    }

    /**
     * The merged items, each definition at its place, changed by the overriding items after
     * it. An item in error is left out, its error added to errors; broken: names of items that
     * did not even parse (a change of one of them is not reported again).
     */
    public static List<Item> merge(List<List<Item>> files, List<RuleException> errors, Set<String> broken) {
        RuleMerger m = new RuleMerger(errors, broken);
        for (List<Item> file : files) {
            for (Item item : file) {
                try {
                    m.add(item);
                } catch (RuleException e) {
                    errors.add(e);
                }
            }
        }
        return m.merged;
    }

    private void add(Item item) {
        Map<String, Integer> names = switch (item) {
            case ListItem l -> lists;
            case MacroItem mi -> macros;
            case RuleItem r -> rules;
        };
        String kind = kind(item);
        Integer at = names.get(item.name());
        if (item.override() == null) {
            if (at != null) {
                throw item.position().error(kind + " '" + item.name() + "' is already defined at "
                        + merged.get(at).position() + "; to change it, add override: (e.g. override: {"
                        + (item instanceof ListItem ? "items" : "condition") + ": append}) or append: true");
            }
            if (item instanceof MacroItem m && mentionsPrevious(m.condition())
                    || item instanceof RuleItem r && mentionsPrevious(r.condition())) {
                throw item.position().error(kind + " '" + item.name() + "': '" + PREVIOUS + "' is reserved");
            }
            names.put(item.name(), merged.size());
            merged.add(item);
            return;
        }
        if (at == null) {
            if (broken.contains(item.name())) {
                return;   // its definition is in error, reported where it is
            }
            throw item.override().position().error(kind + " '" + item.name() + "': "
                    + (item.override().legacyAppend() ? "append: true" : "override:") + " changes an earlier " + kind
                    + " of this name, and there is none" + (names == rules ? "" : " (lists, macros and rules have"
                    + " names of their own)"));
        }
        merged.set(at, switch (item) {
            case ListItem l -> list((ListItem) merged.get(at), l);
            case MacroItem m -> macro((MacroItem) merged.get(at), m);
            case RuleItem r -> rule((RuleItem) merged.get(at), r);
        });
    }

    private static String kind(Item item) {
        return switch (item) {
            case ListItem l -> "list";
            case MacroItem m -> "macro";
            case RuleItem r -> "rule";
        };
    }

    private static ListItem list(ListItem earlier, ListItem change) {
        List<Condition.Literal> items = change.override().change("items") == Change.APPEND
                ? concat(earlier.items(), change.items()) : change.items();
        return new ListItem(earlier.name(), items, earlier.position(), null);
    }

    private static MacroItem macro(MacroItem earlier, MacroItem change) {
        return new MacroItem(earlier.name(), condition(earlier.condition(), change.condition(),
                change.override().change("condition")), earlier.position(), null);
    }

    private static Condition condition(Condition earlier, Condition change, Change how) {
        return how == Change.APPEND ? substitute(change, earlier) : change;
    }

    private RuleItem rule(RuleItem e, RuleItem c) {
        RuleItems.Override o = c.override();
        Condition condition = o.change("condition") == null ? e.condition()
                : condition(e.condition(), c.condition(), o.change("condition"));
        String output = e.output();
        SourcePosition outputPosition = e.outputPosition();
        if (o.change("output") == Change.APPEND) {
            output = e.output() + " " + c.output();
        } else if (o.change("output") == Change.REPLACE) {
            output = c.output();
            outputPosition = c.outputPosition();
        }
        String desc = o.change("desc") == null ? e.description()
                : o.change("desc") == Change.APPEND ? e.description() + " " + c.description() : c.description();
        List<String> tags = e.tags();
        if (o.change("tags") == Change.APPEND) {
            Set<String> all = new LinkedHashSet<>(e.tags());
            all.addAll(c.tags());
            tags = List.copyOf(all);
        } else if (o.change("tags") == Change.REPLACE) {
            tags = c.tags();
        }
        List<ExceptionItem> exceptions = e.exceptions();
        if (o.change("exceptions") == Change.APPEND) {
            exceptions = appendExceptions(e, c);
        } else if (o.change("exceptions") == Change.REPLACE) {
            for (ExceptionItem x : c.exceptions()) {
                if (x.fields().isEmpty()) {
                    throw x.position().error("exception '" + x.name() + "': fields are needed to replace the exceptions");
                }
            }
            exceptions = c.exceptions();
        }
        return new RuleItem(e.name(), desc, condition, output, outputPosition,
                o.change("priority") != null ? c.priority() : e.priority(), tags,
                o.change("enabled") != null ? c.enabled() : e.enabled(),
                o.change("action") != null ? c.action() : e.action(),
                o.change("mode") != null ? c.enforce() : e.enforce(), exceptions, e.position(), null);
    }

    /** Values of an exception of a known name join it (its fields); a new name is a new exception. */
    private static List<ExceptionItem> appendExceptions(RuleItem e, RuleItem c) {
        List<ExceptionItem> out = new ArrayList<>(e.exceptions());
        for (ExceptionItem x : c.exceptions()) {
            int i = 0;
            while (i < out.size() && !out.get(i).name().equals(x.name())) {
                i++;
            }
            if (i == out.size()) {
                if (x.fields().isEmpty()) {
                    throw x.position().error("exception '" + x.name() + "': rule '" + e.name() + "' has no exception of"
                            + " this name to add values to; give its fields to add a new one");
                }
                out.add(x);
                continue;
            }
            ExceptionItem earlier = out.get(i);
            if (!x.fields().isEmpty() && (!x.fields().equals(earlier.fields()) || !x.comps().equals(earlier.comps()))) {
                throw x.position().error("exception '" + x.name() + "': fields " + x.fields() + " (comps " + x.comps()
                        + ") differ from the earlier exception's " + earlier.fields() + " (comps " + earlier.comps()
                        + ", " + earlier.position() + "); leave fields out to add values to it");
            }
            for (List<Condition.Literal> tuple : x.values()) {
                if (tuple.size() != earlier.fields().size()) {
                    throw (tuple.isEmpty() ? x.position() : tuple.getFirst().position()).error("exception '" + x.name()
                            + "': a tuple of " + tuple.size() + " values for " + earlier.fields().size() + " fields "
                            + earlier.fields());
                }
            }
            out.set(i, new ExceptionItem(earlier.name(), earlier.fields(), earlier.fieldPositions(), earlier.comps(),
                    concat(earlier.values(), x.values()), earlier.position()));
        }
        return out;
    }

    private static <T> List<T> concat(List<T> a, List<T> b) {
        List<T> out = new ArrayList<>(a);
        out.addAll(b);
        return List.copyOf(out);
    }

    /** The appended condition with the earlier one where PREVIOUS stands. */
    static Condition substitute(Condition c, Condition earlier) {
        return switch (c) {
            case Condition.Name n -> n.name().equals(PREVIOUS) ? earlier : n;
            case Condition.And a -> new Condition.And(a.terms().stream().map(t -> substitute(t, earlier)).toList(),
                    a.position());
            case Condition.Or o -> new Condition.Or(o.terms().stream().map(t -> substitute(t, earlier)).toList(),
                    o.position());
            case Condition.Not n -> new Condition.Not(substitute(n.term(), earlier), n.position());
            case Condition.Compare cmp -> cmp;
        };
    }

    private static boolean mentionsPrevious(Condition c) {
        return switch (c) {
            case Condition.Name n -> n.name().equals(PREVIOUS);
            case Condition.And a -> a.terms().stream().anyMatch(RuleMerger::mentionsPrevious);
            case Condition.Or o -> o.terms().stream().anyMatch(RuleMerger::mentionsPrevious);
            case Condition.Not n -> mentionsPrevious(n.term());
            case Condition.Compare cmp -> false;
        };
    }
}
