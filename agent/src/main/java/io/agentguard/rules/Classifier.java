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

    /**
     * Budget units one event may use (classifier.budget_per_event): one per string comparison
     * plus one per character compared, 16 per character for glob and regex. The default
     * pack needs at most about 0.7 M for an exec with the largest argv (8 KiB) and hostile
     * text in it, a few hundred for any other event.
     */
    public static final long DEFAULT_BUDGET_PER_EVENT = 2L << 20;

    private volatile RuleSet rules;
    private final long budgetPerEvent;
    private long evaluations;
    private long matches;
    private boolean lastOverBudget;
    private CompiledRule lastStoppedAt;
    private volatile long overBudgetEvents;   // written by the consumer thread only, when an event runs out

    public Classifier(RuleSet rules) {
        this(rules, DEFAULT_BUDGET_PER_EVENT);
    }

    public Classifier(RuleSet rules, long budgetPerEvent) {
        this.rules = rules;
        this.budgetPerEvent = budgetPerEvent;
    }

    /**
     * Classifies one event; returns how many rules matched. When the event's budget runs out
     * the rule being evaluated does not count (its result is not known) and the remaining
     * rules are not evaluated: {@link #lastOverBudget} says so, and the caller reports it.
     */
    public int classify(EventContext context, MatchListener listener) {
        CompiledRule[] candidates = rules.forType(context.type());
        int matched = 0;
        context.startBudget(budgetPerEvent);
        lastOverBudget = false;
        for (CompiledRule rule : candidates) {
            boolean hit = rule.condition().test(context);
            if (context.overBudget()) {
                lastOverBudget = true;
                lastStoppedAt = rule;
                overBudgetEvents = overBudgetEvents + 1;   // single writer
                break;
            }
            if (hit) {
                matched++;
                listener.onMatch(rule, context);
            }
        }
        evaluations++;
        matches += matched;
        return matched;
    }

    /** Whether the last event classified ran out of budget (consumer thread). */
    public boolean lastOverBudget() {
        return lastOverBudget;
    }

    /** The rule the last event over budget stopped at (consumer thread). */
    public CompiledRule lastStoppedAt() {
        return lastStoppedAt;
    }

    /** Events that ran out of budget since start (any thread). */
    public long overBudgetEvents() {
        return overBudgetEvents;
    }

    public long budgetPerEvent() {
        return budgetPerEvent;
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
