package io.agentguard.rules;

import com.google.re2j.Matcher;
import com.google.re2j.Pattern;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * One string comparison with its literal(s), compiled: equality and `in` by hash set,
 * prefixes/suffixes/substrings of many literals by {@link CharTrie}, glob and regex by one
 * combined pattern whose Matcher is reused (a rule set is evaluated by one thread at a time).
 */
interface StringMatcher {
    boolean matches(String value);

    /** Relative cost: hashing and equality are cheap, scanning the value and regexes are not. */
    default int cost() {
        return 5;
    }

    /**
     * Budget units per character of the value (Classifier's per-event budget): 1 for
     * equality, prefixes, suffixes and substrings, {@link #REGEX_UNITS_PER_CHAR} for glob and
     * regex, whose linear-time matching costs about that much more per character (RE2/J's
     * automaton against a hash or an Aho–Corasick step).
     */
    default int unitsPerChar() {
        return 1;
    }

    int REGEX_UNITS_PER_CHAR = 16;

    /** A matcher with an explicit cost. */
    static StringMatcher costing(int cost, StringMatcher m) {
        return costing(cost, 1, m);
    }

    static StringMatcher costing(int cost, int unitsPerChar, StringMatcher m) {
        return new StringMatcher() {
            @Override
            public boolean matches(String value) {
                return m.matches(value);
            }

            @Override
            public int cost() {
                return cost;
            }

            @Override
            public int unitsPerChar() {
                return unitsPerChar;
            }
        };
    }

    static StringMatcher of(String operator, List<String> literals) {
        return switch (operator) {
            case "=", "!=", "in" -> costing(3, literals.size() == 1 ? equalTo(literals.getFirst()) : oneOf(literals));
            case "contains" -> costing(12, literals.size() == 1 ? contains(literals.getFirst())
                    : trie(CharTrie.of(literals, false, true), Kind.SUBSTRING));
            case "startswith" -> costing(5, literals.size() == 1 ? startsWith(literals.getFirst())
                    : trie(CharTrie.of(literals, false, false), Kind.PREFIX));
            case "endswith" -> costing(5, literals.size() == 1 ? endsWith(literals.getFirst())
                    : trie(CharTrie.of(literals, true, false), Kind.SUFFIX));
            case "glob" -> costing(25, REGEX_UNITS_PER_CHAR, pattern(alternation(literals.stream().map(StringMatcher::globToRegex).toList()), true));
            case "regex" -> costing(30, REGEX_UNITS_PER_CHAR, pattern(alternation(literals), false));
            default -> throw new IllegalArgumentException(operator);
        };
    }

    enum Kind { PREFIX, SUFFIX, SUBSTRING }

    private static StringMatcher equalTo(String literal) {
        return literal::equals;
    }

    private static StringMatcher oneOf(List<String> literals) {
        Set<String> set = new HashSet<>(literals);
        return set::contains;
    }

    private static StringMatcher contains(String literal) {
        return v -> v.contains(literal);
    }

    private static StringMatcher startsWith(String literal) {
        return v -> v.startsWith(literal);
    }

    private static StringMatcher endsWith(String literal) {
        return v -> v.endsWith(literal);
    }

    private static StringMatcher trie(CharTrie trie, Kind kind) {
        return switch (kind) {
            case PREFIX -> trie::matchesPrefix;
            case SUFFIX -> trie::matchesSuffix;
            case SUBSTRING -> trie::matchesSubstring;
        };
    }

    private static String alternation(List<String> regexes) {
        return regexes.size() == 1 ? regexes.getFirst()
                : String.join("|", regexes.stream().map(r -> "(?:" + r + ")").toList());
    }

    private static StringMatcher pattern(String regex, boolean whole) {
        Matcher m = Pattern.compile(regex).matcher("");
        return whole ? v -> m.reset(v).matches() : v -> m.reset(v).find();
    }

    /** Shell glob to regex: * any run, ? one char, [...] a class, everything else literal. */
    static String globToRegex(String glob) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < glob.length(); i++) {
            char c = glob.charAt(i);
            switch (c) {
                case '*' -> sb.append(".*");
                case '?' -> sb.append('.');
                case '[' -> {
                    int close = glob.indexOf(']', i + 2);
                    if (close < 0) {
                        sb.append("\\[");
                    } else {
                        String body = glob.substring(i + 1, close);
                        if (body.startsWith("!")) {
                            body = "^" + body.substring(1);
                        }
                        sb.append('[').append(body.replace("\\", "\\\\")).append(']');
                        i = close;
                    }
                }
                default -> sb.append(Pattern.quote(String.valueOf(c)));
            }
        }
        return sb.toString();
    }
}
