package io.agentguard.daemon;

import io.agentguard.config.Policy;
import io.agentguard.event.GpuIoctlRecord;
import io.agentguard.event.NvidiaIoctlDecoder;
import io.agentguard.event.NvidiaTrace;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.GpuIoctl;
import io.agentguard.proto.v1.Verdict;
import io.agentguard.posture.PostureMonitor;
import io.agentguard.proto.v1.Violation;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What a real NVIDIA driver was asked (H200, driver 580: torch, CuPy, a miner-shaped nvcc
 * binary, nvidia-smi; test resources fixtures/h200-580), replayed call for call by
 * nvreplay --trace on stand-in nodes through the whole agent: the kernel sees and decodes
 * each call as the pure decoder does, and the verdicts are the ones an operator can act on
 * (nothing for sanctioned work, one violation for each thing that is wrong).
 *
 * The verdicts need the policy fields (gpu.compute_new, policy.compute_granted,
 * proc.exe_created_in_cgroup), the aggregation of repeated findings, and the default pack
 * rules "GPU compute context without a compute grant" and "GPU compute by a program created
 * inside the sandbox".
 */
class NvidiaFixtureKernelTest {
    static final String NO_GRANT = "GPU compute context without a compute grant";
    static final String NO_GRANT_FINDING = "agentguard: GPU compute denied by policy (monitor)";
    static final String KILLED_FINDING = "agentguard: GPU compute killed by policy";
    static final String CREATED_INSIDE = "GPU compute by a program created inside the sandbox";
    static final String OPEN_DENIED = "agentguard: GPU device open denied";

    // monitor by default; the enforce cases set it in their cgroup's policy
    @RegisterExtension
    static final KernelAgentExtension KERNEL = new KernelAgentExtension(4096).configure(b -> b.enforce(false));

    /** A new cgroup with a GPU policy of its own: every device or none, compute or not. */
    private static Path cgroup(String name, boolean devices, boolean compute, Boolean enforce) throws Exception {
        Path cg = KERNEL.newCgroup(name);
        KERNEL.agent().addPolicyForTest(new Policy(KERNEL.mount().relativize(cg).toString(), enforce, false, List.of(),
                devices, 0, compute, List.of(), List.of(), List.of()));
        return cg;
    }

    private static KernelAgentExtension.Run replay(Path cg, Path program, String trace, String... more) throws Exception {
        List<String> argv = new ArrayList<>(List.of(program.toString(), "--trace", NvidiaTrace.file(trace).toString(),
                "--ctl", KERNEL.standin("nvidiactl").toString(), "--gpu", KERNEL.standin("nvidia0").toString(),
                "--uvm", KERNEL.standin("nvidia-uvm").toString()));
        argv.addAll(List.of(more));
        return KERNEL.runIn(cg, argv.toArray(String[]::new));
    }

    private static Path nvreplay() {
        return KernelAgentExtension.nativeTool("nvreplay");
    }

    private static List<GpuIoctl> ioctls(Path cg) throws InterruptedException {
        return KERNEL.settle(KERNEL.cgroupId(cg), 300).stream().filter(e -> e.hasGpu() && e.getGpu().hasIoctl())
                .map(e -> e.getGpu().getIoctl()).toList();
    }

    /**
     * The violations raised for the cgroup, once its events settled: a first report per
     * aggregation key (later repeats only in summaries, which are left out here). The posture
     * finding is left out too: the test runs the replays as root with every capability, which
     * says nothing about the GPU.
     */
    private static List<Violation> reports(Path cg, int expected) throws InterruptedException {
        KERNEL.settle(KERNEL.cgroupId(cg), 300);
        return KERNEL.awaitViolations(v -> v.getProcess().getCgroupId() == KERNEL.cgroupId(cg) && !v.getSummary()
                        && !v.getRule().equals(PostureMonitor.PRIVILEGES.rule()),
                expected + 1, Duration.ofSeconds(expected == 0 ? 2 : 3));
    }

