package io.agentguard.rules;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a rules reload takes away: rules gone (by name), actions dropped, rules switched to
 * monitor. A changed condition is not judged (whether it matches less cannot be told in
 * general); the reload line in the log names the new set.
 */
public final class RuleWeakening {
    private static final int MAX_NAMES = 10;

    private RuleWeakening() {
    }

    /** One line per kind of weakening; empty when nothing was taken away. */
    public static List<String> between(RuleSet before, RuleSet after) {
        Map<String, CompiledRule> now = new LinkedHashMap<>();
        for (CompiledRule r : after.rules()) {
            now.putIfAbsent(r.name(), r);
        }
        List<String> removed = new ArrayList<>();
        List<String> disarmed = new ArrayList<>();
        List<String> monitored = new ArrayList<>();
        for (CompiledRule was : before.rules()) {
            CompiledRule is = now.get(was.name());
            if (is == null) {
                removed.add(was.name());
                continue;
            }
            if (was.action() != RuleItems.Action.NONE && is.action() == RuleItems.Action.NONE) {
                disarmed.add(was.name());
            }
            if (was.action() != RuleItems.Action.NONE && !Boolean.FALSE.equals(was.enforce())
                    && Boolean.FALSE.equals(is.enforce())) {
                monitored.add(was.name());
            }
        }
        List<String> out = new ArrayList<>();
        add("rules removed", removed, out);
        add("rule actions removed", disarmed, out);
        add("rules no longer enforcing", monitored, out);
        return out;
    }

    private static void add(String what, List<String> names, List<String> out) {
        if (names.isEmpty()) {
            return;
        }
        String shown = String.join(", ", names.subList(0, Math.min(MAX_NAMES, names.size())));
        out.add(what + " (" + names.size() + "): " + shown + (names.size() > MAX_NAMES ? ", ..." : ""));
    }
}
