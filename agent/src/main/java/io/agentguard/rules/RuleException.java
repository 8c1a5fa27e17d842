package io.agentguard.rules;

import java.util.List;

/**
 * A rule file problem: "file:line:col: what is wrong". Nothing of a failing file is applied.
 * One exception may carry several problems ({@link #problems}, file order), one per line of
 * its message: {@code rules check} reports every error at once.
 */
public final class RuleException extends RuntimeException {
    private final boolean overLimit;
    private final SourcePosition position;
    private final List<RuleException> problems;

    public RuleException(String message) {
        this(message, false);
    }

    /** overLimit: the file is refused for a limit (rules.limits.*), not for what it says. */
    public RuleException(String message, boolean overLimit) {
        this(message, overLimit, null);
    }

    /** position: where the problem is (file order of several problems); null if it is about a whole file. */
    public RuleException(String message, boolean overLimit, SourcePosition position) {
        super(message);
        this.overLimit = overLimit;
        this.position = position;
        this.problems = List.of(this);
    }

    private RuleException(List<RuleException> problems) {
        super(String.join("\n", problems.stream().map(Throwable::getMessage).toList()));
        this.overLimit = problems.stream().anyMatch(RuleException::overLimit);
        this.position = problems.getFirst().position;
        this.problems = List.copyOf(problems);
    }

    /** One exception for several problems (in the order given), or the only one. */
    public static RuleException all(List<RuleException> problems) {
        return problems.size() == 1 ? problems.getFirst() : new RuleException(problems);
    }

    public boolean overLimit() {
        return overLimit;
    }

    /** Where, or null. */
    public SourcePosition position() {
        return position;
    }

    /** Every problem this exception stands for (itself, if one). */
    public List<RuleException> problems() {
        return problems;
    }
}
