package io.agentguard.config;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class AgentConfigLoaderTest {
    @Test
    void embeddedDefaultWatchesTheSandboxCgroup() {
        AgentConfig c = AgentConfigLoader.embeddedDefault();
        assertThat(c.agentCgroups()).containsExactly("agentguard/sandbox");
        assertThat(c.createMissingCgroups()).isTrue();
        assertThat(c.maxArgsBytes()).isEqualTo(8192);
        assertThat(c.outputFormat()).isEqualTo(OutputFormat.JSON);
    }

    @Test
    void embeddedDefaultStopsTunnelsShellsAndSocketShellsAndAggregates() {
        AgentConfig c = AgentConfigLoader.embeddedDefault();
        assertThat(c.enforce()).isTrue();
        assertThat(c.defaultPolicy().tunnelDeny()).isTrue();
        assertThat(c.defaultPolicy().shellConnectDeny()).isTrue();
        assertThat(c.defaultPolicy().execDenySocketShell()).isTrue();
        assertThat(c.defaultPolicy().computeAllowed()).isFalse();
        assertThat(c.tunnels().programs()).contains("ssh", "autossh", "chisel", "socat");
        assertThat(c.aggregationWindowMs()).isEqualTo(10_000);
    }

    @Test
    void packagedConfigurationStopsWhatTheEmbeddedDefaultStops() throws Exception {
        AgentConfig embedded = AgentConfigLoader.embeddedDefault();
        java.nio.file.Path file = java.nio.file.Path.of("../packaging/debian/agentguard.yaml");
        AgentConfig packaged = AgentConfigLoader.parse(file.toString(), java.nio.file.Files.readString(file));
        for (AgentConfig c : java.util.List.of(embedded, packaged)) {
            assertThat(c.enforce()).isTrue();
            assertThat(c.maxArgsBytes()).isEqualTo(8192);
            assertThat(c.aggregationWindowMs()).isEqualTo(10_000);
            assertThat(c.tunnels()).isEqualTo(embedded.tunnels());
            assertThat(c.hostRoot()).isEqualTo(io.agentguard.process.HostRoot.SLASH);
        }
        Policy e = embedded.defaultPolicy();
        Policy p = packaged.defaultPolicy();
        assertThat(p.tunnelDeny()).isEqualTo(e.tunnelDeny()).isTrue();
        assertThat(p.shellConnectDeny()).isEqualTo(e.shellConnectDeny()).isTrue();
        assertThat(p.protocolsDeny()).isEqualTo(e.protocolsDeny()).isTrue();
        assertThat(p.execDenySocketShell()).isEqualTo(e.execDenySocketShell()).isTrue();
        assertThat(p.execDenyNames()).isEqualTo(e.execDenyNames());
        assertThat(p.computeAllowed()).isEqualTo(e.computeAllowed());
        assertThat(p.gpuAll()).isEqualTo(e.gpuAll());
        assertThat(p.gpuAllowed()).isEqualTo(e.gpuAllowed());
        assertThat(p.egressDefaultDeny()).isEqualTo(e.egressDefaultDeny());
        assertThat(p.egress()).extracting(Policy.EgressEntry::text).isEqualTo(e.egress().stream().map(Policy.EgressEntry::text).toList());
    }

    @Test
    void fullFileIsRead() {
        AgentConfig c = AgentConfigLoader.parse("a.yaml", """
                agent_cgroups: [agents.slice, "ci/runners"]
                output: {path: /var/log/ag.jsonl, format: text}
                exec: {max_args_bytes: 2048}
                ring_buffer: {size_bytes: 0x1000000}
                gpu: {standins: ["/dev/x=gpu3"]}
                connect: {outcome_timeout_ms: 500}
                stats_interval_ms: 0
                """);
        assertThat(c.agentCgroups()).containsExactly("agents.slice", "ci/runners");
        assertThat(c.outputPath()).isEqualTo("/var/log/ag.jsonl");
        assertThat(c.ringBufferBytes()).isEqualTo(16 << 20);
        assertThat(c.gpuStandins()).containsExactly("/dev/x=gpu3");
        assertThat(c.connectOutcomeTimeoutMs()).isEqualTo(500);
    }

    @Test
    void ringWakeupIsBatchedEvery2MsUnlessSetOtherwise() {
        assertThat(AgentConfigLoader.parse("a.yaml", "agent_cgroups: [x]\n").wakeupDelayMs()).isEqualTo(2);
        assertThat(AgentConfigLoader.parse("a.yaml", "agent_cgroups: [x]\nring_buffer: {wakeup_delay_ms: 0}\n")
                .wakeupDelayMs()).isZero();
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml", "agent_cgroups: [x]\nring_buffer: {wakeup_delay_ms: 5000}\n"))
                .hasMessage("a.yaml:2:32: ring_buffer.wakeup_delay_ms: 5000 is out of range 0..1000");
    }

    @Test
    void kernelStateIsCheckedEvery2SecondsAndTooShortAnIntervalIsRefused() {
        assertThat(AgentConfigLoader.parse("a.yaml", "agent_cgroups: [x]\n").verifyIntervalMs()).isEqualTo(2000);
        assertThat(AgentConfigLoader.embeddedDefault().verifyIntervalMs()).isEqualTo(2000);
        assertThat(AgentConfigLoader.parse("a.yaml", "agent_cgroups: [x]\nenforcement: {verify_interval_ms: 0}\n")
                .verifyIntervalMs()).isZero();
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml", "agent_cgroups: [x]\nenforcement: {verify_interval_ms: 10}\n"))
                .hasMessage("a.yaml:2:35: enforcement.verify_interval_ms: 10 ms is too short (each check walks every"
                        + " link, pin and policy entry); use 100 or more, or 0 to turn the checks off");
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml", "agent_cgroups: [x]\nenforcement: {verify_interval_ms: -1}\n"))
                .hasMessage("a.yaml:2:35: enforcement.verify_interval_ms: -1 is out of range 0..3600000");
    }

    @Test
    void ruleLimitsAndTheClassifierBudgetAreReadWithDefaultsForWhatIsNotSet() {
        AgentConfig d = AgentConfigLoader.parse("a.yaml", "agent_cgroups: [x]\n");
        assertThat(d.classification()).isEqualTo(AgentConfig.Classification.DEFAULT);
        AgentConfig c = AgentConfigLoader.parse("a.yaml", """
                agent_cgroups: [x]
                rules:
                  limits: {file_bytes: 65536, list_items: 500, condition_depth: 40}
                classifier: {budget_per_event: 500000, budget_report_interval_ms: 60000}
                """);
        assertThat(c.classification().ruleLimits()).isEqualTo(new io.agentguard.rules.RuleLimits(65536,
                io.agentguard.rules.RuleLimits.DEFAULT.yamlDepth(), io.agentguard.rules.RuleLimits.DEFAULT.yamlAliases(),
                500, 40, io.agentguard.rules.RuleLimits.DEFAULT.compiledSize()));
        assertThat(c.classification().budgetPerEvent()).isEqualTo(500_000);
        assertThat(c.classification().budgetReportIntervalMs()).isEqualTo(60_000);
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml", "agent_cgroups: [x]\nrules: {limits: {list_item: 5}}\n"))
                .hasMessage("a.yaml:2:18: unknown key 'list_item' (did you mean 'list_items'?)");
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml", "agent_cgroups: [x]\nrules: {limits: {yaml_depth: 5000}}\n"))
                .hasMessage("a.yaml:2:30: rules.limits.yaml_depth: 5000 is out of range 8..1000");
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml", "agent_cgroups: [x]\nclassifier: {budget_per_event: 10}\n"))
                .hasMessage("a.yaml:2:32: classifier.budget_per_event: 10 is out of range 1000..1099511627776");
    }

    @Test
    void aConfigNestedThousandsDeepIsALimitErrorNotAStackOverflow() {
        String yaml = "agent_cgroups: [x]\npolicies: " + "[".repeat(5000) + "]".repeat(5000) + "\n";
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml", yaml)).isInstanceOf(ConfigException.class)
                .hasMessage("a.yaml:2:42: YAML nested 33 levels deep, over the limit of 32 (a fixed limit)");
    }

    @Test
    void aConfigFileWithInvalidUtf8NamesTheBadByte(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        java.nio.file.Path file = dir.resolve("agentguard.yaml");
        java.nio.file.Files.write(file, new byte[] {'a', 'g', 'e', 'n', 't', '_', 'c', 'g', 'r', 'o', 'u', 'p', 's', ':',
            ' ', '[', (byte) 0xC3, '(', ']', '\n'});
        assertThatThrownBy(() -> AgentConfigLoader.load(file)).isInstanceOf(ConfigException.class)
                .hasMessage(file + ":1:17: invalid UTF-8: byte 0xC3 at byte offset 16 (line 1, column 17); save the file"
                        + " as UTF-8");
    }

    @Test
    void anOversizedConfigFileIsRefusedBeforeItIsParsed(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        java.nio.file.Path file = dir.resolve("agentguard.yaml");
        java.nio.file.Files.writeString(file, "agent_cgroups: [x]\n" + "#".repeat(2 << 20) + "\n");
        assertThatThrownBy(() -> AgentConfigLoader.load(file)).isInstanceOf(ConfigException.class)
                .hasMessage(file + ": the file is " + java.nio.file.Files.size(file) + " bytes, over the limit of 1048576"
                        + " bytes (a fixed limit)");
    }

    @Test
    void unknownKeyNamesFileLineColumnAndSuggests() {
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml", "agent_cgroups: [x]\nexec:\n  max_arg_bytes: 3\n"))
                .isInstanceOf(ConfigException.class)
                .hasMessage("a.yaml:3:3: unknown key 'max_arg_bytes' (did you mean 'max_args_bytes'?)");
    }

    @Test
    void typeAndRangeErrorsArePrecise() {
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml", "agent_cgroups: [x]\nexec: {max_args_bytes: lots}\n"))
                .hasMessage("a.yaml:2:24: exec.max_args_bytes: expected an integer");
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml", "agent_cgroups: [x]\nexec: {max_args_bytes: 9000}\n"))
                .hasMessage("a.yaml:2:24: exec.max_args_bytes: 9000 is out of range 1..8192");
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml", "agent_cgroups: [x]\nring_buffer: {size_bytes: 5000}\n"))
                .hasMessage("a.yaml:2:27: ring_buffer.size_bytes: 5000 is not a power of two");
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml",
                "agent_cgroups: [x]\nring_buffer: {size_bytes: 65536, reserved_bytes: 40000}\n"))
                .hasMessage("a.yaml:2:50: ring_buffer.reserved_bytes: 40000 is more than half the ring (65536 bytes):"
                        + " ordinary records would hardly fit");
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml",
                "agent_cgroups: [x]\nring_buffer: {records_per_second_per_cgroup: -1}\n"))
                .hasMessage("a.yaml:2:46: ring_buffer.records_per_second_per_cgroup: -1 is out of range 0..100000000");
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml", "agent_cgroups: x\n"))
                .hasMessage("a.yaml:1:16: agent_cgroups: expected a list of strings");
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml", "output: {format: xml}\nagent_cgroups: [x]\n"))
                .hasMessage("a.yaml:1:18: output.format: 'xml' is not one of json, text");
    }

    @Test
    void withoutPoliciesTheSafeDefaultIsEnforced() {
        AgentConfig c = AgentConfigLoader.parse("a.yaml", "agent_cgroups: [x]\n");
        assertThat(c.enforce()).isTrue();
        Policy p = c.defaultPolicy();
        assertThat(p.gpuAll()).isFalse();
        assertThat(p.gpuAllowed()).isZero();
        assertThat(p.computeAllowed()).isFalse();
        assertThat(p.egressDefaultDeny()).isFalse();
        assertThat(p.egress()).extracting(Policy.EgressEntry::text).containsExactly("169.254.169.254/32", "fd00:ec2::254/128");
        assertThat(p.execDenyNames()).contains("xmrig", "t-rex", "nbminer");
    }

    @Test
    void policiesAreReadWithCgroupPoliciesInheritingTheDefault() {
        AgentConfig c = AgentConfigLoader.parse("a.yaml", """
                agent_cgroups: [agents]
                mode: monitor
                policies:
                  default:
                    egress:
                      default: deny
                      allow: [127.0.0.0/8, "::1/128 tcp/22", "10.0.0.0/8 udp/53", "192.168.0.0/16 tcp/1000-2000"]
                    gpu: {devices: none, compute: false}
                    exec: {deny: [xmrig, /tmp/evil]}
                  cgroups:
                    - cgroup: agents/trainer
                      mode: enforce
                      gpu: {devices: [0, 3], compute: true}
                """);
        assertThat(c.enforce()).isFalse();
        Policy d = c.defaultPolicy();
        assertThat(d.egressDefaultDeny()).isTrue();
        assertThat(d.egress()).hasSize(4);
        Policy.EgressEntry ssh = d.egress().get(1);
        assertThat(ssh.allow()).isTrue();
        assertThat(ssh.protocol()).isEqualTo(6);
        assertThat(ssh.portLow()).isEqualTo(22);
        assertThat(ssh.portHigh()).isEqualTo(22);
        assertThat(ssh.prefixBits()).isEqualTo(128);
        assertThat(d.egress().get(0).prefixBits()).isEqualTo(96 + 8);
        assertThat(d.egress().get(3).portHigh()).isEqualTo(2000);
        assertThat(d.execDenyNames()).containsExactly("xmrig");
        assertThat(d.execDenyPaths()).containsExactly("/tmp/evil");
        Policy t = c.cgroupPolicies().getFirst();
        assertThat(t.cgroup()).isEqualTo("agents/trainer");
        assertThat(t.enforcing(c.enforce())).isTrue();
        assertThat(d.enforcing(c.enforce())).isFalse();
        assertThat(t.gpuAllowed()).isEqualTo(0b1001);
        assertThat(t.computeAllowed()).isTrue();
        assertThat(t.egressDefaultDeny()).isTrue();   // inherited
        assertThat(t.execDenyNames()).containsExactly("xmrig");
    }

    @Test
    void badPoliciesAreRefusedPrecisely() {
        String head = "agent_cgroups: [x]\npolicies:\n  default:\n";
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml", head + "    egress: {deny: [10.0.0.0/33]}\n"))
                .hasMessage("a.yaml:4:21: invalid CIDR '10.0.0.0/33' (prefix length 33 > 32)");
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml", head + "    egress: {deny: [10.0.0.0/8], allow: ['10.0.0.0/8 tcp/22']}\n"))
                .hasMessage("a.yaml:4:13: egress: '10.0.0.0/8' (deny) contradicts '10.0.0.0/8 tcp/22' (allow)");
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml", head + "    gpu: {devices: [gpu0]}\n"))
                .hasMessage("a.yaml:4:21: gpu.devices item: expected an integer");
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml", head + "    gpu: {devices: [64]}\n"))
                .hasMessage("a.yaml:4:21: gpu.devices item: 64 is out of range 0..63");
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml", head + "    egress: {allow: ['::1 tcp/99999']}\n"))
                .hasMessage("a.yaml:4:22: egress entry '::1 tcp/99999': ports must be 0..65535, low <= high");
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml", head + "    gpu: {compute_executables: [/no/such/python]}\n"))
                .hasMessageContaining("'/no/such/python' is not an existing file");
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml", head + "    mode: block\n"))
                .hasMessage("a.yaml:4:11: mode: 'block' is not one of monitor, enforce");
    }

    @Test
    void syntaxErrorAndMissingCgroupsAreReported() {
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml", "agent_cgroups: [x\n"))
                .hasMessageStartingWith("a.yaml:2:1: YAML syntax error");
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml", "stats_interval_ms: 5\n"))
                .hasMessage("a.yaml:1:1: agent_cgroups: at least one agent cgroup is needed");
    }

    @Test
    void execIdentityKeysAreReadAndCgroupPoliciesInheritThem() {
        String digest = "AB".repeat(32);
        AgentConfig c = AgentConfigLoader.parse("a.yaml", """
                agent_cgroups: [x]
                exec: {recheck_ms: 500, hash_max_bytes: 1048576}
                policies:
                  default:
                    exec: {deny: [xmrig, /opt/miner], deny_sha256: [%s], deny_fileless: true}
                  cgroups:
                    - cgroup: x/y
                      exec: {deny_loader: true}
                """.formatted(digest));
        assertThat(c.execRecheckMs()).isEqualTo(500);
        assertThat(c.execHashMaxBytes()).isEqualTo(1 << 20);
        Policy d = c.defaultPolicy();
        assertThat(d.execDenyNames()).containsExactly("xmrig");
        assertThat(d.execDenyPaths()).containsExactly("/opt/miner");
        assertThat(d.execDenySha256()).containsExactly(digest.toLowerCase());
        assertThat(d.execDenyFileless()).isTrue();
        assertThat(d.execDenyLoader()).isFalse();
        Policy y = c.cgroupPolicies().getFirst();
        assertThat(y.execDenyLoader()).isTrue();
        assertThat(y.execDenyFileless()).isTrue();
        assertThat(y.execDenyPaths()).containsExactly("/opt/miner");
        AgentConfig defaults = AgentConfigLoader.embeddedDefault();
        assertThat(defaults.execRecheckMs()).isEqualTo(2000);
        assertThat(defaults.defaultPolicy().execDenyFileless()).isFalse();
    }

    @Test
    void badExecDenyEntriesAreRefusedPrecisely() {
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml", "agent_cgroups: [x]\npolicies:\n  default:\n"
                + "    exec: {deny_sha256: [abc]}\n"))
                .hasMessage("a.yaml:4:26: exec.deny_sha256: 'abc' is not a SHA-256 digest (64 hex digits)");
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml", "agent_cgroups: [x]\npolicies:\n  default:\n"
                + "    exec: {deny_filess: true}\n"))
                .hasMessageContaining("unknown key 'deny_filess' (did you mean 'deny_fileless'?)");
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml", "agent_cgroups: [x]\npolicies:\n  default:\n"
                + "    exec: {deny_loader: sometimes}\n"))
                .hasMessageContaining("exec.deny_loader");
    }

    @Test
    void sideDoorKeysParseInheritAndDefaultToTheSafeSide() {
        AgentConfig c = AgentConfigLoader.parse("a.yaml", """
                agent_cgroups: [x]
                policies:
                  default:
                    egress: {default: allow, raw_sockets: allow, unix_outside: deny}
                  cgroups:
                    - cgroup: x/inherits
                    - cgroup: x/own-egress
                      egress: {default: deny}
                """);
        assertThat(c.defaultPolicy().rawSocketsAllowed()).isTrue();
        assertThat(c.defaultPolicy().unixOutsideDeny()).isTrue();
        assertThat(c.cgroupPolicies().get(0).rawSocketsAllowed()).isTrue();      // no egress section: the default's
        assertThat(c.cgroupPolicies().get(0).unixOutsideDeny()).isTrue();
        assertThat(c.cgroupPolicies().get(1).rawSocketsAllowed()).isFalse();     // an egress section without them
        assertThat(c.cgroupPolicies().get(1).unixOutsideDeny()).isFalse();
        assertThat(AgentConfigLoader.parse("a.yaml", "agent_cgroups: [x]\n").defaultPolicy().rawSocketsAllowed()).isFalse();
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml",
                "agent_cgroups: [x]\npolicies:\n  default:\n    egress: {raw_sockets: yes}\n"))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("a.yaml:4:27: egress.raw_sockets");
    }

    @Test
    void runtimeSocketsDefaultToTheStandardPathsAndCanBeChangedOrTurnedOff() {
        AgentConfig.RuntimeLookup d = AgentConfigLoader.embeddedDefault().runtimeLookup();
        assertThat(d).isEqualTo(AgentConfig.RuntimeLookup.DEFAULT);
        assertThat(d.enabled()).isTrue();
        assertThat(d.sockets()).containsEntry("containerd", "/run/containerd/containerd.sock")
                .containsEntry("cri-o", "/var/run/crio/crio.sock")
                .containsEntry("podman", "/run/podman/podman.sock")
                .containsEntry("docker", "/var/run/docker.sock");
        AgentConfig c = AgentConfigLoader.parse("a.yaml", """
                agent_cgroups: [agents]
                workload:
                  names: true
                  runtime_sockets: {podman: /run/user/0/podman/podman.sock, docker: ""}
                  lookup_timeout_ms: 250
                  cache_ttl_ms: 60000
                  negative_ttl_ms: 0
                  cache_entries: 100
                """);
        AgentConfig.RuntimeLookup w = c.runtimeLookup();
        assertThat(w.sockets()).containsEntry("podman", "/run/user/0/podman/podman.sock").containsEntry("docker", "")
                .containsEntry("containerd", "/run/containerd/containerd.sock");
        assertThat(w.lookupTimeoutMs()).isEqualTo(250);
        assertThat(w.cacheTtlMs()).isEqualTo(60_000);
        assertThat(w.negativeTtlMs()).isZero();
        assertThat(w.cacheEntries()).isEqualTo(100);
        assertThat(AgentConfigLoader.parse("a.yaml", "agent_cgroups: [agents]\nworkload: {names: false}\n")
                .runtimeLookup().enabled()).isFalse();
    }

    @Test
    void badRuntimeSocketsAreRefusedPrecisely() {
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml", "agent_cgroups: [a]\nworkload:\n  runtime_sockets: {podmn: /x}\n"))
                .isInstanceOf(ConfigException.class)
                .hasMessage("a.yaml:3:21: unknown key 'podmn' (did you mean 'podman'?)");
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml", "agent_cgroups: [a]\nworkload:\n  runtime_sockets: {cri-o: crio.sock}\n"))
                .isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("a.yaml:3:28: workload.runtime_sockets.cri-o: 'crio.sock' is not an absolute path");
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml", "agent_cgroups: [a]\nworkload: {lookup_timeout_ms: 0}\n"))
                .isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("a.yaml:2:31: workload.lookup_timeout_ms");
    }
}
