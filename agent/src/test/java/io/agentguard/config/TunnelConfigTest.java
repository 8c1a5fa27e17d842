package io.agentguard.config;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** egress.tunnels and the tunnels section: values, defaults, inheritance and precise errors. */
class TunnelConfigTest {
    @Test
    void tunnelsAreAllowedUnlessAPolicySaysDeny() {
        AgentConfig c = AgentConfigLoader.parse("a.yaml", "agent_cgroups: [x]\n");
        assertThat(c.defaultPolicy().tunnelDeny()).isFalse();
        assertThat(c.tunnels()).isEqualTo(AgentConfig.Tunnels.DEFAULT);
        assertThat(c.tunnels().programs()).contains("ssh", "autossh", "chisel", "socat", "devtunnel");
        assertThat(c.tunnels().holdTimeoutMs()).isEqualTo(250);
    }

    @Test
    void egressTunnelsDenyIsInheritedUntilAPolicyWritesItsOwnEgress() {
        AgentConfig c = AgentConfigLoader.parse("a.yaml", """
                agent_cgroups: [x]
                policies:
                  default:
                    egress: {default: allow, tunnels: deny}
                  cgroups:
                    - cgroup: x/inherits
                    - cgroup: x/own-egress
                      egress: {default: allow}
                    - cgroup: x/allows
                      egress: {tunnels: allow}
                """);
        assertThat(c.defaultPolicy().tunnelDeny()).isTrue();
        assertThat(c.cgroupPolicies().get(0).tunnelDeny()).isTrue();
        assertThat(c.cgroupPolicies().get(1).tunnelDeny()).isFalse();   // keys left out of an egress section: defaults
        assertThat(c.cgroupPolicies().get(2).tunnelDeny()).isFalse();
    }

    @Test
    void tunnelsSectionIsRead() {
        AgentConfig c = AgentConfigLoader.parse("a.yaml", """
                agent_cgroups: [x]
                tunnels:
                  programs: [ssh, /opt/tools/chisel]
                  hold_timeout_ms: 500
                """);
        assertThat(c.tunnels().programs()).containsExactly("ssh", "/opt/tools/chisel");
        assertThat(c.tunnels().holdTimeoutMs()).isEqualTo(500);
    }

    @Test
    void badTunnelValuesGetPreciseErrors() {
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml",
                "agent_cgroups: [x]\npolicies:\n  default:\n    egress: {tunnels: block}\n"))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("a.yaml:4:23: egress.tunnels");
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml",
                "agent_cgroups: [x]\ntunnels: {hold_timeout_ms: 0}\n"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("tunnels.hold_timeout_ms");
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml",
                "agent_cgroups: [x]\ntunnels: {programs: [bin/chisel]}\n"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("tunnels.programs: 'bin/chisel' is neither a program name");
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml",
                "agent_cgroups: [x]\ntunnels: {programs: [cloudflared-tunnel-x]}\n"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("longer than 15 bytes");
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml",
                "agent_cgroups: [x]\ntunnels: {program: [ssh]}\n"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("'program'");
    }
}
