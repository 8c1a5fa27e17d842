package io.agentguard.rules;

import io.agentguard.enforce.FileIdentity;
import io.agentguard.enforce.PolicySnapshot;
import io.agentguard.event.Records;
import io.agentguard.pipeline.ConsumerPipeline;
import io.agentguard.process.KnownPrograms;
import io.agentguard.process.ProcessTable;
import io.agentguard.proto.v1.AddressFamily;
import io.agentguard.proto.v1.ConnectEvent;
import io.agentguard.proto.v1.DeviceRole;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.ExecEvent;
import io.agentguard.proto.v1.ForkEvent;
import io.agentguard.proto.v1.GpuEvent;
import io.agentguard.proto.v1.GpuIoctl;
import io.agentguard.proto.v1.GpuOpen;
import io.agentguard.proto.v1.ProcessInfo;
import io.agentguard.proto.v1.SocketType;
import io.agentguard.proto.v1.Verdict;
import io.agentguard.proto.v1.Violation;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The policy and verdict fields through the real pipeline (records, process table,
 * classifier): each field with both of its truth values, against a policy snapshot built
 * from a configuration as the daemon parses it.
 */
class PolicyFieldsTest {
    private static final long PLAIN = 11;      // agentguard/plain: the default policy (nothing granted)
    private static final long GPU = 12;        // agentguard/gpu: monitor, GPU 1 only, compute for one executable
    private static final long ALL = 13;        // agentguard/gpu/all: all GPUs, compute
    private static final long ALL_CHILD = 14;  // agentguard/gpu/all/job: below it (nearest policy root wins)
    private static final long UNKNOWN = 15;    // a cgroup whose path is not known
    private static final Map<Long, String> PATHS = Map.of(PLAIN, "agentguard/plain", GPU, "agentguard/gpu", ALL,
            "agentguard/gpu/all", ALL_CHILD, "agentguard/gpu/all/job");
    private static final long GPU_BIRTH = 5_000_000_000L;
    private static final int RM_ALLOC = 0xc030462b;

    /** Every field of this issue, rendered by one rule that matches every event. */
    private static final String PROBE = "- rule: probe\n  desc: d\n"
            + "  condition: evt.type in (exec, fork, exit, connect, gpu_open, gpu_ioctl, socket)\n"
            + "  output: 'verdict=%evt.verdict mode=%policy.mode gpu=%policy.gpu_granted"
            + " compute=%policy.compute_granted explicit=%policy.egress_allowed_explicitly"
            + " created=%proc.exe_created_in_cgroup program=%proc.exe_program tunnel=%conn.tunnel shell=%conn.shell"
            + " held=%exec.held stdio=%exec.stdio_socket new=%gpu.compute_new'\n"
            + "  priority: NOTICE\n";

    @TempDir
    Path dir;
    private FileIdentity computeExe;
    private FileIdentity ssh;
    private PolicySnapshot view;
    private final AtomicReference<PolicyView> live = new AtomicReference<>();
    private final List<Violation> violations = new ArrayList<>();
    private ConsumerPipeline pipeline;
    private final Records records = new Records();
    private final MemorySegment buf = Arena.ofAuto().allocate(Records.maxRecordBytes(), 8);
    private long now = 1_000_000_000L;

    @BeforeEach
    void setUp() throws Exception {
        Path trainer = Files.writeString(dir.resolve("trainer"), "#!/bin/sh\n");
        computeExe = FileIdentity.of(trainer);
        ssh = new FileIdentity((8L << 20) | 1, 424242, 0, 0);
        view = PolicySnapshot.forTests("""
                mode: enforce
                agent_cgroups: [agentguard]
                policies:
                  default: {gpu: {devices: none, compute: false}}
                  cgroups:
                    - cgroup: agentguard/gpu
                      mode: monitor
                      gpu: {devices: [1], compute: false, compute_executables: [%s]}
                    - cgroup: agentguard/gpu/all
                      gpu: {devices: all, compute: true}
                """.formatted(trainer), KnownPrograms.of(Map.of(ssh, "ssh")),
                path -> path.equals("agentguard/gpu") ? GPU_BIRTH : -1);
        live.set(view);
        pipeline = new ConsumerPipeline.Builder(new Classifier(RuleCompiler.compile(List.of(new RuleCompiler.Source(
                "probe.yaml", PROBE)))), new ProcessTable(256, 10_000_000_000L))
                .cgroupPaths(id -> PATHS.getOrDefault(id, "")).policies(live::get).violations(violations::add).build();
    }