    private static Instant ctime(Path p) throws java.io.IOException {
        return ((FileTime) Files.getAttribute(p, "unix:ctime")).toInstant();
    }

    private static List<String> rules(List<Violation> v) {
        return v.stream().map(Violation::getRule).toList();
    }

    /** The trace through the pure decoder, as NvidiaTraceDecodeTest sees it. */
    private static List<String> decodedNames(String trace) {
        NvidiaIoctlDecoder decoder = new NvidiaIoctlDecoder();
        GpuIoctlRecord record = NvidiaTrace.newRecord();
        return NvidiaTrace.load(trace).stream().map(c -> decoder.decode(NvidiaTrace.write(c, record)).name()).toList();
    }

    @Test
    void torchInACgroupGrantedGpuAndComputeIsSeenCallForCallAndRaisesNothing() throws Exception {
        Path cg = cgroup("torch-granted", true, true, null);
        assertThat(replay(cg, nvreplay(), "torch").exitStatus()).isZero();
        List<GpuIoctl> seen = ioctls(cg);
        assertThat(seen).hasSize(549);
        assertThat(seen).extracting(GpuIoctl::getName).containsExactlyElementsOf(decodedNames("torch"));
        assertThat(seen).filteredOn(GpuIoctl::getComputeContext).hasSize(8)
                .allSatisfy(io -> assertThat(io.getAllocClass()).isEqualTo(0xcbc0));
        assertThat(seen).extracting(GpuIoctl::getName).contains("RM_UPDATE_DEVICE_MAPPING_INFO",
                "UVM_MAP_DYNAMIC_PARALLELISM_REGION");
        assertThat(seen).filteredOn(io -> io.getName().equals("RM_ALLOC_MEMORY")).hasSize(7)
                .allSatisfy(io -> assertThat(io.getAllocSizeBytes()).isGreaterThanOrEqualTo(2L << 20));
        assertThat(seen).allSatisfy(io -> assertThat(io.getVerdict()).isNotEqualTo(Verdict.VERDICT_DENIED));
        assertThat(rules(reports(cg, 0))).isEmpty();
    }

    @Test
    void torchWithoutAComputeGrantIsOneViolationInMonitorMode() throws Exception {
        Path cg = cgroup("torch-nocompute", true, false, null);
        assertThat(replay(cg, nvreplay(), "torch").exitStatus()).isZero();   // monitor: it runs on
        assertThat(ioctls(cg)).filteredOn(GpuIoctl::getComputeContext).hasSize(8)
                .allSatisfy(io -> assertThat(io.getVerdict()).isEqualTo(Verdict.VERDICT_WOULD_BLOCK));
        assertThat(rules(reports(cg, 1))).singleElement().isIn(NO_GRANT, NO_GRANT_FINDING);
    }

    @Test
    void torchWithoutAComputeGrantIsKilledAtItsFirstComputeAllocationInEnforceMode() throws Exception {
        Path cg = cgroup("torch-enforce", true, false, true);
        KernelAgentExtension.Run run = replay(cg, nvreplay(), "torch", "-v");
        assertThat(run.exitStatus()).isEqualTo(128 + 9);
        // -v prints each call after it returns: the channel came back, the compute allocation never did
        assertThat(run.stdout()).contains("class=0xc86f").doesNotContain("class=0xcbc0");
        List<GpuIoctl> seen = ioctls(cg);
        assertThat(seen).filteredOn(GpuIoctl::getComputeContext).singleElement()
                .satisfies(io -> assertThat(io.getVerdict()).isEqualTo(Verdict.VERDICT_DENIED));
        assertThat(seen.getLast().getComputeContext()).isTrue();
        assertThat(KERNEL.await(e -> e.hasExit() && e.getProcess().getPid() == run.pid(), 1, Duration.ofSeconds(10))
                .getFirst().getExit().getSignalName()).isEqualTo("SIGKILL");
        assertThat(rules(reports(cg, 1))).singleElement().isIn(NO_GRANT, KILLED_FINDING);
    }

