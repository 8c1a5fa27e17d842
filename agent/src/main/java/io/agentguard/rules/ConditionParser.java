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
    private final int maxDepth;
    private int pos;
    private int depth;
    private int[] lineStarts;   // offsets after each '\n', computed on first use

    private ConditionParser(String text, SourcePosition start, int maxDepth) {
        this.text = text;
        this.start = start;
        this.maxDepth = maxDepth;
    }

    public static Condition parse(String text, SourcePosition start) {
        return parse(text, start, RuleLimits.DEFAULT.conditionDepth());
    }

    /** maxDepth: the deepest nesting of parentheses and `not` (the parser recurses once per level). */
    public static Condition parse(String text, SourcePosition start, int maxDepth) {
        ConditionParser p = new ConditionParser(text, start, maxDepth);
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

    /**
     * Position of offset in the text: conditions may span lines (YAML folded or literal). A
     * binary search in the line starts, not a scan from the beginning: every term asks for its
     * position, and a scan would make a long condition quadratic to parse.
     */
    private SourcePosition positionOf(int offset) {
        offset = Math.min(offset, text.length());
        if (lineStarts == null) {
            int n = 0;
            for (int i = 0; i < text.length(); i++) {
                if (text.charAt(i) == '\n') {
                    n++;
                }
            }
            lineStarts = new int[n];
            n = 0;
            for (int i = 0; i < text.length(); i++) {
                if (text.charAt(i) == '\n') {
                    lineStarts[n++] = i + 1;
                }
            }
        }
        int k = java.util.Arrays.binarySearch(lineStarts, offset);
        int linesBefore = k >= 0 ? k + 1 : -k - 1;   // line starts at or before offset
        if (linesBefore == 0) {
            return new SourcePosition(start.file(), start.line(), start.column() + offset);
        }
        return new SourcePosition(start.file(), start.line() + linesBefore, offset - lineStarts[linesBefore - 1] + 1);
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
        if (++depth > maxDepth) {
            throw here().overLimit("condition nested " + depth + " levels deep (parentheses and 'not'), over the limit of "
                    + maxDepth + " " + RuleLimits.key("condition_depth"));
        }
        try {
            return unaryTerm();
        } finally {
            depth--;
        }
    }

    private Condition unaryTerm() {
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
        // '=' inside a value such as -oRemoteForward=x or SendEnv=GIT is part of the word: one that
        // starts with '-' or has had a '/' or ':' so far (tracked as we go: linear in the word)
        boolean insideValue = false;
        while (pos < text.length()) {
            char c = text.charAt(pos);
            if (Character.isWhitespace(c) || c == '(' || c == ')' || c == ',' || c == '"' || c == '\'') {
                break;
            }
            if ((c == '=' || c == '<' || c == '>' || c == '!') && !insideValue) {
                break;
            }
            if (pos == begin && c == '-' || c == '/' || c == ':') {
                insideValue = true;
            }
            pos++;
        }
        return text.substring(begin, pos);
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
