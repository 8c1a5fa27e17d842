package io.agentguard.rules;

import io.agentguard.proto.v1.AddressFamily;
import io.agentguard.proto.v1.ConnectEvent;
import io.agentguard.proto.v1.DeviceRole;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.ExecEvent;
import io.agentguard.proto.v1.GpuEvent;
import io.agentguard.proto.v1.GpuIoctl;
import io.agentguard.proto.v1.ProcessInfo;
import io.agentguard.proto.v1.SocketEvent;
import io.agentguard.proto.v1.SocketType;
import io.agentguard.proto.v1.UnixOwner;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;

import static io.agentguard.abi.KernelAbi.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Every operator on every field type, names and macros, and every kind of error. */
class RuleCompilerTest {
    private final RuleTestSupport t = new RuleTestSupport();

    private EventContext exec(String exe, List<String> argv, List<String> ancestors) {
        int slot = t.process(500, exe, argv, ancestors);
        return t.at(Event.newBuilder().setMonotonicNs(1).setProcess(ProcessInfo.newBuilder().setPid(500).setPpid(499)
                .setComm("x").setUid(1000).setCgroupId(7))
                .setExec(ExecEvent.newBuilder().setFilename(exe).addAllArgs(argv).setSuccess(true)).build(), slot);
    }

    private EventContext connect(String addr, int port, boolean udp) {
        int slot = t.process(600, "/usr/bin/ssh", List.of("ssh", "host"), List.of("bash"));
        return t.at(Event.newBuilder().setMonotonicNs(1).setProcess(ProcessInfo.newBuilder().setPid(600).setPpid(599)
                .setCgroupId(7)).setConnect(ConnectEvent.newBuilder().setFamily(addr.contains(":")
                ? AddressFamily.ADDRESS_FAMILY_INET6 : AddressFamily.ADDRESS_FAMILY_INET).setAddress(addr).setPort(port)
                .setProtocol(udp ? 17 : 6)).build(), slot);
    }

    private EventContext gpuAlloc(int hClass) {
        int slot = t.process(700, "/usr/bin/python3", List.of("python3", "mine.py"), List.of("bash"));
        return t.at(Event.newBuilder().setMonotonicNs(1).setProcess(ProcessInfo.newBuilder().setPid(700).setCgroupId(7))
                .setGpu(GpuEvent.newBuilder().setRole(DeviceRole.DEVICE_ROLE_CONTROL).setMajor(195).setMinor(255)
                        .setIoctl(GpuIoctl.newBuilder().setCmd(0xc030462b).setAllocClass(hClass))).build(), slot);
    }

