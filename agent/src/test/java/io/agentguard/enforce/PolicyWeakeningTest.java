package io.agentguard.enforce;

import io.agentguard.config.AgentConfig;
import io.agentguard.config.AgentConfigLoader;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class PolicyWeakeningTest {
    private static final String BASE = """
            agent_cgroups: [agents]
            mode: %s
            policies:
              default:
                egress:
                  default: deny
                  allow: [127.0.0.0/8]
                  deny: [%s]
                gpu: {devices: none, compute: false}
                exec: {deny: [%s]}
              cgroups:
            %s
            """;

    private static PolicyWeakening.State state(String mode, String denies, String execDeny, String cgroups) {
        AgentConfig c = AgentConfigLoader.parse("a.yaml", BASE.formatted(mode, denies, execDeny, cgroups));
        return new PolicyWeakening.State(c.enforce(), c.defaultPolicy(), c.cgroupPolicies());
    }

    private static final String TRAINER = "    - {cgroup: agents/trainer, gpu: {devices: [0], compute: true}}";

    @Test
    void theSameConfigurationWeakensNothing() {
        var s = state("enforce", "127.66.9.0/24", "xmrig", TRAINER);
        assertThat(PolicyWeakening.between(s, state("enforce", "127.66.9.0/24", "xmrig", TRAINER))).isEmpty();
    }

    @Test
    void enforceToMonitorIsOneLine() {
        assertThat(PolicyWeakening.between(state("enforce", "127.66.9.0/24", "xmrig", TRAINER),
                state("monitor", "127.66.9.0/24", "xmrig", TRAINER))).containsExactly("mode enforce -> monitor");
    }

    @Test
    void aRemovedPolicyAndRemovedDenialsAreEachNamed() {
        List<String> lines = PolicyWeakening.between(state("enforce", "127.66.9.0/24, 127.66.8.0/24", "xmrig, /tmp/evil", TRAINER),
                state("enforce", "127.66.8.0/24", "/tmp/evil", "    []"));
        assertThat(lines).containsExactly("default policy: egress deny entries removed [127.66.9.0/24]",
                "default policy: exec deny names removed [xmrig]", "policy for agents/trainer removed");
    }

    @Test
    void restrictingIsNotWeakening() {
        assertThat(PolicyWeakening.between(state("monitor", "127.66.9.0/24", "xmrig", TRAINER),
                state("enforce", "127.66.9.0/24, 127.66.8.0/24", "xmrig, nc", "    []".replace("[]",
                        "- {cgroup: agents/trainer, gpu: {devices: none, compute: false}}")))).isEmpty();
    }

    @Test
    void aCgroupPolicyGrantingMoreIsNamed() {
        List<String> lines = PolicyWeakening.between(state("enforce", "127.66.9.0/24", "xmrig", TRAINER),
                state("enforce", "127.66.9.0/24", "xmrig",
                        "    - {cgroup: agents/trainer, mode: monitor, gpu: {devices: all, compute: true}}"));
        assertThat(lines).containsExactly("policy for agents/trainer: enforce -> monitor",
                "policy for agents/trainer: every NVIDIA device allowed");
    }

    @Test
    void narrowingEveryDeviceAndAllComputeToSomeIsNotWeakening() {
        assertThat(PolicyWeakening.between(state("enforce", "127.66.9.0/24", "xmrig",
                        "    - {cgroup: agents/trainer, gpu: {devices: all, compute: true}}"),
                state("enforce", "127.66.9.0/24", "xmrig",
                        "    - {cgroup: agents/trainer, gpu: {devices: [0], compute: false,"
                                + " compute_executables: [/usr/bin/python3]}}"))).isEmpty();
    }
}
