package io.agentguard.daemon;

import io.agentguard.config.Policy;
import io.agentguard.net.IpPrefix;
import io.agentguard.scope.AgentCgroups;
import io.agentguard.scope.CgroupPattern;
import io.agentguard.scope.CgroupPatternCases;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Agent cgroups by pattern (enforce mode, 127.66.0.0/16 denied): a cgroup made after start
 * with a matching name is in scope before any process runs in it, and leaves it only at rmdir. The launcher's race is
 * played thousands of times: mkdir, then at once clone3(CLONE_INTO_CGROUP) a child whose
 * first act is a denied connect(); every one must get EPERM.
 */
class ScopePatternKernelTest {
    private static final int RACES = 2000;
    private static final String DENIED = "127.66.0.7";

    private static final Policy DENY_EXTERNAL = new Policy("", null, false, List.of(new Policy.EgressEntry(false,
            "127.66.0.0/16", IpPrefix.range("127.66.0.0/16"), IpPrefix.bits("127.66.0.0/16"), 0, 0, 65535)),
            true, 0, true, List.of(), List.of(), List.of());

    @RegisterExtension
    static final KernelAgentExtension KERNEL = new KernelAgentExtension(4096)
            .configure(b -> b.enforce(true).defaultPolicy(DENY_EXTERNAL))
            .agentCgroups(root -> {
                List<String> entries = new ArrayList<>(List.of(root + "/fixed", root + "/pat/job_*",
                        root + "/pat/kubepods.slice/*/cri-containerd-*.scope", root + "/absent/x*"));
                for (int i = 0; i < CgroupPatternCases.PATTERNS.size(); i++) {
                    entries.add(root + "/m" + i + "/" + CgroupPatternCases.PATTERNS.get(i));
                }
                return entries;
            })
            .beforeStart(root -> {
                try {
                    Files.createDirectories(root.resolve("fixed"));
                    Files.createDirectories(root.resolve("pat/job_early"));   // matched before the agent started
                    Files.createDirectories(root.resolve("pat/kubepods.slice/pod-1234"));
                    for (int i = 0; i < CgroupPatternCases.PATTERNS.size(); i++) {
                        Files.createDirectories(root.resolve("m" + i));
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });

    private static Path root() {
        return KERNEL.mount().resolve(KERNEL.rootRelative());
    }

    private static String race(Path parent, String nameFormat, int count) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(KernelAgentExtension.nativeTool("cgroup_churn").toString(), "race",
                parent.toString(), nameFormat, String.valueOf(count), DENIED, "9").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertThat(p.waitFor()).as(out).isZero();
        return out;
    }

    private static String connectIn(Path cgroup) throws IOException, InterruptedException {
        return KERNEL.runIn(cgroup, KernelAgentExtension.nativeTool("connector").toString(), "tcp4", DENIED, "9")
                .stdout().trim();
    }

    private static boolean inScopeMap(long id) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment key = a.allocate(8, 8);
            MemorySegment value = a.allocate(4, 4);
            key.set(JAVA_LONG, 0, id);
            return KERNEL.agent().scopeRootsMap().lookup(key, value);
        }
    }

    @Test
    void everyProcessBornInANewMatchingCgroupIsCoveredFromItsFirstInstruction() throws Exception {
        assertThat(race(root().resolve("pat"), "job_%ld", RACES)).isEqualTo("eperm=" + RACES + " refused=0 other=0");
    }

    @Test
    void aPodLikeContainerCgroupThreeLevelsDownIsCoveredFromItsFirstInstruction() throws Exception {
        Path pod = Files.createDirectories(root().resolve("pat/kubepods.slice/pod-5678"));   // made after start
        assertThat(race(pod, "cri-containerd-%ld.scope", RACES / 2)).isEqualTo("eperm=" + RACES / 2 + " refused=0 other=0");
        // a sibling of the containers that is not one, and the pod itself, are not in scope
        assertThat(race(pod, "cri-containerd-%ld.mount", 20)).isEqualTo("eperm=0 refused=20 other=0");
        assertThat(connectIn(pod)).isEqualTo("ECONNREFUSED");
    }

    @Test
    void aNonMatchingSiblingIsNotInScope() throws Exception {
        assertThat(race(root().resolve("pat"), "other_%ld", 50)).isEqualTo("eperm=0 refused=50 other=0");
    }

    @Test
    void aMatchingCgroupMadeBeforeTheAgentStartedIsInScope() throws Exception {
        assertThat(connectIn(root().resolve("pat/job_early"))).isEqualTo("EPERM");
        assertThat(connectIn(root().resolve("fixed"))).isEqualTo("EPERM");
        assertThat(KERNEL.agent().cgroups().matched(KERNEL.agent().scopeRootsMap()))
                .anySatisfy(m -> assertThat(m.path()).isEqualTo(KERNEL.rootRelative() + "/pat/job_early"));
    }

    @Test
    void aMatchedCgroupCannotBeRenamedOutOfScope() throws Exception {
        // cgroup v2 refuses rename (only v1 hierarchies have it): a name, and so a match, holds from mkdir to rmdir
        Path job = Files.createDirectories(root().resolve("pat/job_named"));
        assertThatThrownBy(() -> Files.move(job, root().resolve("pat/done"))).isInstanceOf(IOException.class)
                .hasMessageContaining("Operation not permitted");
        assertThat(connectIn(job)).isEqualTo("EPERM");
        Files.delete(job);
    }

    @Test
    void kernelAndAgentMatchersAgreeOnTheSharedTable() throws Exception {
        for (CgroupPatternCases.Case c : CgroupPatternCases.CASES) {
            int index = CgroupPatternCases.PATTERNS.indexOf(c.pattern());
            String relative = KERNEL.rootRelative() + "/m" + index + "/" + c.name();
            Path dir = Files.createDirectory(KERNEL.mount().resolve(relative));
            long id = AgentCgroups.inode(dir);
            try {
                boolean agent = CgroupPattern.parse(KERNEL.rootRelative() + "/m" + index + "/" + c.pattern()).matches(relative);
                assertThat(inScopeMap(id)).as("kernel: " + c).isEqualTo(agent).isEqualTo(c.matches());
            } finally {
                Files.delete(dir);
            }
            assertThat(inScopeMap(id)).as("removed: forgotten").isFalse();
        }
    }
}
