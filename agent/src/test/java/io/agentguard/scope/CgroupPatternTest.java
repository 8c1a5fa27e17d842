package io.agentguard.scope;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class CgroupPatternTest {
    @Test
    void agentMatcherGivesTheSharedTablesAnswers() {
        for (CgroupPatternCases.Case c : CgroupPatternCases.CASES) {
            assertThat(CgroupPattern.parse("t/" + c.pattern()).matches("t/" + c.name()))
                    .as(c.pattern() + " ~ " + c.name()).isEqualTo(c.matches());
        }
    }

    @Test
    void starAndQuestionMarkNeverCrossASlash() {
        CgroupPattern p = CgroupPattern.parse("/kubepods.slice/*/cri-containerd-*.scope/");
        assertThat(p.text()).isEqualTo("kubepods.slice/*/cri-containerd-*.scope");
        assertThat(p.depth()).isEqualTo(3);
        assertThat(p.literalPrefix()).isEqualTo("kubepods.slice");
        assertThat(p.matches("kubepods.slice/pod1/cri-containerd-ab.scope")).isTrue();
        assertThat(p.matches("kubepods.slice/a/b/cri-containerd-ab.scope")).isFalse();
        assertThat(CgroupPattern.parse("a/*").matches("a/b/c")).isFalse();
        assertThat(CgroupPattern.parse("a?b").matches("a/b")).isFalse();
        assertThat(CgroupPattern.parse("*/x").literalPrefix()).isEmpty();
    }

    @Test
    void invalidPatternsNameTheOffendingCharacter() {
        assertThatThrownBy(() -> CgroupPattern.parse("a/**/b")).isInstanceOf(CgroupPattern.Invalid.class)
                .satisfies(e -> assertThat(((CgroupPattern.Invalid) e).index()).isEqualTo(3));
        assertThatThrownBy(() -> CgroupPattern.parse("a/[ab]*")).satisfies(e ->
                assertThat(((CgroupPattern.Invalid) e).index()).isEqualTo(2));
        assertThatThrownBy(() -> CgroupPattern.parse("a//b*")).satisfies(e ->
                assertThat(((CgroupPattern.Invalid) e).index()).isEqualTo(2));
        assertThatThrownBy(() -> CgroupPattern.parse("a/../b*")).satisfies(e ->
                assertThat(((CgroupPattern.Invalid) e).index()).isEqualTo(2));
        assertThatThrownBy(() -> CgroupPattern.parse("a/{x,y}*")).hasMessageContaining("'{'");
        assertThatThrownBy(() -> CgroupPattern.parse("x*" + "y".repeat(300))).hasMessageContaining("at most 255");
    }
}

class CgroupPatternConfigTest {
    @Test
    void anInvalidPatternIsAnErrorAtItsFileLineAndColumn() {
        String yaml = "mode: monitor\nagent_cgroups:\n  - agents\n  - kubepods.slice/**/x.scope\n";
        assertThatThrownBy(() -> io.agentguard.config.AgentConfigLoader.parse("a.yaml", yaml))
                .isInstanceOf(io.agentguard.config.ConfigException.class)
                .hasMessageStartingWith("a.yaml:4:21: agent_cgroups: 'kubepods.slice/**/x.scope': '**' is not supported");
        String quoted = "agent_cgroups: [\"slurm/uid_*/job_[0-9]\"]\n";
        assertThatThrownBy(() -> io.agentguard.config.AgentConfigLoader.parse("b.yaml", quoted))
                .hasMessageStartingWith("b.yaml:1:34: agent_cgroups:");
        String policy = "agent_cgroups: [a]\npolicies:\n  cgroups:\n    - cgroup: a/job_*\n";
        assertThatThrownBy(() -> io.agentguard.config.AgentConfigLoader.parse("c.yaml", policy))
                .hasMessageStartingWith("c.yaml:4:21: policies.cgroups: 'a/job_*': patterns are not supported");
    }

    @Test
    void aPatternThatMatchesNothingIsFine() {
        assertThat(io.agentguard.config.AgentConfigLoader.parse("a.yaml", "agent_cgroups: [\"nowhere/job_*\"]\n")
                .agentCgroups()).containsExactly("nowhere/job_*");
    }
}
