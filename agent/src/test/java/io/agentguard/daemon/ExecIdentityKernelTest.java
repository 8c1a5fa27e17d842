package io.agentguard.daemon;

import io.agentguard.config.AgentConfigLoader;
import io.agentguard.config.Policy;
import io.agentguard.enforce.FileIdentity;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.ExecDenyMatch;
import io.agentguard.proto.v1.ExecEvent;
import io.agentguard.proto.v1.Verdict;
import io.agentguard.proto.v1.Violation;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.function.Predicate;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The exec policy denies what is executed, not how it was named. Each test plays an agent
 * that wants to run a denied program (a copy of sleep at a denied path) past the deny list:
 * by another name for the same file, a renamed copy, the dynamic loader, or without a file
 * name at all; and checks the outcome (killed before it ran, or after it started where
 * only the daemon can judge) and the violation with its evidence.
 */
class ExecIdentityKernelTest {
    static final Path SCRATCH;
    static final Path DENIED;
    static final Path LOADER = Path.of("/lib64/ld-linux-x86-64.so.2");
    static final int KILLED = 128 + 9;

    static {
        try {
            SCRATCH = Files.createTempDirectory("agentguard-exec-identity");
            DENIED = SCRATCH.resolve("miner-denied");
            Files.copy(Path.of("/usr/bin/sleep"), DENIED);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @RegisterExtension
    static final KernelAgentExtension KERNEL = new KernelAgentExtension(4096).configure(b -> b.enforce(true)
            .defaultPolicy(AgentConfigLoader.parse("test", """
                    agent_cgroups: [x]
                    policies:
                      default:
                        exec: {deny: [xmrig, %s]}
                    """.formatted(DENIED)).defaultPolicy()));

    private static Policy policy(Path cg, Boolean enforce, boolean denyFileless, boolean denyLoader) {
        return new Policy(KERNEL.mount().relativize(cg).toString(), enforce, false, List.of(), true, 0, true, List.of(),
                List.of("xmrig"), List.of(DENIED.toString()), List.of(), denyFileless, denyLoader);
    }

    private static String tool(String name) {
        return KernelAgentExtension.nativeTool(name).toString();
    }

    private static Path link(String kind) throws IOException {
        Path p = SCRATCH.resolve(kind + "-" + System.nanoTime());
        switch (kind) {
            case "symlink" -> Files.createSymbolicLink(p, DENIED);
            case "hardlink" -> Files.createLink(p, DENIED);
            default -> Files.copy(DENIED, p, StandardCopyOption.COPY_ATTRIBUTES);
        }
        return p;
    }

    private ExecEvent exec(Path cg, Predicate<ExecEvent> which) throws InterruptedException {
        List<Event> found = KERNEL.await(e -> e.hasExec() && e.getProcess().getCgroupId() == KERNEL.cgroupId(cg)
                && which.test(e.getExec()), 1, Duration.ofSeconds(10));
        assertThat(found).as("exec event in " + cg).isNotEmpty();
        return found.getFirst().getExec();
    }

    private Violation violation(Path cg, String rule, Predicate<ExecEvent> which) throws InterruptedException {
        String path = KERNEL.mount().relativize(cg).toString();
        List<Violation> found = KERNEL.awaitViolations(v -> v.getRule().equals(rule) && v.getCgroupPath().equals(path)
                && v.getEvidence(0).hasExec() && which.test(v.getEvidence(0).getExec()), 1, Duration.ofSeconds(10));
        assertThat(found).as("violation '" + rule + "' in " + path).isNotEmpty();
        return found.getFirst();
    }

    @Test
    void aSymlinkHardlinkOrRespelledPathOfADeniedProgramIsKilledBeforeItRuns() throws Exception {
        Path cg = KERNEL.newCgroup("spellings");
        FileIdentity denied = FileIdentity.of(DENIED);
        List<String> spellings = List.of(link("symlink").toString(), link("hardlink").toString(), "/" + DENIED,
                DENIED.getParent() + "/./" + DENIED.getFileName());
        for (String spelling : spellings) {
            assertThat(KERNEL.runIn(cg, spelling, "0").exitStatus()).as(spelling).isEqualTo(KILLED);
            ExecEvent x = exec(cg, e -> e.getFilename().equals(spelling));
            assertThat(x.getVerdict()).as(spelling).isEqualTo(Verdict.VERDICT_DENIED);
            assertThat(x.getDenyMatch()).as(spelling).isEqualTo(ExecDenyMatch.EXEC_DENY_MATCH_IDENTITY);
            // the kernel's s_dev and stat's st_dev, decoded: the same file system
            assertThat(x.getDevMajor()).isEqualTo(denied.major());
            assertThat(x.getDevMinor()).isEqualTo(denied.minor());
            assertThat(x.getInode()).isEqualTo(denied.ino());
            Violation v = violation(cg, "agentguard: exec killed by policy", e -> e.getFilename().equals(spelling));
            assertThat(v.getOutput()).contains("file identity").contains(spelling);
        }
    }

    @Test
    void aDeniedPathReplacedByAnotherFileIsDeniedByItsNewIdentity() throws Exception {
        Path cg = KERNEL.newCgroup("replaced");
        Path replaced = SCRATCH.resolve("replaced-" + System.nanoTime());
        Files.copy(Path.of("/usr/bin/true"), replaced);
        Path cgPolicy = cg;
        KERNEL.agent().addPolicyForTest(new Policy(KERNEL.mount().relativize(cgPolicy).toString(), null, false, List.of(),
                true, 0, true, List.of(), List.of(), List.of(replaced.toString()), List.of(), false, false));
        Path alias = SCRATCH.resolve("alias-" + System.nanoTime());
        Files.createSymbolicLink(alias, replaced);
        assertThat(KERNEL.runIn(cg, alias.toString()).exitStatus()).isEqualTo(KILLED);
        // a new file at the denied path: a new inode, found by the recheck
        Files.delete(replaced);
        Files.copy(Path.of("/usr/bin/sleep"), replaced);
        FileIdentity now = FileIdentity.of(replaced);
        KERNEL.agent().policies().recheckExecFiles();
        KernelAgentExtension.Run run = KERNEL.runIn(cg, alias.toString(), "0");
        assertThat(run.exitStatus()).isEqualTo(KILLED);
        ExecEvent x = exec(cg, e -> e.getFilename().equals(alias.toString()) && e.getInode() == now.ino());
        assertThat(x.getDenyMatch()).isEqualTo(ExecDenyMatch.EXEC_DENY_MATCH_IDENTITY);
    }

    @Test
    void aRenamedCopyOfADeniedProgramIsKilledAfterItStartsByItsDigest() throws Exception {
        Path cg = KERNEL.newCgroup("renamed");
        Path copy = link("copy");
        // without the daemon's check this sleeps 50 s and exits 0
        assertThat(KERNEL.runIn(cg, copy.toString(), "50").exitStatus()).isEqualTo(KILLED);
        Violation v = violation(cg, "agentguard: exec killed by policy after it started",
                e -> e.getFilename().equals(copy.toString()));
        ExecEvent x = v.getEvidence(0).getExec();
        assertThat(x.getDenyMatch()).isEqualTo(ExecDenyMatch.EXEC_DENY_MATCH_SHA256);
        assertThat(x.getAfterStart()).isTrue();
        assertThat(x.getSha256()).hasSize(64);
        assertThat(x.getVerdict()).isEqualTo(Verdict.VERDICT_DENIED);
    }

    @Test
    void theDynamicLoaderRunningADeniedProgramIsFlaggedAndTheProgramKilled() throws Exception {
        Path cg = KERNEL.newCgroup("loader");
        String alias = link("symlink").toString();
        assertThat(KERNEL.runIn(cg, LOADER.toString(), "--inhibit-cache", alias, "50").exitStatus()).isEqualTo(KILLED);
        ExecEvent x = exec(cg, e -> e.getFilename().equals(LOADER.toString()));
        assertThat(x.getLoader()).isTrue();
        Violation v = violation(cg, "agentguard: exec killed by policy after it started", ExecEvent::getLoader);
        assertThat(v.getEvidence(0).getExec().getProgram()).isEqualTo(alias);
        assertThat(v.getEvidence(0).getExec().getDenyMatch()).isEqualTo(ExecDenyMatch.EXEC_DENY_MATCH_IDENTITY);
        // an allowed program through the loader runs
        assertThat(KERNEL.runIn(cg, LOADER.toString(), "/usr/bin/true").exitStatus()).isZero();
        assertThat(KERNEL.agent().status()).contains("execChecks").contains("ld-linux-x86-64.so.2");
    }

    @Test
    void aPolicyDenyingTheLoaderKillsItBeforeItRunsButLetsLddInspect() throws Exception {
        Path cg = KERNEL.newCgroup("noloader");
        KERNEL.agent().addPolicyForTest(policy(cg, null, false, true));
        assertThat(KERNEL.runIn(cg, LOADER.toString(), "/usr/bin/true").exitStatus()).isEqualTo(KILLED);
        ExecEvent x = exec(cg, e -> e.getFilename().equals(LOADER.toString()) && e.getVerdict() == Verdict.VERDICT_DENIED);
        assertThat(x.getDenyMatch()).isEqualTo(ExecDenyMatch.EXEC_DENY_MATCH_LOADER);
        violation(cg, "agentguard: exec killed by policy", ExecEvent::getLoader);
        assertThat(KERNEL.runIn(cg, LOADER.toString(), "--verify", "/usr/bin/true").exitStatus()).isZero();
        assertThat(KERNEL.runIn(cg, LOADER.toString(), "--list", "/usr/bin/true").exitStatus()).isZero();
    }

    @Test
    void filelessExecsAreReportedAndADeniedProgramRunThroughADescriptorIsKilled() throws Exception {
        Path cg = KERNEL.newCgroup("fileless");
        assertThat(KERNEL.runIn(cg, tool("fexec"), "memfd", "/usr/bin/true").exitStatus()).isZero();
        Violation memfd = violation(cg, "agentguard: fileless exec", ExecEvent::getMemfd);
        assertThat(memfd.getEvidence(0).getExec().getUnlinked()).isTrue();
        assertThat(memfd.getEvidence(0).getExec().getByFd()).isTrue();
        assertThat(memfd.getEvidence(0).getExec().getFileless()).isTrue();

        // execveat(fd, "", AT_EMPTY_PATH) of the denied file itself: its identity, killed, reported
        assertThat(KERNEL.runIn(cg, tool("fexec"), "fd", DENIED.toString(), "0").exitStatus()).isEqualTo(KILLED);
        Violation byFd = violation(cg, "agentguard: exec killed by policy", ExecEvent::getByFd);
        assertThat(byFd.getEvidence(0).getExec().getFilename()).startsWith("/dev/fd/");
        assertThat(byFd.getEvidence(0).getExec().getDenyMatch()).isEqualTo(ExecDenyMatch.EXEC_DENY_MATCH_IDENTITY);

        // a memfd copy of the denied file: a new inode, judged by its digest after it started
        assertThat(KERNEL.runIn(cg, tool("fexec"), "memfd", DENIED.toString(), "50").exitStatus()).isEqualTo(KILLED);
        Violation v = violation(cg, "agentguard: exec killed by policy after it started", ExecEvent::getMemfd);
        assertThat(v.getEvidence(0).getExec().getDenyMatch()).isEqualTo(ExecDenyMatch.EXEC_DENY_MATCH_SHA256);
    }

    @Test
    void aPolicyDenyingFilelessExecsKillsMemfdDescriptorAndDeletedFileExecs() throws Exception {
        Path cg = KERNEL.newCgroup("nofileless");
        KERNEL.agent().addPolicyForTest(policy(cg, null, true, false));
        Path truecopy = SCRATCH.resolve("true-" + System.nanoTime());
        Files.copy(Path.of("/usr/bin/true"), truecopy);
        for (String mode : List.of("memfd", "fd", "deleted")) {
            assertThat(KERNEL.runIn(cg, tool("fexec"), mode, truecopy.toString()).exitStatus()).as(mode).isEqualTo(KILLED);
        }
        List<Event> killed = KERNEL.await(e -> e.hasExec() && e.getProcess().getCgroupId() == KERNEL.cgroupId(cg)
                && e.getExec().getDenyMatch() == ExecDenyMatch.EXEC_DENY_MATCH_FILELESS, 3, Duration.ofSeconds(10));
        assertThat(killed).hasSize(3).allSatisfy(e -> assertThat(e.getExec().getVerdict()).isEqualTo(Verdict.VERDICT_DENIED));
        assertThat(killed).anySatisfy(e -> assertThat(e.getExec().getMemfd()).isTrue())
                .anySatisfy(e -> assertThat(e.getExec().getUnlinked() && !e.getExec().getMemfd()).isTrue())
                .anySatisfy(e -> assertThat(e.getExec().getUnlinked()).isFalse());
        // a file run by its name is not fileless
        assertThat(KERNEL.runIn(cg, truecopy.toString()).exitStatus()).isZero();
    }

    @Test
    void inMonitorModeAnotherNameForADeniedProgramRunsAndIsReported() throws Exception {
        Path cg = KERNEL.newCgroup("monitor");
        KERNEL.agent().addPolicyForTest(policy(cg, false, false, false));
        String alias = link("symlink").toString();
        assertThat(KERNEL.runIn(cg, alias, "0").exitStatus()).isZero();
        ExecEvent x = exec(cg, e -> e.getFilename().equals(alias));
        assertThat(x.getVerdict()).isEqualTo(Verdict.VERDICT_WOULD_BLOCK);
        assertThat(x.getDenyMatch()).isEqualTo(ExecDenyMatch.EXEC_DENY_MATCH_IDENTITY);
        violation(cg, "agentguard: exec denied by policy (monitor)", e -> e.getFilename().equals(alias));
    }
}