    // ---- evt.verdict ----------------------------------------------------------------------

    @Test
    void verdictIsTheKernelsForEachRecordTypeAndAllowedWhereTheKernelJudgesNothing() {
        assertThat(feed(connect(PLAIN, 100, Verdict.VERDICT_DENIED, false)).get("verdict")).isEqualTo("denied");
        assertThat(feed(connect(PLAIN, 100, Verdict.VERDICT_WOULD_BLOCK, false)).get("verdict")).isEqualTo("would_block");
        assertThat(feed(connect(PLAIN, 100, Verdict.VERDICT_ALLOWED, false)).get("verdict")).isEqualTo("allowed");
        assertThat(feed(exec(PLAIN, 101, "/usr/bin/xmrig", null, 0).toBuilder().setExec(ExecEvent.newBuilder()
                .setFilename("/usr/bin/xmrig").addArgs("xmrig").setSuccess(true).setVerdict(Verdict.VERDICT_DENIED))
                .build()).get("verdict")).isEqualTo("denied");
        assertThat(feed(gpuOpen(PLAIN, 102, DeviceRole.DEVICE_ROLE_GPU, 0, Verdict.VERDICT_WOULD_BLOCK)).get("verdict"))
                .isEqualTo("would_block");
        assertThat(feed(computeAlloc(PLAIN, 103, DeviceRole.DEVICE_ROLE_CONTROL, 0, Verdict.VERDICT_DENIED))
                .get("verdict")).isEqualTo("denied");
        assertThat(feed(base(PLAIN, 104).setFork(ForkEvent.newBuilder().setChildPid(105)).build()).get("verdict"))
                .isEqualTo("allowed");
    }

    // ---- policy.mode ----------------------------------------------------------------------

    @Test
    void modeIsThatOfTheNearestPolicyRootOrTheGlobalOne() {
        assertThat(feed(connect(PLAIN, 110, Verdict.VERDICT_ALLOWED, false)).get("mode")).isEqualTo("enforce");
        assertThat(feed(connect(GPU, 111, Verdict.VERDICT_ALLOWED, false)).get("mode")).isEqualTo("monitor");
        assertThat(feed(connect(ALL, 112, Verdict.VERDICT_ALLOWED, false)).get("mode")).isEqualTo("enforce");
        assertThat(feed(connect(ALL_CHILD, 113, Verdict.VERDICT_ALLOWED, false)).get("mode")).isEqualTo("enforce");
    }

    @Test
    void aReloadedViewIsReadAtTheNextEventAndTheCgroupCacheStartsOver() {
        assertThat(feed(connect(GPU, 114, Verdict.VERDICT_ALLOWED, false)).get("mode")).isEqualTo("monitor");
        live.set(PolicySnapshot.forTests("mode: monitor\nagent_cgroups: [agentguard]\npolicies:\n  cgroups:\n"
                + "    - cgroup: agentguard/gpu\n      mode: enforce\n"));
        assertThat(feed(connect(GPU, 114, Verdict.VERDICT_ALLOWED, false)).get("mode")).isEqualTo("enforce");
        assertThat(feed(connect(PLAIN, 115, Verdict.VERDICT_ALLOWED, false)).get("mode")).isEqualTo("monitor");
    }

    // ---- policy.gpu_granted ---------------------------------------------------------------

