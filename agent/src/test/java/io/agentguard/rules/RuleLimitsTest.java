package io.agentguard.rules;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/**
 * Rule files built to exhaust the daemon (the red team's rules bombs) are refused with a
 * limit error that says where, which limit, the value and the limit, within a liveness
 * deadline, instead of growing the heap by gigabytes, overflowing the stack or parsing for
 * minutes. The deadline is generous (a minute): what it catches is the old behaviour.
 */
class RuleLimitsTest {
    private static final Duration LIVENESS = Duration.ofSeconds(60);

    private static RuleException refused(String yaml) {
        return assertTimeoutPreemptively(LIVENESS, () -> {
            try {
                RuleTestSupport.compile(yaml);
            } catch (RuleException e) {
                return e;
            }
            throw new AssertionError("compiled");
        });
    }

    private static String rule(String condition) {
        return "- rule: r\n  desc: d\n  condition: " + condition + "\n  output: o\n  priority: NOTICE\n";
    }

    /** Ten lists of ten references to the previous one: 10^10 values from about 700 bytes. */
    static String nestedListsBomb() {
        StringBuilder y = new StringBuilder("- list: l0\n  items: [a, b, c, d, e, f, g, h, i, j]\n");
        for (int i = 1; i < 10; i++) {
            String p = "l" + (i - 1);
            y.append("- list: l").append(i).append("\n  items: [").append(String.join(", ", java.util.Collections.nCopies(10, p)))
                    .append("]\n");
        }
        return y + rule("proc.name in (l9)");
    }

    @Test
    void nestedListsAreRefusedAtTheListItemsLimit() {
        String bomb = nestedListsBomb();
        assertThat(bomb.length()).isLessThan(1000);
        RuleException e = refused(bomb);
        assertThat(e.overLimit()).isTrue();
        assertThat(e.getMessage()).isEqualTo("t.yaml:23:28: 'l9' expands to more than 100000 values (lists in lists),"
                + " over the limit of 100000 (rules.limits.list_items)");
    }

    @Test
    void macrosThatDoubleAtEachLevelAreRefusedAtTheCompiledSizeLimit() {
        StringBuilder y = new StringBuilder("- macro: m0\n  condition: proc.pid = 1\n");
        for (int i = 1; i <= 40; i++) {
            y.append("- macro: m").append(i).append("\n  condition: m").append(i - 1).append(" or m").append(i - 1).append('\n');
        }
        RuleException e = refused(y + rule("m40"));
        assertThat(e.overLimit()).isTrue();
        assertThat(e.getMessage()).contains("the rules compile to more than 2000000 nodes and values")
                .endsWith("over the limit of 2000000 (rules.limits.compiled_size)");
    }

    @Test
    void twentyThousandNestedParenthesesAreALimitErrorNotAStackOverflow() {
        String condition = "(".repeat(20_000) + "proc.pid = 1" + ")".repeat(20_000);
        RuleException e = refused(rule(condition));
        assertThat(e.overLimit()).isTrue();
        assertThat(e.getMessage()).isEqualTo("t.yaml:3:114: condition nested 101 levels deep (parentheses and 'not'),"
                + " over the limit of 100 (rules.limits.condition_depth)");
    }

    @Test
    void aLongChainOfMacrosIsALimitErrorNotAStackOverflow() {
        StringBuilder y = new StringBuilder("- macro: m0\n  condition: proc.pid = 1\n");
        for (int i = 1; i <= 5000; i++) {
            y.append("- macro: m").append(i).append("\n  condition: not m").append(i - 1).append('\n');
        }
        RuleException e = refused(y.toString());
        assertThat(e.overLimit()).isTrue();
        assertThat(e.getMessage()).contains("condition nested 101 levels deep through macros, over the limit of 100"
                + " (rules.limits.condition_depth)");
    }

