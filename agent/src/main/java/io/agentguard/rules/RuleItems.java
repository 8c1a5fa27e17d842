package io.agentguard.rules;

import java.util.List;
import java.util.Map;

/** The items of rule files as written, with positions for errors. */
public final class RuleItems {
    private RuleItems() {
    }

    public enum Priority { EMERGENCY, ALERT, CRITICAL, ERROR, WARNING, NOTICE, INFORMATIONAL, DEBUG }

    public enum Action { NONE, KILL_PROCESS, KILL_CGROUP, FREEZE_CGROUP, BLOCK_DESTINATION }

    /** How an item changes one key of the earlier item of its name (Falco's override: {key: append|replace}). */
    public enum Change { APPEND, REPLACE }

    /**
     * An item that changes the item of the same name from an earlier file (or earlier in its
     * file) instead of defining one: Falco's {@code override: {key: append|replace}}, or the
     * legacy {@code append: true} (legacy: every key given is appended). Only the keys named
     * are given; the rest are null in the item.
     */
    public record Override(Map<String, Change> keys, boolean legacyAppend, SourcePosition position) {
        public Change change(String key) {
            return keys.get(key);
        }
    }

    public sealed interface Item permits ListItem, MacroItem, RuleItem {
        String name();

        SourcePosition position();

        /** null: a definition. */
        Override override();
    }

    public record ListItem(String name, List<Condition.Literal> items, SourcePosition position, Override override)
            implements Item {
    }

    /** An appending macro's condition holds {@link RuleMerger#PREVIOUS} where the earlier condition goes. */
    public record MacroItem(String name, Condition condition, SourcePosition position, Override override) implements Item {
    }

    /** fields empty: an exception appended to the earlier one of its name, which has the fields. */
    public record ExceptionItem(String name, List<String> fields, List<SourcePosition> fieldPositions,
                                List<String> comps, List<List<Condition.Literal>> values, SourcePosition position) {
    }

    /**
     * @param enforce the rule's mode for its action: true enforce, false monitor, null the policy's/global.
     *                In an overriding item, a key not named by the override is null (enabled: true).
     */
    public record RuleItem(String name, String description, Condition condition, String output,
                           SourcePosition outputPosition, Priority priority, List<String> tags, boolean enabled,
                           Action action, Boolean enforce, List<ExceptionItem> exceptions,
                           SourcePosition position, Override override) implements Item {
    }
}
