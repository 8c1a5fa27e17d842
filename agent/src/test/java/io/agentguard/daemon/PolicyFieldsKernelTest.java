package io.agentguard.daemon;

import io.agentguard.proto.v1.Violation;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * proc.exe_created_in_cgroup and proc.exe_program on real execs: what a program is by
 * identity and where its file came from, as an agent that drops or renames a binary
 * cannot choose them.
 */
class PolicyFieldsKernelTest {
    static final Path RULES_DIR;

    static {
        try {
            RULES_DIR = Files.createTempDirectory("agentguard-policy-fields");
            Files.writeString(RULES_DIR.resolve("probe.yaml"), """
                    - rule: exec probe
                      desc: the identity fields of every exec in the test cgroups
                      condition: evt.type = exec and proc.cgroup contains "/fields-"
                      output: "exe=%proc.exe created=%proc.exe_created_in_cgroup program=%proc.exe_program mode=%policy.mode"
                      priority: NOTICE
                    - rule: compute probe
                      desc: each compute object, with whether it is the process's first on the GPU
                      condition: gpu.compute and proc.cgroup contains "/fields-"
                      output: "new=%gpu.compute_new granted=%policy.compute_granted gpu=%policy.gpu_granted"
                      priority: NOTICE
                    """);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @RegisterExtension
    static final KernelAgentExtension KERNEL = new KernelAgentExtension(4096).withRules(List.of(RULES_DIR + "/*.yaml"));

    @Test
    void aBinaryCopiedAfterTheCgroupWasMadeIsCreatedInItOneCopiedBeforeAndAnInstalledOneAreNot() throws Exception {
        Path dir = Files.createTempDirectory("agentguard-fields");
        Path before = copyTrue(dir.resolve("installed-before"));
        pause();
        Path cg = KERNEL.newCgroup("fields-created");
        // what a runtime does after mkdir (limits, cgroup.procs): the first walk into the directory
        Files.readString(cg.resolve("cgroup.procs"));
        pause();
        Path dropped = copyTrue(dir.resolve("x"));
        KERNEL.runIn(cg, "/bin/sh", "-c", dropped + "; " + before + "; /bin/true; exit 0");

        Map<String, Map<String, String>> byExe = execProbes(cg, 4);
        assertThat(byExe.get(dropped.toString())).containsEntry("created", "true");
        assertThat(byExe.get(before.toString())).containsEntry("created", "false");
        assertThat(byExe.get("/bin/true")).containsEntry("created", "false");
        assertThat(byExe.get("/bin/sh")).containsEntry("created", "false").containsEntry("mode", "enforce");
    }

    @Test
    void aHardLinkOfSshUnderAnotherNameIsSshAndACopyIsNot() throws Exception {
        Path dir = Files.createTempDirectory("agentguard-fields");   // the same file system as /usr/bin (checked)
        Path helper = dir.resolve("helper");
        Files.createLink(helper, Path.of("/usr/bin/ssh").toRealPath());
        Path copy = Files.copy(Path.of("/usr/bin/ssh"), dir.resolve("helper-copy"));
        try {
            Path cg = KERNEL.newCgroup("fields-program");
            KERNEL.runIn(cg, "/bin/sh", "-c", helper + " -V 2>/dev/null; " + copy + " -V 2>/dev/null; exit 0");
            Map<String, Map<String, String>> byExe = execProbes(cg, 3);
            assertThat(byExe.get(helper.toString())).containsEntry("program", "ssh");
            assertThat(byExe.get(copy.toString())).containsEntry("program", "");
            assertThat(byExe.get("/bin/sh")).containsEntry("program", "sh");
        } finally {
            Files.deleteIfExists(helper);
            Files.deleteIfExists(copy);
        }
    }

    @Test
    void theFirstComputeObjectOfAProcessIsNewAndGrantedByTheTestPolicy() throws Exception {
        Path cg = KERNEL.newCgroup("fields-gpu");
        String replay = KernelAgentExtension.nativeTool("nvreplay") + " --ctl " + KERNEL.standin("nvidiactl") + " --gpu "
                + KERNEL.standin("nvidia0") + " --uvm " + KERNEL.standin("nvidia-uvm");
        KERNEL.runIn(cg, "/bin/sh", "-c", replay + "; " + replay + "; exit 0");
        String path = KERNEL.mount().relativize(cg).toString();
        List<Violation> v = KERNEL.awaitViolations(x -> x.getRule().equals("compute probe")
                && x.getCgroupPath().equals(path), 2, Duration.ofSeconds(10));
        assertThat(v).extracting(Violation::getOutput).containsExactly("new=true granted=true gpu=true",
                "new=true granted=true gpu=true");
    }

    /** exe -> the probe's fields, once count execs of the cgroup were reported. */
    private static Map<String, Map<String, String>> execProbes(Path cg, int count) throws InterruptedException {
        String path = KERNEL.mount().relativize(cg).toString();
        List<Violation> v = KERNEL.awaitViolations(x -> x.getRule().equals("exec probe") && x.getCgroupPath().equals(path),
                count, Duration.ofSeconds(10));
        assertThat(v).hasSizeGreaterThanOrEqualTo(count);
        Map<String, Map<String, String>> byExe = new HashMap<>();
        for (Violation x : v) {
            Map<String, String> fields = new HashMap<>();
            for (String part : x.getOutput().split(" ")) {
                int eq = part.indexOf('=');
                fields.put(part.substring(0, eq), part.substring(eq + 1));
            }
            byExe.put(fields.get("exe"), fields);
        }
        return byExe;
    }

    private static Path copyTrue(Path to) throws IOException {
        Files.copy(Path.of("/bin/true"), to);
        return to;
    }

    /** Inode times come from a coarse clock: steps a few ticks apart are ordered. */
    private static void pause() throws InterruptedException {
        Thread.sleep(50);
    }
}