    @Test
    void gpuGrantedIsThatGpusBitOnAGpuNodeAndAnyGpuElsewhere() {
        assertThat(feed(gpuOpen(GPU, 120, DeviceRole.DEVICE_ROLE_GPU, 1, Verdict.VERDICT_ALLOWED)).get("gpu")).isEqualTo("true");
        assertThat(feed(gpuOpen(GPU, 120, DeviceRole.DEVICE_ROLE_GPU, 0, Verdict.VERDICT_WOULD_BLOCK)).get("gpu"))
                .isEqualTo("false");
        assertThat(feed(gpuOpen(GPU, 120, DeviceRole.DEVICE_ROLE_CONTROL, 0, Verdict.VERDICT_ALLOWED)).get("gpu"))
                .isEqualTo("true");
        assertThat(feed(gpuOpen(PLAIN, 121, DeviceRole.DEVICE_ROLE_CONTROL, 0, Verdict.VERDICT_DENIED)).get("gpu"))
                .isEqualTo("false");
        assertThat(feed(gpuOpen(ALL, 122, DeviceRole.DEVICE_ROLE_GPU, 7, Verdict.VERDICT_ALLOWED)).get("gpu"))
                .isEqualTo("true");
        assertThat(feed(connect(ALL, 122, Verdict.VERDICT_ALLOWED, false)).get("gpu")).isEqualTo("true");
        assertThat(feed(connect(PLAIN, 121, Verdict.VERDICT_ALLOWED, false)).get("gpu")).isEqualTo("false");
    }

    // ---- policy.compute_granted -----------------------------------------------------------

    @Test
    void computeGrantedByPolicyOrByTheExecutablesIdentityNotItsName() {
        // the policy's compute executable, by file system and inode (whatever path ran it)
        feed(exec(GPU, 130, "/somewhere/else/named/anything", computeExe, 1));
        assertThat(feed(computeAlloc(GPU, 130, DeviceRole.DEVICE_ROLE_CONTROL, 0, Verdict.VERDICT_ALLOWED))
                .get("compute")).isEqualTo("true");
        // the same name, another file
        feed(exec(GPU, 131, dir.resolve("trainer").toString(), new FileIdentity(computeExe.dev(), computeExe.ino() + 1,
                0, 0), 1));
        assertThat(feed(computeAlloc(GPU, 131, DeviceRole.DEVICE_ROLE_CONTROL, 0, Verdict.VERDICT_WOULD_BLOCK))
                .get("compute")).isEqualTo("false");
        // a process whose exec was never seen
        assertThat(feed(computeAlloc(GPU, 132, DeviceRole.DEVICE_ROLE_CONTROL, 0, Verdict.VERDICT_WOULD_BLOCK))
                .get("compute")).isEqualTo("false");
        // compute: true
        assertThat(feed(computeAlloc(ALL_CHILD, 133, DeviceRole.DEVICE_ROLE_CONTROL, 0, Verdict.VERDICT_ALLOWED))
                .get("compute")).isEqualTo("true");
        // the executable of another policy's cgroup grants nothing here
        feed(exec(PLAIN, 134, "/x", computeExe, 1));
        assertThat(feed(computeAlloc(PLAIN, 134, DeviceRole.DEVICE_ROLE_CONTROL, 0, Verdict.VERDICT_DENIED))
                .get("compute")).isEqualTo("false");
    }

    // ---- policy.egress_allowed_explicitly ---------------------------------------------------

    @Test
    void egressAllowedExplicitlyIsTheKernelsAllowEntryFlagForInetConnects() {
        assertThat(feed(connect(PLAIN, 140, Verdict.VERDICT_ALLOWED, true)).get("explicit")).isEqualTo("true");
        assertThat(feed(connect(PLAIN, 140, Verdict.VERDICT_ALLOWED, false)).get("explicit")).isEqualTo("false");
        assertThat(feed(unixConnect(PLAIN, 140)).get("explicit")).isEqualTo("false");
        assertThat(feed(gpuOpen(PLAIN, 140, DeviceRole.DEVICE_ROLE_CONTROL, 0, Verdict.VERDICT_DENIED)).get("explicit"))
                .isEqualTo("<NA>");
    }

    // ---- proc.exe_created_in_cgroup ------------------------------------------------------------