    private static boolean holds(String condition, EventContext c) {
        return RuleTestSupport.condition(condition).test(c);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "proc.name = xmrig | true",
        "proc.name != xmrig | false",
        "proc.name in (t-rex, xmrig) | true",
        "proc.exe startswith /tmp/ | true",
        "proc.exe startswith (/opt/, /tmp/.x) | true",
        "proc.exe endswith (/xmrig, /t-rex) | true",
        "proc.cmdline contains stratum+tcp:// | true",
        "proc.cmdline contains (nicehash, --donate-level) | true",
        "proc.cmdline contains (nicehash, ethproxy) | false",
        "proc.args = '-o stratum+tcp://127.66.0.9:3333 --donate-level 1' | true",
        "proc.exe glob /tmp/*/xmrig | true",
        "proc.exe glob (/usr/*, /bin/?) | false",
        "proc.cmdline regex '--donate-level\\s+[0-9]+' | true",
        "proc.cmdline regex '^xmrig' | true",
        "proc.pname = bash | true",
        "proc.aname = sshd | true",
        "proc.aname[2] = sshd | true",
        "proc.aname[1] = sshd | false",
        "proc.aname in (systemd, containerd) | false",
        "evt.type = exec | true",
        "evt.type in (connect, fork) | false",
        "proc.uid = 1000 | true",
        "proc.uid >= 1000 and proc.uid < 1001 | true",
        "proc.pid in (1, 500, 0x2000) | true",
        "not proc.name = xmrig | false",
        "proc.name = xmrig and (proc.pname = zsh or proc.aname = sshd) | true",
        "conn.port = 22 | false",
        "conn.port != 22 | false",
        "proc.gpu_compute | false",
        "proc.gpu_compute = false | true",
        "exec.failed = false | true",
        "exec.fileless | false",
        "exec.loader = false | true",
        "exec.inode = 0 | true",
        "exec.dev glob 0:* | true",
    })
    void operatorsOnAnExecEvent(String condition, boolean expected) {
        EventContext c = exec("/tmp/.x/xmrig", List.of("xmrig", "-o", "stratum+tcp://127.66.0.9:3333", "--donate-level", "1"),
                List.of("bash", "sshd"));
        assertThat(holds(condition, c)).as(condition).isEqualTo(expected);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "conn.addr = 169.254.169.254 | 169.254.169.254 | true",
        "conn.addr cidr (10.0.0.0/8, 169.254.0.0/16) | 169.254.169.254 | true",
        "conn.addr cidr (10.0.0.0/8, 192.168.0.0/16) | 169.254.169.254 | false",
        "conn.addr cidr (fd00:ec2::254/128) | fd00:ec2::254 | true",
        "conn.addr cidr (fc00::/7) | fd00:ec2::254 | true",
        "conn.addr cidr (10.0.0.0/8) | fd00:ec2::254 | false",
        "conn.addr in (127.66.0.1, ::1) | ::1 | true",
        "conn.addr != 127.66.0.1 | 127.66.0.2 | true",
        "conn.addr cidr (::ffff:0:0/96) | 127.66.0.2 | true",
        "conn.port in (3333, 4444) and conn.proto = tcp | 127.66.0.1 | true",
        "conn.family = inet6 | ::1 | true",
        "proc.distinct_dests > 0 | ::1 | false",
    })
    void operatorsOnAConnectEvent(String condition, String addr, boolean expected) {
        assertThat(holds(condition, connect(addr, 3333, false))).as(condition).isEqualTo(expected);
    }

    @Test
    void gpuFieldsDecodeClassKindAndComputeContext() {
        EventContext c = gpuAlloc(0xcbc0);
        assertThat(holds("gpu.compute", c)).isTrue();
        assertThat(holds("gpu.class_kind = compute and gpu.class = 0xcbc0", c)).isTrue();
        assertThat(holds("gpu.op = RM_ALLOC and gpu.device = control", c)).isTrue();
        assertThat(holds("gpu.compute", gpuAlloc(0x41))).isFalse();
        assertThat(holds("gpu.class_kind = client", gpuAlloc(0x41))).isTrue();
    }

    @Test
    void macrosAndListsExpandIncludingListsInLists() {
        RuleSet set = RuleTestSupport.compile("""
                - list: a_miners
                  items: [xmrig]
                - list: all_miners
                  items: [a_miners, t-rex]
                - macro: is_miner
                  condition: proc.name in (all_miners)
                - macro: from_shell
                  condition: proc.pname in (bash, sh)
                - rule: r
                  desc: d
                  condition: evt.type = exec and is_miner and from_shell
                  output: "%proc.name by %proc.pname (%proc.aname[2])"
                  priority: CRITICAL
                  tags: [mining]
                """);
        CompiledRule r = set.rules().getFirst();
        EventContext c = exec("/tmp/xmrig", List.of("xmrig"), List.of("bash", "sshd"));
        assertThat(r.condition().test(c)).isTrue();
        assertThat(r.output().render(c)).isEqualTo("xmrig by bash (sshd)");
        assertThat(r.eventTypes()).isEqualTo(1 << AG_REC_EXEC);
        assertThat(set.forType(AG_REC_CONNECT)).isEmpty();
        assertThat(set.forType(AG_REC_EXEC)).containsExactly(r);
    }

    @Test
    void socketAndUnixOwnerFieldsReadTheirRecords() {
        RuleTestSupport t = new RuleTestSupport();
        EventContext raw = t.at(Event.newBuilder().setMonotonicNs(1).setProcess(ProcessInfo.newBuilder().setPid(800))
                .setSocket(SocketEvent.newBuilder().setFamily(AddressFamily.ADDRESS_FAMILY_INET)
                        .setSocketType(SocketType.SOCKET_TYPE_RAW).setProtocol(255)).build(), -1);
        assertThat(RuleTestSupport.condition("evt.type = socket and socket.family = inet and socket.type = raw"
                + " and socket.protocol = 255").test(raw)).isTrue();
        assertThat(RuleTestSupport.condition("conn.unix_outside").test(raw)).isFalse();

        EventContext unix = t.at(Event.newBuilder().setMonotonicNs(1).setProcess(ProcessInfo.newBuilder().setPid(801))
                .setConnect(ConnectEvent.newBuilder().setFamily(AddressFamily.ADDRESS_FAMILY_UNIX).setUnixPath("/run/p.sock")
                        .setUnixOutsideOwner(UnixOwner.newBuilder().setPid(42).setUid(1000).setComm("socat"))).build(), -1);
        assertThat(RuleTestSupport.condition("conn.unix_outside and conn.peer_pid = 42 and conn.peer_uid = 1000"
                + " and conn.peer_comm = socat").test(unix)).isTrue();
        EventContext inside = t.at(Event.newBuilder().setMonotonicNs(1).setProcess(ProcessInfo.newBuilder().setPid(802))
                .setConnect(ConnectEvent.newBuilder().setFamily(AddressFamily.ADDRESS_FAMILY_UNIX).setUnixPath("/run/p.sock"))
                .build(), -1);
        assertThat(RuleTestSupport.condition("conn.unix_outside").test(inside)).isFalse();
        assertThat(RuleTestSupport.condition("conn.peer_pid = 0").test(inside)).isFalse();   // no value: no match
    }

    @Test
    void rulesAreIndexedByTheEventTypesTheirFieldsExistFor() {
        RuleSet set = RuleTestSupport.compile("""
                - rule: net
                  desc: d
                  condition: conn.port = 22 or conn.unix_path startswith /run
                  output: o
                  priority: NOTICE
                - rule: any
                  desc: d
                  condition: proc.name = x
                  output: o
                  priority: NOTICE
                - rule: notnet
                  desc: d
                  condition: not conn.port = 22
                  output: o
                  priority: NOTICE
                """);
        assertThat(set.forType(AG_REC_CONNECT)).extracting(CompiledRule::name).containsExactly("net", "any", "notnet");
        assertThat(set.forType(AG_REC_EXEC)).extracting(CompiledRule::name).containsExactly("any", "notnet");
    }

    @Test
    void exceptionsSuppressMatchingTuples() {
        RuleSet set = RuleTestSupport.compile("""
                - rule: r
                  desc: d
                  condition: evt.type = exec and proc.name = xmrig
                  output: o
                  priority: NOTICE
                  exceptions:
                    - name: bench
                      fields: [proc.exe, proc.pname]
                      comps: [startswith, "="]
                      values:
                        - [/opt/bench/, bash]
                """);
        CompiledCondition c = set.rules().getFirst().condition();
        assertThat(c.test(exec("/opt/bench/xmrig", List.of("xmrig"), List.of("bash")))).isFalse();
        assertThat(c.test(exec("/opt/bench/xmrig", List.of("xmrig"), List.of("zsh")))).isTrue();
        assertThat(c.test(exec("/tmp/xmrig", List.of("xmrig"), List.of("bash")))).isTrue();
    }

    @Test
    void disabledRulesAreLeftOut() {
        RuleSet set = RuleTestSupport.compile("- rule: r\n  desc: d\n  condition: proc.name = x\n  output: o\n"
                + "  priority: NOTICE\n  enabled: false\n");
        assertThat(set.rules()).isEmpty();
    }

    private static void fails(String yaml, String message) {
        assertThatThrownBy(() -> RuleTestSupport.compile(yaml)).isInstanceOf(RuleException.class).hasMessage(message);
    }

    private static String rule(String condition) {
        return "- rule: r\n  desc: d\n  condition: " + condition + "\n  output: o\n  priority: NOTICE\n";
    }

    @Test
    void errorsArePreciseWithFileLineAndColumn() {
        fails(rule("proc.nmae = x"), "t.yaml:3:14: unknown field 'proc.nmae' (did you mean 'proc.name'?)");
        fails(rule("proc.name > 3"), "t.yaml:3:24: operator '>' needs an int field; 'proc.name' is a string");
        fails(rule("conn.port = ssh"), "t.yaml:3:26: 'conn.port' is an int; \"ssh\" is not a number");
        fails(rule("conn.addr cidr (10.0.0.0/33)"), "t.yaml:3:30: invalid CIDR '10.0.0.0/33' (prefix length 33 > 32)");
        fails(rule("conn.addr = 10.0.0.0/8"), "t.yaml:3:26: '10.0.0.0/8' is a network: use cidr");
        fails(rule("proc.cmdline regex '([a-z]'"), "t.yaml:3:33: invalid regex '([a-z]': missing closing )");
        // RE2 syntax, matched in linear time: no backreferences, no lookaround (argv cannot make it backtrack)
        fails(rule("proc.cmdline regex '(a+)\\1'"), "t.yaml:3:33: invalid regex '(a+)\\1': invalid escape sequence");
        fails(rule("proc.cmdline regex 'x(?=y)'"), "t.yaml:3:33: invalid regex 'x(?=y)': invalid or unsupported Perl syntax");
        fails(rule("proc.name in (privte_nets)") .replace("- rule", "- list: private_nets\n  items: [a]\n- rule"),
                "t.yaml:5:28: unknown list 'privte_nets' (did you mean 'private_nets'?)");
        fails(rule("is_minr"), "t.yaml:3:14: unknown macro or field 'is_minr'");
        fails(rule("proc.name"), "t.yaml:3:14: 'proc.name' is a string field: compare it with an operator");
        fails(rule("proc.name = x and"), "t.yaml:3:31: condition ends where a field, macro or '(' was expected");
        fails(rule("(proc.name = x"), "t.yaml:3:28: expected ')' to close the '(' at 3:14");
        fails(rule("proc.name = x x"), "t.yaml:3:28: unexpected 'x' (expected and, or, or the end of the condition)");
        fails(rule("evt.type = exex"), "t.yaml:3:25: unknown event type 'exex' (exec, fork, exit, connect, gpu_open, gpu_ioctl)");
        fails(rule("proc.name = (a, b)"), "t.yaml:3:24: '=' takes one value; use 'in' for a list");
        fails(rule("gpu.compute = yes"), "t.yaml:3:28: 'gpu.compute' is a bool; \"yes\" is not true or false");
        fails(rule("conn.port = 22 and gpu.compute"), "t.yaml:3:14: rule 'r' can never match: no event type has all"
                + " the fields its condition requires");
    }

    @Test
    void macroCyclesAndDuplicatesAreErrors() {
        fails("""
                - macro: a
                  condition: proc.name = x
                - macro: b
                  condition: a
                - macro: a
                  condition: b
                """, "t.yaml:5:3: macro 'a' is already defined at t.yaml:1:3; to change it, add override: (e.g."
                + " override: {condition: append}) or append: true");
        fails("- macro: a\n  condition: a or proc.name = x\n", "t.yaml:2:14: macro cycle: a -> a");
        // every file's macros are known before any is compiled (overrides may use later ones): a cycle through two
        fails("- macro: a\n  condition: b\n- macro: b\n  condition: a\n", "t.yaml:2:14: macro cycle: b -> a -> b\n"
                + "t.yaml:4:14: macro cycle: a -> b -> a");
        fails(rule("proc.name = x") + rule("proc.name = y"), "t.yaml:6:3: rule 'r' is already defined at t.yaml:1:3;"
                + " to change it, add override: (e.g. override: {condition: append}) or append: true");
    }

    @Test
    void itemShapeErrorsNameTheKey() {
        fails("- rule: r\n  desc: d\n  condtion: x\n", "t.yaml:3:3: unknown key 'condtion' in a rule (did you mean 'condition'?)");
        fails("- rule: r\n  desc: d\n  output: o\n  priority: NOTICE\n", "t.yaml:1:3: missing 'condition' (a new rule needs"
                + " desc, condition, output and priority; to change the earlier rule 'r', add override: {desc: replace,"
                + " output: replace, priority: replace})");
        fails(rule("proc.name = x").replace("NOTICE", "LOUD"), "t.yaml:5:13: priority 'LOUD' is not one of EMERGENCY,"
                + " ALERT, CRITICAL, ERROR, WARNING, NOTICE, INFORMATIONAL, DEBUG");
        fails("- rules: x\n", "t.yaml:1:3: unknown item: expected a 'rule', 'list' or 'macro' key");
        fails("rule: x\n", "t.yaml:1:1: a rule file is a list of items (- rule: ..., - list: ..., - macro: ...)");
        fails("- rule: [x\n", "t.yaml:2:1: YAML syntax error: expected ',' or ']', but got <stream end>");
        fails(rule("proc.name = x").replace("  output: o", "  output: \"%proc.nam\""),
                "t.yaml:4:12: unknown field 'proc.nam' (did you mean 'proc.name'?)");
    }
}
