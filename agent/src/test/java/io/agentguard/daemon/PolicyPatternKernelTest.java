package io.agentguard.daemon;

import io.agentguard.config.AgentConfig;
import io.agentguard.config.AgentConfigLoader;
import io.agentguard.proto.v1.Violation;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Policies by pattern (enforce mode): agent_cgroups "ROOT/job_*" with a default policy that
 * allows egress, a policy on "ROOT/job_gpu*" that denies 127.66.0.0/16 and one on
 * "ROOT/job_mon*" that denies it in monitor mode. A cgroup made after start whose name matches
 * a policy's pattern is under THAT policy from its first instruction: the launcher's race
 * (mkdir, then at once clone3(CLONE_INTO_CGROUP) a child whose first act is a connect()) is
 * played a thousand times each way.
 */
class PolicyPatternKernelTest {
    private static final int RACES = 1000;
    private static final String DENIED = "127.66.0.7";
    private static final Path RULES_DIR;

    static {
        try {
            RULES_DIR = Files.createTempDirectory("agentguard-policy-pattern-rules");
            Files.writeString(RULES_DIR.resolve("50-policy-pattern.yaml"), """
                    - rule: Test connect under a monitor policy
                      desc: a connect whose policy (by pattern) is in monitor mode
                      condition: evt.type = connect and conn.family in (inet, inet6) and policy.mode = monitor
                      output: "%proc.name connect under policy mode %policy.mode"
                      priority: WARNING
                    """);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The policies, for the test root; {@code gpuDenies}: the gpu-jobs policy denies 127.66.0.0/16. */
    static AgentConfig policies(String root, boolean gpuDenies, String extraPolicy) {
        return AgentConfigLoader.parse("policy-patterns.yaml", """
                mode: enforce
                agent_cgroups: ["%1$s/job_*"]
                policies:
                  default:
                    egress: {default: allow}
                  cgroups:
                    - cgroup: "%1$s/job_gpu*"
                      egress: {default: allow, deny: [%2$s]}
                    - cgroup: "%1$s/job_mon*"
                      mode: monitor
                      egress: {default: allow, deny: [127.66.0.0/16]}
                %3$s""".formatted(root, gpuDenies ? "127.66.0.0/16" : "", extraPolicy));
    }

    @RegisterExtension
    static final KernelAgentExtension KERNEL = new KernelAgentExtension(4096)
            .withRules(List.of(RULES_DIR + "/*.yaml"))
            .agentCgroups(root -> List.of(root + "/job_*"))
            .configureAt((b, root) -> {
                AgentConfig c = policies(root, true, "");
                return b.enforce(true).defaultPolicy(c.defaultPolicy()).cgroupPolicies(c.cgroupPolicies());
            })
            .beforeStart(root -> {
                try {
                    Files.createDirectories(root.resolve("job_gpu_early"));   // matched by the start-up walk
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });

    private static Path root() {
        return KERNEL.mount().resolve(KERNEL.rootRelative());
    }

    private static String race(String nameFormat, int count) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(KernelAgentExtension.nativeTool("cgroup_churn").toString(), "race",
                root().toString(), nameFormat, String.valueOf(count), DENIED, "9").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertThat(p.waitFor()).as(out).isZero();
        return out;
    }

    /** EPERM (denied) or ECONNREFUSED (allowed: nothing listens on port 9). */
    private static String connectIn(Path cgroup) throws IOException, InterruptedException {
        return KERNEL.runIn(cgroup, KernelAgentExtension.nativeTool("connector").toString(), "tcp4", DENIED, "9")
                .stdout().trim();
    }

    @Test
    void everyProcessBornInANewCgroupMatchingAPolicysPatternIsUnderThatPolicyFromItsFirstInstruction() throws Exception {
        assertThat(race("job_gpu_race%ld", RACES)).isEqualTo("eperm=" + RACES + " refused=0 other=0");
    }

    @Test
    void aNewCgroupMatchingOnlyTheAgentPatternIsUnderTheDefaultPolicy() throws Exception {
        assertThat(race("job_cpu_race%ld", RACES)).isEqualTo("eperm=0 refused=" + RACES + " other=0");
    }

    @Test
    void aCgroupThatMatchedBeforeStartAndTheCgroupsBelowAMatchTakeThePatternsPolicy() throws Exception {
        assertThat(connectIn(root().resolve("job_gpu_early"))).isEqualTo("EPERM");
        Path below = Files.createDirectories(root().resolve("job_gpu_nested/step_0"));
        assertThat(connectIn(below)).isEqualTo("EPERM");
    }

    @Test
    void ruleFieldsSeeThePolicyOfThePattern() throws Exception {
        Path cpu = Files.createDirectories(root().resolve("job_cpu_rule"));
        Path mon = Files.createDirectories(root().resolve("job_mon_rule"));
        assertThat(connectIn(cpu)).isEqualTo("ECONNREFUSED");
        assertThat(connectIn(mon)).isEqualTo("ECONNREFUSED");   // monitor: reported, not refused
        List<Violation> v = KERNEL.awaitViolations(x -> x.getRule().equals("Test connect under a monitor policy")
                && x.getProcess().getCgroupId() == KERNEL.cgroupId(mon), 1, Duration.ofSeconds(10));
        assertThat(v).hasSize(1);
        // the cpu cgroup's connect came first and is under the (enforcing) default policy: no violation of this rule
        assertThat(KERNEL.awaitViolations(x -> x.getRule().equals("Test connect under a monitor policy"), 1000,
                Duration.ofMillis(1))).noneSatisfy(x -> assertThat(x.getProcess().getCgroupId()).isEqualTo(KERNEL.cgroupId(cpu)));
        assertThat(KERNEL.agent().policies().view().enforcing(KERNEL.agent().policies().view()
                .policyOf(KERNEL.rootRelative() + "/job_mon_rule"))).isFalse();
    }

    @Test
    void theAgentAndTheKernelAgreeOnWhichPolicyACgroupGets() throws Exception {
        for (String name : List.of("job_gpu1", "job_gpu", "job_gp", "job_cpu_gpu", "job_gpu2/inner", "job_mon3",
                "job_x/job_gpu9", "job_mon4/job_gpu")) {
            String relative = KERNEL.rootRelative() + "/" + name;
            Path dir = Files.createDirectories(KERNEL.mount().resolve(relative));
            var view = KERNEL.agent().policies().view();
            int policy = view.policyOf(relative);
            boolean agentSaysDenied = policy != 0 && view.enforcing(policy)
                    && view.policy(policy).egress().stream().anyMatch(e -> !e.allow());
            assertThat(connectIn(dir)).as(name + " (policy " + view.policy(policy).cgroup() + ")")
                    .isEqualTo(agentSaysDenied ? "EPERM" : "ECONNREFUSED");
        }
        var view = KERNEL.agent().policies().view();
        assertThat(view.policy(view.policyOf(KERNEL.rootRelative() + "/job_gpu2/inner")).cgroup())
                .isEqualTo(KERNEL.rootRelative() + "/job_gpu*");
        assertThat(view.policyOf(KERNEL.rootRelative() + "/job_gp")).isZero();
    }

    @Test
    void aReloadChangingThePatternsPolicyFlipsExistingAndNewMatchingCgroups() throws Exception {
        Path existing = Files.createDirectories(root().resolve("job_gpu_reload"));
        assertThat(connectIn(existing)).isEqualTo("EPERM");
        try {
            assertThat(KERNEL.agent().reloadPolicies(policies(KERNEL.rootRelative(), false, ""))).isNull();
            assertThat(connectIn(existing)).isEqualTo("ECONNREFUSED");
            assertThat(race("job_gpu_after%ld", 100)).isEqualTo("eperm=0 refused=100 other=0");
            // a pattern the kernel was not given at start cannot be added by a reload
            String error = KERNEL.agent().reloadPolicies(policies(KERNEL.rootRelative(), true, """
                        - cgroup: "%s/job_new*"
                          egress: {default: deny}
                    """.formatted(KERNEL.rootRelative())));
            assertThat(error).contains("job_new*").contains("restart");
            assertThat(connectIn(existing)).as("the failed reload changed nothing").isEqualTo("ECONNREFUSED");
        } finally {
            assertThat(KERNEL.agent().reloadPolicies(policies(KERNEL.rootRelative(), true, ""))).isNull();
        }
        assertThat(connectIn(existing)).isEqualTo("EPERM");
        assertThat(race("job_gpu_back%ld", 100)).isEqualTo("eperm=100 refused=0 other=0");
    }
}