    @Test
    void exeCreatedInCgroupComparesTheFilesCtimeWithTheCgroupsBirth() {
        FileIdentity f = new FileIdentity(1L << 20, 99, 0, 0);
        assertThat(feed(exec(GPU, 150, "/tmp/nccl-helper", f, GPU_BIRTH + 1)).get("created")).isEqualTo("true");
        // later events of the same process keep its executable's answer
        assertThat(feed(computeAlloc(GPU, 150, DeviceRole.DEVICE_ROLE_CONTROL, 0, Verdict.VERDICT_ALLOWED))
                .get("created")).isEqualTo("true");
        assertThat(feed(exec(GPU, 151, "/usr/bin/python3", f, GPU_BIRTH - 1)).get("created")).isEqualTo("false");
        // birth unknown, ctime unknown, path unknown: false
        assertThat(feed(exec(PLAIN, 152, "/tmp/x", f, GPU_BIRTH + 1)).get("created")).isEqualTo("false");
        assertThat(feed(exec(GPU, 153, "/tmp/y", f, 0)).get("created")).isEqualTo("false");
        assertThat(feed(exec(UNKNOWN, 154, "/tmp/z", f, GPU_BIRTH + 1)).get("created")).isEqualTo("false");
    }

    @Test
    void aForkedChildRunsItsParentsExecutable() {
        FileIdentity f = new FileIdentity(1L << 20, 98, 0, 0);
        feed(exec(GPU, 155, "/tmp/dropped", f, GPU_BIRTH + 10));
        feed(base(GPU, 155).setFork(ForkEvent.newBuilder().setChildPid(156)).build());
        assertThat(feed(connect(GPU, 156, Verdict.VERDICT_ALLOWED, false)).get("created")).isEqualTo("true");
    }

    // ---- proc.exe_program -----------------------------------------------------------------------

    @Test
    void exeProgramIsWhatTheFileIsWhateverItIsCalled() {
        assertThat(feed(exec(PLAIN, 160, "/tmp/helper", ssh, 1)).get("program")).isEqualTo("ssh");
        assertThat(feed(connect(PLAIN, 160, Verdict.VERDICT_ALLOWED, false)).get("program")).isEqualTo("ssh");
        assertThat(feed(exec(PLAIN, 161, "/usr/bin/ssh", new FileIdentity(ssh.dev(), ssh.ino() + 1, 0, 0), 1))
                .get("program")).isEqualTo("");
        assertThat(feed(connect(PLAIN, 162, Verdict.VERDICT_ALLOWED, false)).get("program")).isEqualTo("");
    }

    @Test
    void knownProgramsResolveLinksToTheListedName() throws Exception {
        Path bin = Files.createDirectories(dir.resolve("bin"));
        Path real = Files.writeString(dir.resolve("ssh-9.2"), "x");
        Files.createSymbolicLink(bin.resolve("ssh"), real);
        Files.createLink(dir.resolve("helper"), real);
        KnownPrograms known = KnownPrograms.resolve(List.of(bin), List.of("ssh", "curl"));
        FileIdentity helper = FileIdentity.of(dir.resolve("helper"));
        assertThat(known.name(helper.dev(), helper.ino())).isEqualTo("ssh");
        FileIdentity other = FileIdentity.of(dir.resolve("trainer"));
        assertThat(known.name(other.dev(), other.ino())).isEmpty();
        assertThat(known.name(0, 0)).isEmpty();
    }

    // ---- conn.tunnel, conn.shell, exec.held, exec.stdio_socket ------------------------------------

