package io.agentguard.rules;

/** A rule file problem: "file:line:col: what is wrong". Nothing of a failing file is applied. */
public final class RuleException extends RuntimeException {
    private final boolean overLimit;

    public RuleException(String message) {
        this(message, false);
    }

    /** overLimit: the file is refused for a limit (rules.limits.*), not for what it says. */
    public RuleException(String message, boolean overLimit) {
        super(message);
        this.overLimit = overLimit;
    }

    public boolean overLimit() {
        return overLimit;
    }
}
