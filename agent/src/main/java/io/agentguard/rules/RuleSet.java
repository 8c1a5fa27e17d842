package io.agentguard.rules;

import java.util.ArrayList;
import java.util.List;

import static io.agentguard.abi.KernelAbi.AG_REC_TYPE_MAX;

/**
 * An immutable, compiled set of rules indexed by event type: the classifier looks only at
 * the rules that can match the event's type. Swapped as a whole on reload.
 */
public final class RuleSet {
    private final List<CompiledRule> rules;
    private final CompiledRule[][] byType = new CompiledRule[AG_REC_TYPE_MAX + 1][];
    private final List<String> sources;

    RuleSet(List<CompiledRule> rules, List<String> sources) {
        this.rules = List.copyOf(rules);
        this.sources = List.copyOf(sources);
        for (int t = 0; t <= AG_REC_TYPE_MAX; t++) {
            List<CompiledRule> forType = new ArrayList<>();
            for (CompiledRule r : rules) {
                if ((r.eventTypes() & (1 << t)) != 0) {
                    forType.add(r);
                }
            }
            byType[t] = forType.toArray(CompiledRule[]::new);
        }
    }

    public static RuleSet empty() {
        return new RuleSet(List.of(), List.of());
    }

    /** Rules that may match an event of this record type (never null). */
    public CompiledRule[] forType(int recordType) {
        return recordType >= 0 && recordType <= AG_REC_TYPE_MAX ? byType[recordType] : byType[0];
    }

    public List<CompiledRule> rules() {
        return rules;
    }

    /** The files (or resources) the set was compiled from, in order. */
    public List<String> sources() {
        return sources;
    }

    public int size() {
        return rules.size();
    }
}
