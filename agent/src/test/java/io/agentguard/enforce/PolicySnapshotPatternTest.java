package io.agentguard.enforce;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The rule fields' policy of a cgroup with policies by pattern: as the kernel's policy_slot() decides. */
class PolicySnapshotPatternTest {
    private static final PolicySnapshot VIEW = PolicySnapshot.forTests("""
            mode: enforce
            agent_cgroups: ["jobs", "pods/job_*"]
            policies:
              cgroups:
                - cgroup: "jobs/gpu*"
                  mode: monitor
                - cgroup: jobs/gpu7
                - cgroup: "pods/job_gpu*"
                  mode: monitor
                - cgroup: "pods/job_gpu*/step_*"
            """);

    private static String policyOf(String path) {
        return VIEW.policy(VIEW.policyOf(path)).cgroup();
    }

    @Test
    void aCgroupMatchedByAPolicysPatternHasThatPolicyAndSoDoCgroupsBelowIt() {
        assertThat(policyOf("jobs/gpu1")).isEqualTo("jobs/gpu*");
        assertThat(policyOf("jobs/gpu1/inner")).isEqualTo("jobs/gpu*");
        assertThat(policyOf("jobs/cpu1")).isEmpty();
        assertThat(policyOf("pods/job_gpu3")).isEqualTo("pods/job_gpu*");
        assertThat(policyOf("pods/job_cpu3")).isEmpty();
        assertThat(VIEW.enforcing(VIEW.policyOf("pods/job_gpu3"))).isFalse();
    }

    @Test
    void theDeepestLevelWinsAndACgroupNamedByPathWinsAtItsLevel() {
        assertThat(policyOf("pods/job_gpu3/step_0")).isEqualTo("pods/job_gpu*/step_*");
        assertThat(policyOf("jobs/gpu7")).isEqualTo("jobs/gpu7");
    }
}