    @Test
    void recordFlagsAreFields() {
        Event tunnel = connect(PLAIN, 170, Verdict.VERDICT_DENIED, false);
        tunnel = tunnel.toBuilder().setConnect(tunnel.getConnect().toBuilder().setTunnel(true)).build();
        Map<String, String> t = feed(tunnel);
        assertThat(t).containsEntry("tunnel", "true").containsEntry("shell", "false").containsEntry("held", "<NA>");
        Event shell = connect(PLAIN, 171, Verdict.VERDICT_DENIED, false);
        shell = shell.toBuilder().setConnect(shell.getConnect().toBuilder().setShell(true)).build();
        assertThat(feed(shell)).containsEntry("tunnel", "false").containsEntry("shell", "true");
        Event held = exec(PLAIN, 172, "/usr/bin/ssh", null, 0);
        held = held.toBuilder().setExec(held.getExec().toBuilder().setHeld(true)).build();
        assertThat(feed(held)).containsEntry("held", "true").containsEntry("stdio", "false")
                .containsEntry("tunnel", "<NA>");
        Event stdio = exec(PLAIN, 173, "/bin/sh", null, 0);
        stdio = stdio.toBuilder().setExec(stdio.getExec().toBuilder().setStdioSocket(true)).build();
        assertThat(feed(stdio)).containsEntry("held", "false").containsEntry("stdio", "true");
    }

    // ---- gpu.compute_new --------------------------------------------------------------------------

    @Test
    void computeNewOncePerProcessAndGpu() {
        List<String> first = new ArrayList<>();
        for (int i = 0; i < 8; i++) {   // one CUDA context: a compute object per channel
            first.add(feed(computeAlloc(ALL, 180, DeviceRole.DEVICE_ROLE_CONTROL, 0, Verdict.VERDICT_ALLOWED)).get("new"));
        }
        assertThat(first).containsExactly("true", "false", "false", "false", "false", "false", "false", "false");
        // another GPU of the same process, another process
        assertThat(feed(computeAlloc(ALL, 180, DeviceRole.DEVICE_ROLE_GPU, 3, Verdict.VERDICT_ALLOWED)).get("new"))
                .isEqualTo("true");
        assertThat(feed(computeAlloc(ALL, 181, DeviceRole.DEVICE_ROLE_CONTROL, 0, Verdict.VERDICT_ALLOWED)).get("new"))
                .isEqualTo("true");
        // a new process image in the same pid is the same process
        feed(exec(ALL, 180, "/usr/bin/python3", null, 0));
        assertThat(feed(computeAlloc(ALL, 180, DeviceRole.DEVICE_ROLE_CONTROL, 0, Verdict.VERDICT_ALLOWED)).get("new"))
                .isEqualTo("false");
        // an RM_ALLOC of another class is no compute object at all
        assertThat(feed(alloc(ALL, 182, 0x0080)).get("new")).isEqualTo("false");
    }

    // ---- conditions, not only outputs ---------------------------------------------------------------

    @Test
    void theFieldsWorkInConditions() {
        ConsumerPipeline p = new ConsumerPipeline.Builder(new Classifier(RuleCompiler.compile(List.of(
                new RuleCompiler.Source("r.yaml", """
                        - rule: unsanctioned compute
                          desc: d
                          condition: gpu.compute_new and not policy.compute_granted and policy.mode = monitor
                          output: o
                          priority: ERROR
                        - rule: blocked
                          desc: d
                          condition: evt.verdict in (denied, would_block) and not policy.egress_allowed_explicitly
                          output: o
                          priority: WARNING
                        - rule: ssh by identity
                          desc: d
                          condition: evt.type = exec and proc.exe_program = ssh and proc.name != ssh
                          output: o
                          priority: WARNING
                        """)))), new ProcessTable(256, 10_000_000_000L))
                .cgroupPaths(id -> PATHS.getOrDefault(id, "")).policies(view).violations(violations::add).build();
        pipeline = p;
        feed(exec(GPU, 190, "/tmp/helper", ssh, 1));
        feed(computeAlloc(GPU, 190, DeviceRole.DEVICE_ROLE_CONTROL, 0, Verdict.VERDICT_WOULD_BLOCK));
        feed(computeAlloc(GPU, 190, DeviceRole.DEVICE_ROLE_CONTROL, 0, Verdict.VERDICT_WOULD_BLOCK));
        feed(computeAlloc(ALL, 191, DeviceRole.DEVICE_ROLE_CONTROL, 0, Verdict.VERDICT_ALLOWED));
        feed(connect(PLAIN, 192, Verdict.VERDICT_ALLOWED, true));
        feed(exec(PLAIN, 193, "/usr/bin/ssh", ssh, 1));
        assertThat(violations).extracting(Violation::getRule)
                .containsExactly("ssh by identity", "unsanctioned compute", "blocked", "blocked");
    }