    @Test
    void fiveThousandLevelsOfYamlNestingAreALimitErrorNotAStackOverflow() {
        String yaml = "- list: deep\n  items: " + "[".repeat(5000) + "]".repeat(5000) + "\n";
        RuleException e = refused(yaml);
        assertThat(e.overLimit()).isTrue();
        assertThat(e.getMessage()).isEqualTo("t.yaml:2:72: YAML nested 65 levels deep, over the limit of 64"
                + " (rules.limits.yaml_depth)");
    }

    @Test
    void billionLaughsAliasesAreRefusedAtTheAliasLimit() {
        StringBuilder y = new StringBuilder("- list: lol\n  items: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for (int i = 1; i < 10; i++) {
            y.append("- list: lol").append(i).append("\n  items: &a").append(i).append(" [")
                    .append(String.join(", ", java.util.Collections.nCopies(9, "*a" + (i - 1)))).append("]\n");
        }
        RuleException e = refused(y.toString());
        assertThat(e.overLimit()).isTrue();
        assertThat(e.getMessage()).matches("t\\.yaml:\\d+:\\d+: 51 YAML aliases to lists or mappings, over the limit"
                + " of 50 \\(rules\\.limits\\.yaml_aliases\\)");
    }

    @Test
    void aTwentyMebibyteFileIsRefusedBeforeItIsParsed(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("big.yaml");
        StringBuilder y = new StringBuilder("- list: big\n  items: [");
        while (y.length() < 20 << 20) {
            y.append("name").append(y.length()).append(", ");
        }
        y.append("x]\n").append(rule("proc.name in (big)"));
        Files.writeString(file, y);
        long size = Files.size(file);
        RuleException e = assertTimeoutPreemptively(LIVENESS, () -> {
            try {
                RuleLoader.load(false, List.of(file.toString()));
            } catch (RuleException x) {
                return x;
            }
            throw new AssertionError("loaded");
        });
        assertThat(e.overLimit()).isTrue();
        assertThat(e.getMessage()).isEqualTo(file + ": the file is " + size + " bytes, over the limit of 4194304 bytes"
                + " (rules.limits.file_bytes)");
    }

    @Test
    void invalidUtf8NamesTheLineColumnAndOffsetOfTheFirstBadByte(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("bad.yaml");
        byte[] head = "- rule: r\n  desc: caf\u00e9 ".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        byte[] tail = "\n  condition: proc.pid = 1\n  output: o\n  priority: NOTICE\n".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        byte[] all = new byte[head.length + 1 + tail.length];
        System.arraycopy(head, 0, all, 0, head.length);
        all[head.length] = (byte) 0xFF;
        System.arraycopy(tail, 0, all, head.length + 1, tail.length);
        Files.write(file, all);
        assertThatThrownBy(() -> RuleLoader.load(false, List.of(file.toString())))
                .isInstanceOf(RuleException.class)
                .hasMessage(file + ":2:14: invalid UTF-8: byte 0xFF at byte offset 24 (line 2, column 14); save the file"
                        + " as UTF-8");
    }

    @Test
    void aLongConditionAndALongValueParseInLinearTime() {
        // each term asks for its position, and '=' inside a value re-read the word so far: both were quadratic
        String terms = String.join(" or ", java.util.Collections.nCopies(100_000, "proc.pid = 1"));
        RuleSet set = assertTimeoutPreemptively(LIVENESS, () -> RuleTestSupport.compile(rule(terms)));
        assertThat(set.size()).isEqualTo(1);
        String value = "-" + "=".repeat(2_000_000);
        RuleSet set2 = assertTimeoutPreemptively(LIVENESS, () -> RuleTestSupport.compile(rule("proc.args contains " + value)));
        assertThat(set2.size()).isEqualTo(1);
    }

    @Test
    void anUnknownLongListNameIsAnsweredInLinearTime() {
        // the "looks like a list name" check was a backtracking regex: quadratic on a long run of '_'
        String name = "a" + "_".repeat(500_000) + "-";
        RuleSet set = assertTimeoutPreemptively(LIVENESS, () -> RuleTestSupport.compile(rule("proc.name in (" + name + ")")));
        assertThat(set.size()).isEqualTo(1);
    }

