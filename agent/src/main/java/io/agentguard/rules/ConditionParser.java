package io.agentguard.rules;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Parses the condition grammar of docs/RULES.md into {@link Condition} syntax. Positions
 * are exact: {@code start} is where the condition text begins in its file.
 */
public final class ConditionParser {
    static final Set<String> OPERATORS = Set.of("=", "!=", "<", "<=", ">", ">=", "in", "contains", "startswith",
            "endswith", "glob", "regex", "cidr");

    private final String text;
    private final SourcePosition start;
    private int pos;

    private ConditionParser(String text, SourcePosition start) {
        this.text = text;
        this.start = start;
    }

    public static Condition parse(String text, SourcePosition start) {
        ConditionParser p = new ConditionParser(text, start);
        p.skipSpace();
        if (p.pos == text.length()) {
            throw start.error("empty condition");
        }
        Condition c = p.or();
        p.skipSpace();
        if (p.pos < text.length()) {
            throw p.here().error("unexpected '" + p.peekToken() + "' (expected and, or, or the end of the condition)");
        }
        return c;
    }

    /** Position of offset in the text: conditions may span lines (YAML folded or literal). */
    private SourcePosition positionOf(int offset) {
        int line = start.line();
        int column = start.column();
        for (int i = 0; i < offset && i < text.length(); i++) {
            if (text.charAt(i) == '\n') {
                line++;
                column = 1;
            } else {
                column++;
            }
        }
        return new SourcePosition(start.file(), line, column);
    }

    private SourcePosition here() {
        return positionOf(pos);
    }

    private Condition or() {
        SourcePosition at = here();
        List<Condition> terms = new ArrayList<>();
        terms.add(and());
        while (keyword("or")) {
            terms.add(and());
        }
        return terms.size() == 1 ? terms.getFirst() : new Condition.Or(terms, at);
    }

    private Condition and() {
        SourcePosition at = here();
        List<Condition> terms = new ArrayList<>();
        terms.add(unary());
        while (keyword("and")) {
            terms.add(unary());
        }
        return terms.size() == 1 ? terms.getFirst() : new Condition.And(terms, at);
    }

    private Condition unary() {
        skipSpace();
        SourcePosition at = here();
        if (keyword("not")) {
            return new Condition.Not(unary(), at);
        }
        if (peek() == '(') {
            pos++;
            Condition inner = or();
            skipSpace();
            if (peek() != ')') {
                throw here().error("expected ')' to close the '(' at " + at.line() + ":" + at.column());
            }
            pos++;
            return inner;
        }
        if (pos >= text.length()) {
            throw here().error("condition ends where a field, macro or '(' was expected");
        }
        String word = bareWord();
        if (word.isEmpty()) {
            throw here().error("unexpected '" + peekToken() + "' (expected a field, macro, 'not' or '(')");
        }
        if (word.equals("and") || word.equals("or")) {
            throw at.error("'" + word + "' needs a condition before it");
        }
        int afterName = pos;
        skipSpace();
        SourcePosition opAt = here();
        String op = operator();
        if (op == null) {
            pos = afterName;
            return new Condition.Name(word, at);
        }
        skipSpace();
        SourcePosition valueAt = here();
        if (peek() == '(') {
            pos++;
            List<Condition.Literal> values = new ArrayList<>();
            skipSpace();
            if (peek() == ')') {
                throw here().error("empty list after '" + op + "'");
            }
            while (true) {
                skipSpace();
                values.add(literal());
                skipSpace();
                char c = peek();
                if (c == ',') {
                    pos++;
                } else if (c == ')') {
                    pos++;
                    break;
                } else {
                    throw here().error("expected ',' or ')' in the list after '" + op + "'");
                }
            }
            return new Condition.Compare(word, at, op, values, true, opAt);
        }
        if (pos >= text.length()) {
            throw valueAt.error("'" + op + "' needs a value");
        }
        return new Condition.Compare(word, at, op, List.of(literal()), false, opAt);
    }

    private Condition.Literal literal() {
        SourcePosition at = here();
        char c = peek();
        if (c == '"' || c == '\'') {
            int close = text.indexOf(c, pos + 1);
            if (close < 0) {
                throw at.error("unterminated string");
            }
            String s = text.substring(pos + 1, close);
            pos = close + 1;
            return new Condition.Literal(s, true, at);
        }
        String word = bareWord();
        if (word.isEmpty()) {
            throw at.error("expected a value, found '" + peekToken() + "'");
        }
        return new Condition.Literal(word, false, at);
    }

    private String operator() {
        for (String op : new String[] {"!=", "<=", ">=", "=", "<", ">"}) {
            if (text.startsWith(op, pos)) {
                pos += op.length();
                return op;
            }
        }
        int save = pos;
        String word = bareWord();
        if (OPERATORS.contains(word)) {
            return word;
        }
        pos = save;
        return null;
    }

    private boolean keyword(String k) {
        skipSpace();
        if (text.startsWith(k, pos)) {
            int end = pos + k.length();
            if (end == text.length() || Character.isWhitespace(text.charAt(end)) || text.charAt(end) == '(') {
                pos = end;
                return true;
            }
        }
        return false;
    }

    /** A run of characters other than whitespace, parentheses, commas, quotes and =<>!. */
    private String bareWord() {
        int begin = pos;
        while (pos < text.length()) {
            char c = text.charAt(pos);
            if (Character.isWhitespace(c) || c == '(' || c == ')' || c == ',' || c == '"' || c == '\'') {
                break;
            }
            if ((c == '=' || c == '<' || c == '>' || c == '!') && !insideValue(begin)) {
                break;
            }
            pos++;
        }
        return text.substring(begin, pos);
    }

    /** '=' inside a value such as -oRemoteForward=x or SendEnv=GIT is part of the word. */
    private boolean insideValue(int begin) {
        if (pos == begin) {
            return false;
        }
        String sofar = text.substring(begin, pos);
        return sofar.startsWith("-") || sofar.contains("/") || sofar.contains(":");
    }

    private void skipSpace() {
        while (pos < text.length() && Character.isWhitespace(text.charAt(pos))) {
            pos++;
        }
    }

    private char peek() {
        return pos < text.length() ? text.charAt(pos) : 0;
    }

    private String peekToken() {
        int end = pos;
        while (end < text.length() && !Character.isWhitespace(text.charAt(end)) && end - pos < 20) {
            end++;
        }
        return end == pos && pos < text.length() ? String.valueOf(text.charAt(pos)) : text.substring(pos, end);
    }
}
