package io.agentguard.rules;

import java.util.List;

/** The items of rule files as written, with positions for errors. */
public final class RuleItems {
    private RuleItems() {
    }

    public enum Priority { EMERGENCY, ALERT, CRITICAL, ERROR, WARNING, NOTICE, INFORMATIONAL, DEBUG }

    public enum Action { NONE, KILL_PROCESS, KILL_CGROUP, FREEZE_CGROUP, BLOCK_DESTINATION }

    public sealed interface Item permits ListItem, MacroItem, RuleItem {
        String name();

        SourcePosition position();
    }

    public record ListItem(String name, List<Condition.Literal> items, SourcePosition position) implements Item {
    }

    public record MacroItem(String name, Condition condition, SourcePosition position) implements Item {
    }

    public record ExceptionItem(String name, List<String> fields, List<SourcePosition> fieldPositions,
                                List<String> comps, List<List<Condition.Literal>> values, SourcePosition position) {
    }

    /** @param enforce the rule's mode for its action: true enforce, false monitor, null the policy's/global */
    public record RuleItem(String name, String description, Condition condition, String output,
                           SourcePosition outputPosition, Priority priority, List<String> tags, boolean enabled,
                           Action action, Boolean enforce, List<ExceptionItem> exceptions,
                           SourcePosition position) implements Item {
    }
}