    @Test
    void withoutAViewNothingIsGrantedAndTheModeIsMonitor() {
        ConsumerPipeline p = new ConsumerPipeline.Builder(new Classifier(RuleCompiler.compile(List.of(
                new RuleCompiler.Source("probe.yaml", PROBE)))), new ProcessTable(256, 10_000_000_000L))
                .cgroupPaths(id -> PATHS.getOrDefault(id, "")).violations(violations::add).build();
        pipeline = p;
        assertThat(feed(computeAlloc(ALL, 195, DeviceRole.DEVICE_ROLE_GPU, 0, Verdict.VERDICT_ALLOWED)))
                .containsEntry("mode", "monitor").containsEntry("gpu", "false").containsEntry("compute", "false")
                .containsEntry("program", "").containsEntry("created", "false");
    }

    @Test
    void readingThePolicyFieldsOfARepeatedEventAllocatesNothing() {
        ConsumerPipeline p = new ConsumerPipeline.Builder(new Classifier(RuleCompiler.compile(List.of(
                new RuleCompiler.Source("r.yaml", """
                        - rule: r1
                          desc: every policy field read and none true, so the event matches nothing
                          condition: >
                            policy.mode = nomode or proc.exe_program = noprogram or evt.verdict = noverdict
                            or policy.gpu_granted = false or policy.compute_granted = false
                            or proc.exe_created_in_cgroup = true or gpu.compute_new = true
                            or conn.tunnel or conn.shell or policy.egress_allowed_explicitly
                          output: o
                          priority: NOTICE
                        """)))), new ProcessTable(256, 10_000_000_000L))
                .cgroupPaths(id -> PATHS.getOrDefault(id, "")).policies(live::get).violations(violations::add).build();
        pipeline = p;
        feed(exec(ALL, 200, "/usr/bin/python3", ssh, 1));
        feed(computeAlloc(ALL, 200, DeviceRole.DEVICE_ROLE_CONTROL, 0, Verdict.VERDICT_ALLOWED));   // the first: new
        violations.clear();
        int gpuLength = records.write(computeAlloc(ALL, 200, DeviceRole.DEVICE_ROLE_CONTROL, 0,
                Verdict.VERDICT_ALLOWED), buf, 0);
        MemorySegment connect = Arena.ofAuto().allocate(Records.maxRecordBytes(), 8);
        int connectLength = records.write(connect(ALL, 200, Verdict.VERDICT_ALLOWED, false), connect, 0);
        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        long allocated = 0;
        for (int round = 0; round < 3; round++) {   // the last rounds count: the first warms up
            long before = threads.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < 20_000; i++) {
                p.onRecord(buf, 0, gpuLength);
                p.onRecord(connect, 0, connectLength);
            }
            allocated = threads.getCurrentThreadAllocatedBytes() - before;
        }
        assertThat(violations).isEmpty();
        // under a byte per event (a few KiB of JIT and TLAB noise): any object per event would be 16 or more
        assertThat(allocated).as("bytes for 40000 events").isLessThan(40_000);
    }

    // ---- the field catalogue --------------------------------------------------------------------------

    @Test
    void everyFieldHasADescriptionAndAnExampleThatCompilesAsAValueOfItsType() {
        for (Field f : Field.values()) {
            assertThat(f.description()).as(f.fieldName()).isNotBlank();
            assertThat(f.example()).as(f.fieldName()).isNotBlank();
            assertThat(f.eventNames()).as(f.fieldName()).isNotEmpty();
            String value = f.type() == Field.Type.STRING ? "\"" + f.example() + "\"" : f.example();
            RuleCompiler.compile(List.of(new RuleCompiler.Source("f.yaml", "- rule: r\n  desc: d\n  condition: '"
                    + f.fieldName() + " = " + value + "'\n  output: o\n  priority: NOTICE\n")));
        }
    }

    // ---- harness ----------------------------------------------------------------------------------------

    /** Runs the event through the pipeline; the probe's output of it as field -> value. */
    private Map<String, String> feed(Event e) {
        int before = violations.size();
        int length = records.write(e, buf, 0);
        pipeline.onRecord(buf, 0, length);
        if (violations.size() == before) {
            return Map.of();
        }
        Map<String, String> out = new HashMap<>();
        String text = violations.getLast().getOutput();
        for (String part : text.split(" ")) {
            int eq = part.indexOf('=');
            if (eq > 0) {
                out.put(part.substring(0, eq), part.substring(eq + 1));
            }
        }
        return out;
    }

    private Event.Builder base(long cgroup, int pid) {
        now += 1_000_000;
        return Event.newBuilder().setMonotonicNs(now).setProcess(ProcessInfo.newBuilder().setPid(pid).setTid(pid)
                .setPpid(1).setUid(1000).setComm("agent").setCgroupId(cgroup));
    }

    private Event exec(long cgroup, int pid, String exe, FileIdentity file, long ctimeNs) {
        ExecEvent.Builder x = ExecEvent.newBuilder().setFilename(exe).addArgs(exe.substring(exe.lastIndexOf('/') + 1))
                .setSuccess(true).setExeCtimeNs(ctimeNs);
        if (file != null) {
            x.setDevMajor((int) (file.dev() >>> 20)).setDevMinor((int) (file.dev() & 0xfffff)).setInode(file.ino());
        }
        return base(cgroup, pid).setExec(x).build();
    }

    private Event connect(long cgroup, int pid, Verdict verdict, boolean explicitAllow) {
        return base(cgroup, pid).setConnect(ConnectEvent.newBuilder().setFamily(AddressFamily.ADDRESS_FAMILY_INET)
                .setAddress("127.66.0.5").setPort(22).setSocketType(SocketType.SOCKET_TYPE_STREAM).setProtocol(6)
                .setSocketCookie(now).setVerdict(verdict).setExplicitAllow(explicitAllow)).build();
    }

    private Event unixConnect(long cgroup, int pid) {
        return base(cgroup, pid).setConnect(ConnectEvent.newBuilder().setFamily(AddressFamily.ADDRESS_FAMILY_UNIX)
                .setUnixPath("/tmp/s").setSocketType(SocketType.SOCKET_TYPE_STREAM).setSocketCookie(now)
                .setVerdict(Verdict.VERDICT_ALLOWED).setExplicitAllow(true)).build();
    }

    private static GpuEvent.Builder node(DeviceRole role, int index) {
        return role == DeviceRole.DEVICE_ROLE_GPU
                ? GpuEvent.newBuilder().setRole(role).setGpuIndex(index).setMajor(195).setMinor(index)
                : GpuEvent.newBuilder().setRole(role).setMajor(195).setMinor(255);
    }

    private Event gpuOpen(long cgroup, int pid, DeviceRole role, int index, Verdict verdict) {
        return base(cgroup, pid).setGpu(node(role, index).setOpen(GpuOpen.newBuilder().setRead(true).setWrite(true)
                .setVerdict(verdict))).build();
    }

    private Event computeAlloc(long cgroup, int pid, DeviceRole role, int index, Verdict verdict) {
        return base(cgroup, pid).setGpu(node(role, index).setIoctl(GpuIoctl.newBuilder().setCmd(RM_ALLOC)
                .setInnerCmd(RM_ALLOC).setName("RM_ALLOC").setAllocClass(0xcbc0).setVerdict(verdict))).build();
    }

    private Event alloc(long cgroup, int pid, int hClass) {
        return base(cgroup, pid).setGpu(node(DeviceRole.DEVICE_ROLE_CONTROL, 0).setIoctl(GpuIoctl.newBuilder()
                .setCmd(RM_ALLOC).setInnerCmd(RM_ALLOC).setName("RM_ALLOC").setAllocClass(hClass))).build();
    }
}
