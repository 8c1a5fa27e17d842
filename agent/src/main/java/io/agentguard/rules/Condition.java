package io.agentguard.rules;

import java.util.List;

/** Parsed condition syntax, before names are resolved and types checked. */
public sealed interface Condition {
    SourcePosition position();

    record And(List<Condition> terms, SourcePosition position) implements Condition {
    }

    record Or(List<Condition> terms, SourcePosition position) implements Condition {
    }

    record Not(Condition term, SourcePosition position) implements Condition {
    }

    /** A bare name: a macro, or a bool field. */
    record Name(String name, SourcePosition position) implements Condition {
    }

    /** field op operand; operand is a literal, a parenthesised literal list or a list name. */
    record Compare(String field, SourcePosition fieldPosition, String operator, List<Literal> values,
                   boolean listSyntax, SourcePosition position) implements Condition {
    }

    /** A literal as written; quoted ones are never list names. */
    record Literal(String text, boolean quoted, SourcePosition position) {
    }
}
