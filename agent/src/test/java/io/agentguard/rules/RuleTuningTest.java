package io.agentguard.rules;

import io.agentguard.proto.v1.ExecEvent;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.ProcessInfo;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Operators tune the pack without forking it: a later file appends to or overrides the pack's
 * lists, macros and rules (Falco's semantics), exceptions take list names, every error is
 * reported at once, and Falco's field names get agentguard's.
 */
class RuleTuningTest {
    private final RuleTestSupport t = new RuleTestSupport();

    /** A pack-like first file: a list, a macro and two rules using them. */
    static final String PACK = """
            - list: miners
              items: [xmrig, t-rex]
            - macro: trusted
              condition: proc.pname = systemd
            - rule: Miner started
              desc: a miner
              condition: evt.type = exec and proc.name in (miners) and not trusted
              output: "miner %proc.name"
              priority: CRITICAL
              tags: [mining]
              exceptions:
                - name: known_paths
                  fields: [proc.exe]
                  values: [[/opt/ok/xmrig]]
            - rule: Noisy
              desc: noisy
              condition: evt.type = exec and proc.name = make
              output: "make"
              priority: NOTICE
            """;

    private static RuleSet compile(String... files) {
        List<RuleCompiler.Source> sources = new java.util.ArrayList<>();
        sources.add(new RuleCompiler.Source("pack.yaml", PACK));
        for (int i = 0; i < files.length; i++) {
            sources.add(new RuleCompiler.Source("local" + (i + 1) + ".yaml", files[i]));
        }
        return RuleCompiler.compile(sources);
    }

    private static void fails(String message, String... files) {
        assertThatThrownBy(() -> compile(files)).isInstanceOf(RuleException.class).hasMessage(message);
    }

    private EventContext exec(String exe, String parent) {
        int slot = t.process(500, exe, List.of(exe.substring(exe.lastIndexOf('/') + 1)), List.of(parent));
        return t.at(Event.newBuilder().setMonotonicNs(1).setProcess(ProcessInfo.newBuilder().setPid(500).setPpid(499)
                .setCgroupId(7)).setExec(ExecEvent.newBuilder().setFilename(exe).setSuccess(true)).build(), slot);
    }

    private static CompiledRule rule(RuleSet set, String name) {
        return set.rules().stream().filter(r -> r.name().equals(name)).findFirst().orElse(null);
    }

    private boolean fires(RuleSet set, String name, String exe, String parent) {
        CompiledRule r = rule(set, name);
        return r != null && r.condition().test(exec(exe, parent));
    }

    @Test
    void aListAppendedToInALaterFileIsWhatThePacksRuleUses() {
        assertThat(fires(compile(), "Miner started", "/tmp/lolminer", "bash")).isFalse();
        RuleSet set = compile("""
                - list: miners
                  items: [lolminer]
                  override: {items: append}
                """);
        assertThat(fires(set, "Miner started", "/tmp/lolminer", "bash")).isTrue();
        assertThat(fires(set, "Miner started", "/tmp/xmrig", "bash")).isTrue();   // the pack's items stay
        // legacy append: true does the same; replace replaces
        assertThat(fires(compile("- list: miners\n  items: [lolminer]\n  append: true\n"), "Miner started",
                "/tmp/lolminer", "bash")).isTrue();
        RuleSet replaced = compile("- list: miners\n  items: [lolminer]\n  override: {items: replace}\n");
        assertThat(fires(replaced, "Miner started", "/tmp/xmrig", "bash")).isFalse();
    }

    @Test
    void aConditionAppendedToIsTheEarlierOneInParenthesesThenTheText() {
        RuleSet set = compile("""
                - macro: trusted
                  condition: or proc.pname = supervisord
                  override: {condition: append}
                - rule: Miner started
                  condition: and not proc.exe startswith /opt/lab/
                  override: {condition: append}
                """);
        assertThat(fires(set, "Miner started", "/tmp/xmrig", "supervisord")).isFalse();   // the macro grew
        assertThat(fires(set, "Miner started", "/tmp/xmrig", "systemd")).isFalse();
        assertThat(fires(set, "Miner started", "/opt/lab/xmrig", "bash")).isFalse();     // the rule narrowed
        assertThat(fires(set, "Miner started", "/tmp/xmrig", "bash")).isTrue();
        // the rule keeps its place and its source: the pack's definition
        assertThat(set.rules().getFirst().name()).isEqualTo("Miner started");
        assertThat(set.rules().getFirst().position().toString()).isEqualTo("pack.yaml:5:3");
        // legacy append: true on a rule appends its condition
        assertThat(fires(compile("- rule: Miner started\n  condition: and proc.uid = 4242\n  append: true\n"),
                "Miner started", "/tmp/xmrig", "bash")).isFalse();   // uid 0 here
    }

    @Test
    void anOverrideDisablesOrRetunesAPackRuleWithoutCopyingIt() {
        RuleSet set = compile("""
                - rule: Noisy
                  enabled: false
                  override: {enabled: replace}
                - rule: Miner started
                  priority: WARNING
                  output: "(lab)"
                  tags: [lab]
                  action: kill_process
                  override: {priority: replace, output: append, tags: append, action: replace}
                """);
        assertThat(rule(set, "Noisy")).isNull();
        CompiledRule r = rule(set, "Miner started");
        assertThat(r.priority()).isEqualTo(RuleItems.Priority.WARNING);
        assertThat(r.tags()).containsExactly("mining", "lab");
        assertThat(r.action()).isEqualTo(RuleItems.Action.KILL_PROCESS);
        assertThat(r.output().render(exec("/tmp/xmrig", "bash"))).isEqualTo("miner xmrig (lab)");
        assertThat(r.description()).isEqualTo("a miner");   // not named: kept
    }

    @Test
    void exceptionsAppendedByNameAndValuesNamingALists() {
        RuleSet set = compile("""
                - list: lab_miners
                  items: [/srv/lab/xmrig, /srv/lab/t-rex]
                - rule: Miner started
                  exceptions:
                    - name: known_paths
                      values: [[/opt/ok2/xmrig], [lab_miners]]
                    - name: by_parent
                      fields: [proc.pname]
                      values: [[cron]]
                  override: {exceptions: append}
                """);
        assertThat(fires(set, "Miner started", "/opt/ok/xmrig", "bash")).isFalse();    // the pack's value
        assertThat(fires(set, "Miner started", "/opt/ok2/xmrig", "bash")).isFalse();   // appended
        assertThat(fires(set, "Miner started", "/srv/lab/t-rex", "bash")).isFalse();   // a list's items
        assertThat(fires(set, "Miner started", "/tmp/xmrig", "cron")).isFalse();       // a new exception
        assertThat(fires(set, "Miner started", "/tmp/xmrig", "bash")).isTrue();
        // a list name in a definition's exception too, and a quoted one is a value
        RuleSet own = compile("""
                - list: ok_parents
                  items: [make, ninja]
                - rule: Own
                  desc: d
                  condition: evt.type = exec and proc.name = xmrig
                  output: o
                  priority: NOTICE
                  exceptions:
                    - name: parents
                      fields: [proc.pname]
                      values: [[ok_parents], ["lab"]]
                """);
        assertThat(fires(own, "Own", "/tmp/xmrig", "ninja")).isFalse();
        assertThat(fires(own, "Own", "/tmp/xmrig", "lab")).isFalse();
        assertThat(fires(own, "Own", "/tmp/xmrig", "bash")).isTrue();
    }

    @Test
    void theSameNameWithoutOverrideIsAnErrorNamingBothPlacesAndTheWayOut() {
        fails("local1.yaml:1:3: rule 'Noisy' is already defined at pack.yaml:15:3; to change it, add override: (e.g."
                + " override: {condition: append}) or append: true", """
                - rule: Noisy
                  desc: d
                  condition: evt.type = exec
                  output: o
                  priority: NOTICE
                """);
        fails("local1.yaml:1:3: list 'miners' is already defined at pack.yaml:1:3; to change it, add override: (e.g."
                + " override: {items: append}) or append: true", "- list: miners\n  items: [x]\n");
    }

    @Test
    void overridesThatCannotApplyArePreciseErrors() {
        fails("local1.yaml:3:3: rule 'Nope': override: changes an earlier rule of this name, and there is none",
                "- rule: Nope\n  enabled: false\n  override: {enabled: replace}\n");
        fails("local1.yaml:3:24: override.priority: 'priority' of a rule cannot be appended to; use replace",
                "- rule: Noisy\n  priority: ERROR\n  override: {priority: append}\n");
        fails("local1.yaml:2:3: 'priority' is given but override does not name it (add priority: replace to override:)",
                "- rule: Noisy\n  priority: ERROR\n  enabled: false\n  override: {enabled: replace}\n");
        fails("local1.yaml:3:14: override names 'output' but the rule gives no 'output'",
                "- rule: Noisy\n  enabled: false\n  override: {output: append, enabled: replace}\n");
        fails("local1.yaml:2:3: append: true appends condition and exceptions only; to change 'priority' use"
                + " override: {priority: replace}", "- rule: Noisy\n  priority: ERROR\n  append: true\n");
        fails("local1.yaml:2:14: unexpected 'proc.uid' (expected and, or, or the end of the condition) (an appended"
                        + " condition continues the earlier one: start it with 'and' or 'or', e.g. 'and not proc.name = x')",
                "- rule: Noisy\n  condition: proc.uid = 0\n  override: {condition: append}\n");
    }

    @Test
    void everyErrorIsReportedInFileOrderOnePerLine() {
        RuleException e = org.junit.jupiter.api.Assertions.assertThrows(RuleException.class, () -> compile("""
                - rule: one
                  desc: d
                  condition: evt.type = exec and fd.sip = 127.66.0.1
                  output: o
                  priority: NOTICE
                - rule: two
                  desc: d
                  condition: evt.type = exec
                  output: o
                  priority: LOUD
                - rule: three
                  desc: d
                  condition: evt.type = exec and proc.name in (undefined_listx)
                  output: o
                  priority: NOTICE
                  colour: red
                """, """
                - rule: four
                  desc: d
                  condition: evt.type = execve
                  output: o
                  priority: NOTICE
                - rule: five
                  desc: d
                  condition: spawned_process and proc.name = x
                  output: o
                  priority: NOTICE
                """));
        assertThat(e.problems()).hasSize(5);
        assertThat(e.getMessage().split("\n")).containsExactly(
                "local1.yaml:3:34: unknown field 'fd.sip' (Falco name; agentguard: conn.addr)",
                "local1.yaml:10:13: priority 'LOUD' is not one of EMERGENCY, ALERT, CRITICAL, ERROR, WARNING, NOTICE,"
                        + " INFORMATIONAL, DEBUG",
                "local1.yaml:16:3: unknown key 'colour' in a rule (a rule has: action, append, condition, desc, enabled,"
                        + " exceptions, mode, output, override, priority, rule, tags)",
                "local2.yaml:3:25: unknown event type 'execve' (Falco name; agentguard: exec)",
                "local2.yaml:8:14: unknown macro 'spawned_process' (Falco macro; agentguard: evt.type = exec)");
    }

    @Test
    void aUseOfAnItemInErrorIsNotReportedAgain() {
        RuleException e = org.junit.jupiter.api.Assertions.assertThrows(RuleException.class, () -> compile("""
                - macro: mine
                  condition: proc.name = (
                - rule: uses it
                  desc: d
                  condition: evt.type = exec and mine
                  output: o
                  priority: NOTICE
                """));
        assertThat(e.problems()).singleElement().satisfies(p -> assertThat(p.position().line()).isEqualTo(2));
    }

    @Test
    void falcoFieldNamesGetAgentguardsInEveryPlaceAFieldIsNamed() {
        for (String[] pair : new String[][] {{"fd.rport", "conn.port"}, {"fd.l4proto", "conn.proto"},
            {"fd.name", "conn.unix_path"}, {"proc.exepath", "proc.exe"}, {"proc.pexepath", "proc.pexe"},
            {"user.uid", "proc.uid"}, {"container.type", "container.runtime"}, {"fd.cip", "conn.addr"}}) {
            assertThatThrownBy(() -> compile("- rule: r\n  desc: d\n  condition: evt.type = exec and " + pair[0]
                    + " = x\n  output: o\n  priority: NOTICE\n")).hasMessageContaining("unknown field '" + pair[0]
                    + "' (Falco name; agentguard: " + pair[1] + ")");
        }
        // in an output template and an exception's fields too
        assertThatThrownBy(() -> compile("- rule: r\n  desc: d\n  condition: evt.type = exec\n  output: \"%fd.sip\"\n"
                + "  priority: NOTICE\n")).hasMessageContaining("(Falco name; agentguard: conn.addr)");
        assertThatThrownBy(() -> compile("- rule: Miner started\n  exceptions:\n    - name: by_ip\n"
                + "      fields: [fd.sip]\n      values: [[127.66.0.1]]\n  override: {exceptions: append}\n"))
                .hasMessageContaining("unknown field 'fd.sip' (Falco name; agentguard: conn.addr)");
    }
}
