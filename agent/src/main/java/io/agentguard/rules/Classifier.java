package io.agentguard.rules;

/**
 * Evaluates the current {@link RuleSet} on events, on the consumer thread. The set is
 * read once per event from a volatile field, so a reload (a single reference swap from
 * another thread) takes effect between two events: no event is classified by a mix of
 * old and new rules, none twice, none skipped.
 */
public final class Classifier {
    /** Receives each rule that matched; called on the consumer thread. */
    public interface MatchListener {
        void onMatch(CompiledRule rule, EventContext context);
    }

    private volatile RuleSet rules;
    private long evaluations;
    private long matches;

    public Classifier(RuleSet rules) {
        this.rules = rules;
    }

    /** Classifies one event; returns how many rules matched. */
    public int classify(EventContext context, MatchListener listener) {
        CompiledRule[] candidates = rules.forType(context.type());
        int matched = 0;
        for (CompiledRule rule : candidates) {
            if (rule.condition().test(context)) {
                matched++;
                listener.onMatch(rule, context);
            }
        }
        evaluations++;
        matches += matched;
        return matched;
    }

    /** Replaces the rule set (any thread). */
    public void swap(RuleSet next) {
        rules = next;
    }

    public RuleSet rules() {
        return rules;
    }

    /** Events classified (consumer thread's count; read elsewhere only through a published snapshot). */
    public long evaluations() {
        return evaluations;
    }

    public long matches() {
        return matches;
    }
}
