package io.agentguard.rules;

import java.util.Arrays;

/**
 * A condition after compilation: a tree of small nodes evaluated against an
 * {@link EventContext}. Nothing allocates during evaluation. A comparison on a field that
 * has no value for the event is false, whatever the operator.
 */
public interface CompiledCondition {
    boolean test(EventContext c);

    /** Relative evaluation cost, so the compiler can test cheap terms of and/or first. */
    default int cost() {
        return 5;
    }

    final class And implements CompiledCondition {
        private final CompiledCondition[] terms;

        And(CompiledCondition[] terms) {
            this.terms = byCost(terms);
        }

        @Override
        public int cost() {
            return sum(terms);
        }

        @Override
        public boolean test(EventContext c) {
            for (CompiledCondition t : terms) {
                if (!t.test(c)) {
                    return false;
                }
            }
            return true;
        }
    }

    final class Or implements CompiledCondition {
        private final CompiledCondition[] terms;

        Or(CompiledCondition[] terms) {
            this.terms = byCost(terms);
        }

        @Override
        public int cost() {
            return sum(terms);
        }

        @Override
        public boolean test(EventContext c) {
            for (CompiledCondition t : terms) {
                if (t.test(c)) {
                    return true;
                }
            }
            return false;
        }
    }

    /**
     * Takes the units a string comparison costs from the event's budget (one per comparison,
     * plus the value's length times the matcher's units per character), before it scans; false
     * when the budget is spent: the comparison is not made, and the classifier discards the
     * rule's result (a false under `not` must not become a match) and stops.
     */
    private static boolean charge(EventContext c, StringMatcher matcher, String value) {
        return c.charge(1 + (long) value.length() * matcher.unitsPerChar());
    }

    /** Conditions have no side effects, so and/or may test their terms in any order. */
    private static CompiledCondition[] byCost(CompiledCondition[] terms) {
        CompiledCondition[] sorted = terms.clone();
        Arrays.sort(sorted, java.util.Comparator.comparingInt(CompiledCondition::cost));
        return sorted;
    }

    private static int sum(CompiledCondition[] terms) {
        int s = 0;
        for (CompiledCondition t : terms) {
            s += t.cost();
        }
        return s;
    }

    final class Not implements CompiledCondition {
        private final CompiledCondition term;

        Not(CompiledCondition term) {
            this.term = term;
        }

        @Override
        public int cost() {
            return term.cost();
        }

        @Override
        public boolean test(EventContext c) {
            return !term.test(c);
        }
    }

    /** evt.type in a set: a bit test. */
    final class EventTypeIn implements CompiledCondition {
        private final int mask;
        private final boolean negate;

        EventTypeIn(int mask, boolean negate) {
            this.mask = mask;
            this.negate = negate;
        }

        @Override
        public int cost() {
            return 1;
        }

        @Override
        public boolean test(EventContext c) {
            return ((mask & (1 << c.type())) != 0) != negate;
        }
    }

    final class StringCompare implements CompiledCondition {
        private final Field field;
        private final StringMatcher matcher;
        private final boolean negate;

        StringCompare(Field field, StringMatcher matcher, boolean negate) {
            this.field = field;
            this.matcher = matcher;
            this.negate = negate;
        }

        @Override
        public int cost() {
            return matcher.cost();
        }

        @Override
        public boolean test(EventContext c) {
            if (!c.has(field)) {
                return false;
            }
            String v = c.string(field);
            return v != null && charge(c, matcher, v) && matcher.matches(v) != negate;
        }
    }

    /** proc.aname: true if the comparison holds for any known ancestor. */
    final class AnyAncestor implements CompiledCondition {
        private final StringMatcher matcher;
        private final boolean negate;

        AnyAncestor(StringMatcher matcher, boolean negate) {
            this.matcher = matcher;
            this.negate = negate;
        }

        @Override
        public int cost() {
            return 8 * matcher.cost();
        }

        @Override
        public boolean test(EventContext c) {
            int n = c.ancestorCount();
            for (int i = 0; i < n; i++) {
                String name = c.ancestorName(i);
                if (!charge(c, matcher, name)) {
                    return false;
                }
                if (matcher.matches(name) != negate) {
                    return true;
                }
            }
            return false;
        }
    }

    /** proc.aname[N]: the N-th ancestor (1 = parent). */
    final class NthAncestor implements CompiledCondition {
        private final int index;
        private final StringMatcher matcher;
        private final boolean negate;

        NthAncestor(int n, StringMatcher matcher, boolean negate) {
            this.index = n - 1;
            this.matcher = matcher;
            this.negate = negate;
        }

        @Override
        public int cost() {
            return 2 + matcher.cost();
        }

        @Override
        public boolean test(EventContext c) {
            if (index >= c.ancestorCount()) {
                return false;
            }
            String name = c.ancestorName(index);
            return charge(c, matcher, name) && matcher.matches(name) != negate;
        }
    }

    final class NumberCompare implements CompiledCondition {
        enum Op { EQ, NE, LT, LE, GT, GE, IN }

        private final Field field;
        private final Op op;
        private final long value;
        private final long[] sorted;

        NumberCompare(Field field, Op op, long value, long[] values) {
            this.field = field;
            this.op = op;
            this.value = value;
            this.sorted = values == null ? null : values.clone();
            if (sorted != null) {
                Arrays.sort(sorted);
            }
        }

        @Override
        public int cost() {
            return 2;
        }

        @Override
        public boolean test(EventContext c) {
            if (!c.has(field)) {
                return false;
            }
            long v = c.number(field);
            return switch (op) {
                case EQ -> v == value;
                case NE -> v != value;
                case LT -> v < value;
                case LE -> v <= value;
                case GT -> v > value;
                case GE -> v >= value;
                case IN -> Arrays.binarySearch(sorted, v) >= 0;
            };
        }
    }

    final class BoolCompare implements CompiledCondition {
        private final Field field;
        private final boolean expected;

        BoolCompare(Field field, boolean expected) {
            this.field = field;
            this.expected = expected;
        }

        @Override
        public int cost() {
            return 2;
        }

        @Override
        public boolean test(EventContext c) {
            return c.has(field) && c.bool(field) == expected;
        }
    }

    final class IpIn implements CompiledCondition {
        private final IpRanges ranges;
        private final boolean negate;

        IpIn(IpRanges ranges, boolean negate) {
            this.ranges = ranges;
            this.negate = negate;
        }

        @Override
        public int cost() {
            return 3;
        }

        @Override
        public boolean test(EventContext c) {
            return c.has(Field.CONN_ADDR) && ranges.contains(c.ipHigh(), c.ipLow()) != negate;
        }
    }
}