    /**
     * Lists of references to an empty list: nothing is ever added to the expansion, so the
     * list-items count never grows while the walk visits 10^12 references (1 KB of YAML).
     */
    @Test
    void referencesToEmptyListsCountTooTheWalkIsBounded() {
        StringBuilder y = new StringBuilder("- list: l0\n  items: []\n");
        for (int i = 1; i <= 12; i++) {
            y.append("- list: l").append(i).append("\n  items: [")
                    .append(String.join(", ", java.util.Collections.nCopies(10, "l" + (i - 1)))).append("]\n");
        }
        RuleException e = refused(y + rule("proc.name in (l12)"));
        assertThat(e.overLimit()).isTrue();
        assertThat(e.getMessage()).contains("(rules.limits.compiled_size)");
    }

    /**
     * YAML aliases to scalars are not counted by the alias limit, and each use of an aliased
     * condition or list was parsed again: a 2 MB condition used by 60 000 macros through
     * aliases (a 4 MB file) meant 60 000 parses and ASTs. Aliased nodes are parsed once (the
     * test keeps the sizes small enough for the old code to finish, and checks the sharing).
     */
    @Test
    void aliasedConditionsAndListsAreParsedOnceNotOncePerUse() {
        String big = String.join(" or ", java.util.Collections.nCopies(1_000, "proc.name = x"));
        StringBuilder y = new StringBuilder("- macro: m0\n  condition: &c " + big + "\n"
                + "- list: k0\n  items: &l [" + String.join(", ", java.util.Collections.nCopies(1_000, "v")) + "]\n");
        for (int i = 1; i < 1_000; i++) {
            y.append("- macro: m").append(i).append("\n  condition: *c\n");
        }
        for (int i = 1; i < 50; i++) {
            y.append("- list: k").append(i).append("\n  items: *l\n");
        }
        String yaml = y + rule("m1 and proc.name in (k1)");
        List<RuleItems.Item> items = assertTimeoutPreemptively(LIVENESS, () -> RuleFileParser.parse("t.yaml", yaml));
        // items: m0, k0, m1 .. m999, k1 .. k49, r
        assertThat(((RuleItems.MacroItem) items.get(999)).condition())
                .isSameAs(((RuleItems.MacroItem) items.get(0)).condition());
        assertThat(((RuleItems.ListItem) items.get(1_049)).items())
                .isSameAs(((RuleItems.ListItem) items.get(1)).items());
        assertThat(assertTimeoutPreemptively(LIVENESS, () -> RuleTestSupport.compile(yaml)).size()).isEqualTo(1);
    }

    @Test
    void limitsAreConfigurableAndNamedInTheError() {
        RuleLimits small = new RuleLimits(1 << 20, 64, 50, 5, 100, 2_000_000);
        assertThatThrownBy(() -> RuleCompiler.compile(List.of(new RuleCompiler.Source("t.yaml",
                "- list: six\n  items: [a, b, c, d, e, f]\n" + rule("proc.name in (six)"))), small))
                .isInstanceOf(RuleException.class)
                .hasMessage("t.yaml:5:28: 'six' expands to more than 5 values (lists in lists), over the limit of 5"
                        + " (rules.limits.list_items)");
    }

    @Test
    void theDefaultPackCompilesWellWithinTheDefaultLimits() {
        // a quarter of each limit (YAML and condition depth, list items, compiled size) still holds the pack
        RuleLimits quarter = new RuleLimits(RuleLimits.DEFAULT.fileBytes() / 4, 16, 12, 25_000, 25, 500_000);
        assertThat(RuleCompiler.compile(List.of(RuleLoader.defaultPack()), quarter).size())
                .isEqualTo(RuleLoader.load(true, List.of()).size());
    }
}
