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
        assertThat(c.maxArgsBytes()).isEqualTo(4096);
        assertThat(c.outputFormat()).isEqualTo("json");
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
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml", "agent_cgroups: x\n"))
                .hasMessage("a.yaml:1:16: agent_cgroups: expected a list of strings");
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml", "output: {format: xml}\nagent_cgroups: [x]\n"))
                .hasMessage("a.yaml:1:18: output.format: 'xml' is not one of json, text");
    }

    @Test
    void enforceModeIsRefusedUntilEnforcementExists() {
        assertThat(AgentConfigLoader.parse("a.yaml", "agent_cgroups: [x]\nmode: monitor\n").agentCgroups()).containsExactly("x");
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml", "agent_cgroups: [x]\nmode: enforce\n"))
                .hasMessageStartingWith("a.yaml:2:7: mode: 'enforce' needs the enforcement stage");
    }

    @Test
    void syntaxErrorAndMissingCgroupsAreReported() {
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml", "agent_cgroups: [x\n"))
                .hasMessageStartingWith("a.yaml:2:1: YAML syntax error");
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml", "stats_interval_ms: 5\n"))
                .hasMessage("a.yaml:1:1: agent_cgroups: at least one agent cgroup is needed");
    }
}