    @Test
    void nvidiaSmiWhereGpusAreGrantedRaisesNothing() throws Exception {
        Path cg = cgroup("smi-granted", true, false, null);   // NVML needs the devices, never compute
        assertThat(replay(cg, nvreplay(), "smi").exitStatus()).isZero();
        List<GpuIoctl> seen = ioctls(cg);
        assertThat(seen).hasSize(63).noneMatch(GpuIoctl::getComputeContext);
        assertThat(seen).extracting(GpuIoctl::getName).containsExactlyElementsOf(decodedNames("smi"));
        assertThat(rules(reports(cg, 0))).isEmpty();
    }

    @Test
    void nvidiaSmiWhereNoGpuIsGrantedIsDeniedItsDevicesAndReportedOnce() throws Exception {
        Path cg = cgroup("smi-plain", false, false, true);
        // --keep-going: every recorded fd tries its node (6 opens), as a retrying program would
        KernelAgentExtension.Run run = replay(cg, nvreplay(), "smi", "--keep-going");
        assertThat(run.exitStatus()).isEqualTo(1);
        assertThat(run.stdout()).contains("Operation not permitted");
        List<Event> events = KERNEL.settle(KERNEL.cgroupId(cg), 300);
        assertThat(events).filteredOn(e -> e.hasGpu() && e.getGpu().hasOpen()).hasSize(6)
                .allSatisfy(e -> assertThat(e.getGpu().getOpen().getVerdict()).isEqualTo(Verdict.VERDICT_DENIED));
        assertThat(events).noneMatch(e -> e.hasGpu() && e.getGpu().hasIoctl());
        assertThat(rules(reports(cg, 1))).containsExactly(OPEN_DENIED);
    }

    @Test
    void cupyInACgroupGrantedGpuAndComputeRaisesNothing() throws Exception {
        Path cg = cgroup("cupy-granted", true, true, null);
        assertThat(replay(cg, nvreplay(), "cupy").exitStatus()).isZero();
        List<GpuIoctl> seen = ioctls(cg);
        assertThat(seen).extracting(GpuIoctl::getName).containsExactlyElementsOf(decodedNames("cupy"));
        assertThat(seen).filteredOn(GpuIoctl::getComputeContext).hasSize(8);
        assertThat(rules(reports(cg, 0))).isEmpty();
    }

    @Test
    void aProgramDroppedIntoTheSandboxThatSpinsTheGpuIsOneViolationWhereAnInstalledOneIsQuiet() throws Exception {
        // installed: the build's nvreplay, older than the cgroup it runs in
        Path installed = cgroup("spin-installed", true, true, null);
        assertThat(ctime(nvreplay())).isBefore(ctime(installed));
        assertThat(replay(installed, nvreplay(), "spin").exitStatus()).isZero();
        assertThat(ioctls(installed)).filteredOn(GpuIoctl::getComputeContext).hasSize(8);
        assertThat(rules(reports(installed, 0))).isEmpty();

        // dropped: the same program copied in after the cgroup exists, under an innocuous name
        Path dropped = cgroup("spin-dropped", true, true, null);
        Thread.sleep(20);   // inode times are taken from the coarse clock: a copy in the same tick is not "after"
        Path helper = Files.createTempDirectory("agentguard-drop").resolve("nccl-helper");
        Files.copy(nvreplay(), helper, StandardCopyOption.COPY_ATTRIBUTES);   // mtime kept, ctime now
        assertThat(ctime(helper)).isAfter(ctime(dropped));
        assertThat(replay(dropped, helper, "spin").exitStatus()).isZero();
        assertThat(ioctls(dropped)).filteredOn(GpuIoctl::getComputeContext).hasSize(8);
        List<Violation> v = reports(dropped, 1);
        assertThat(rules(v)).containsExactly(CREATED_INSIDE);
        assertThat(v.getFirst().getProcess().getExe()).isEqualTo(helper.toString());
    }
}
