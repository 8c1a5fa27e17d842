package io.agentguard.rules;

/** A rule file problem: "file:line:col: what is wrong". Nothing of a failing file is applied. */
public final class RuleException extends RuntimeException {
    public RuleException(String message) {
        super(message);
    }
}
