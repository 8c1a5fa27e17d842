package io.agentguard.rules;

/** Where something is in a rule file, for error messages (1-based line and column). */
public record SourcePosition(String file, int line, int column) {
    public SourcePosition at(int columnOffset) {
        return new SourcePosition(file, line, column + columnOffset);
    }

    public RuleException error(String message) {
        return new RuleException(this + ": " + message, false, this);
    }

    /** A limit of rules.limits.* reached here. */
    public RuleException overLimit(String message) {
        return new RuleException(this + ": " + message, true, this);
    }

    @Override
    public String toString() {
        return file + ":" + line + ":" + column;
    }
}
