package io.agentguard.daemon;

import io.agentguard.proto.v1.AddressFamily;
import io.agentguard.proto.v1.ClassKind;
import io.agentguard.proto.v1.ConnectEvent;
import io.agentguard.proto.v1.ConnectOutcome;
import io.agentguard.proto.v1.DeviceRole;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.GpuIoctl;
import io.agentguard.proto.v1.SocketType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The whole pipeline on the real kernel: real cgroups, real processes, exact decoded
 * fields. Each test makes its own cgroup below the agent root after the agent started,
 * so every test also proves that new descendant cgroups are watched.
 */
class EventPipelineKernelTest {
    static final int MAX_ARGS_BYTES = 1024;

    @RegisterExtension
    static final KernelAgentExtension KERNEL = new KernelAgentExtension(MAX_ARGS_BYTES);

    private static List<Event> ofKind(List<Event> events, Event.KindCase kind) {
        return events.stream().filter(e -> e.getKindCase() == kind).toList();
    }

    @Test
    void anIdleReaderParksAndTheNextRecordWakesIt() throws Exception {
        long deadlineNs = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (!KERNEL.agent().readerParked() && System.nanoTime() < deadlineNs) {
            Thread.sleep(10);
        }
        assertThat(KERNEL.agent().readerParked()).as("parked after 50 ms without records").isTrue();
        Path cg = KERNEL.newCgroup("park");
        KernelAgentExtension.Run run = KERNEL.runIn(cg, "/bin/true");
        // the kernel's wakeup delivers it at once; without it the reader would sleep out its 500 ms
        assertThat(KERNEL.await(e -> e.hasExit() && e.getProcess().getPid() == run.pid(), 1, Duration.ofMillis(250)))
                .hasSize(1);
    }

    @Test
    void execReportsFilenameAndEveryArgument() throws Exception {
        Path cg = KERNEL.newCgroup("exec");
        List<String> args = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            args.add("arg-" + i + (i % 3 == 0 ? " with space" : ""));
        }
        List<String> argv = new ArrayList<>(List.of("/bin/echo"));
        argv.addAll(args);
        KERNEL.runIn(cg, argv.toArray(String[]::new));

        List<Event> execs = ofKind(KERNEL.settle(KERNEL.cgroupId(cg), 300), Event.KindCase.EXEC);
        assertThat(execs).hasSize(1);
        Event e = execs.getFirst();
        assertThat(e.getExec().getFilename()).isEqualTo("/bin/echo");
        assertThat(e.getExec().getArgsList()).containsExactlyElementsOf(argv);
        assertThat(e.getExec().getArgsTruncated()).isFalse();
        assertThat(e.getExec().getSuccess()).isTrue();
        assertThat(e.getProcess().getComm()).isEqualTo("echo");
        assertThat(e.getProcess().getCgroupPath()).isEqualTo(KERNEL.mount().relativize(cg).toString());
        assertThat(e.getProcess().getUid()).isZero();
        assertThat(e.getTime().getSeconds()).isCloseTo(System.currentTimeMillis() / 1000, org.assertj.core.data.Offset.offset(60L));
    }

    @Test
    void argvLongerThanTheLimitIsTruncatedAndFlagged() throws Exception {
        Path cg = KERNEL.newCgroup("trunc");
        String big = "x".repeat(700);
        KERNEL.runIn(cg, "/bin/echo", big, big, big);

        Event e = ofKind(KERNEL.settle(KERNEL.cgroupId(cg), 300), Event.KindCase.EXEC).getFirst();
        int total = "/bin/echo".length() + 1 + 3 * (700 + 1);
        assertThat(e.getExec().getArgsTruncated()).isTrue();
        assertThat(e.getExec().getArgsTotalBytes()).isEqualTo(total);
        assertThat(e.getExec().getArgsList()).hasSize(3);
        assertThat(e.getExec().getArgs(0)).isEqualTo("/bin/echo");
        assertThat(e.getExec().getArgs(1)).isEqualTo(big);
        // what is kept of the third argument: the rest of the 1024 bytes
        assertThat(e.getExec().getArgs(2)).isEqualTo("x".repeat(MAX_ARGS_BYTES - 10 - 701));
    }

    @Test
    void forkChainLinksParentsAndChildren() throws Exception {
        Path cg = KERNEL.newCgroup("fork");
        KERNEL.runIn(cg, "/bin/sh", "-c", "/bin/sh -c '/bin/true; /bin/true'; /bin/true");

        List<Event> events = KERNEL.settle(KERNEL.cgroupId(cg), 300);
        List<Event> forks = ofKind(events, Event.KindCase.FORK);
        List<Event> execs = ofKind(events, Event.KindCase.EXEC);
        assertThat(forks).hasSize(4);
        // every forked child later execs or exits with pid = child_pid and ppid = forking pid
        for (Event f : forks) {
            int child = f.getFork().getChildPid();
            Event childExit = events.stream().filter(e -> e.hasExit() && e.getProcess().getPid() == child)
                    .findFirst().orElseThrow();
            assertThat(childExit.getProcess().getPpid()).isEqualTo(f.getProcess().getPid());
        }
        assertThat(execs.stream().map(e -> e.getExec().getFilename()).toList())
                .containsExactlyInAnyOrder("/bin/sh", "/bin/sh", "/bin/true", "/bin/true", "/bin/true");
        // the chain: outer sh -> inner sh -> true
        int outer = execs.getFirst().getProcess().getPid();
        Event innerFork = forks.stream().filter(f -> f.getProcess().getPid() == outer).findFirst().orElseThrow();
        int inner = innerFork.getFork().getChildPid();
        assertThat(forks.stream().filter(f -> f.getProcess().getPid() == inner)).hasSize(2);
    }

    @Test
    void exitReportsCodesAndSignals() throws Exception {
        Path cg = KERNEL.newCgroup("exit");
        KernelAgentExtension.Run coded = KERNEL.runIn(cg, "/bin/sh", "-c", "exit 7");
        KernelAgentExtension.Run killed = KERNEL.runIn(cg, "/bin/sh", "-c", "kill -KILL $$");
        KernelAgentExtension.Run aborted = KERNEL.runIn(cg, "/bin/sh", "-c", "kill -TERM $$");
        assertThat(coded.exitStatus()).isEqualTo(7);

        List<Event> exits = ofKind(KERNEL.settle(KERNEL.cgroupId(cg), 300), Event.KindCase.EXIT);
        Event c = exits.stream().filter(e -> e.getProcess().getPid() == coded.pid()).findFirst().orElseThrow();
        Event k = exits.stream().filter(e -> e.getProcess().getPid() == killed.pid()).findFirst().orElseThrow();
        Event t = exits.stream().filter(e -> e.getProcess().getPid() == aborted.pid()).findFirst().orElseThrow();
        assertThat(c.getExit().getExitCode()).isEqualTo(7);
        assertThat(c.getExit().getSignal()).isZero();
        assertThat(c.getExit().getWaitStatus()).isEqualTo(7 << 8);
        assertThat(k.getExit().getSignal()).isEqualTo(9);
        assertThat(k.getExit().getSignalName()).isEqualTo("SIGKILL");
        assertThat(t.getExit().getSignalName()).isEqualTo("SIGTERM");
        assertThat(c.getExit().getLifetimeNs()).isPositive();
    }

    @Test
    void tcpConnectsCarryTheirOutcome() throws Exception {
        Path cg = KERNEL.newCgroup("tcp");
        String connector = KernelAgentExtension.nativeTool("connector").toString();
        int closedPort;
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getByName("127.66.0.1"))) {
            closedPort = probe.getLocalPort();
        }
        try (ServerSocket listener = new ServerSocket(0, 10, InetAddress.getByName("127.66.0.1"));
             ServerSocket listener6 = new ServerSocket(0, 10, InetAddress.getByName("::1"))) {
            assertThat(KERNEL.runIn(cg, connector, "tcp4", "127.66.0.1", String.valueOf(listener.getLocalPort())).stdout())
                    .isEqualTo("ok\n");
            assertThat(KERNEL.runIn(cg, connector, "tcp4", "127.66.0.1", String.valueOf(closedPort)).stdout())
                    .isEqualTo("ECONNREFUSED\n");
            assertThat(KERNEL.runIn(cg, connector, "tcp6", "::1", String.valueOf(listener6.getLocalPort())).stdout())
                    .isEqualTo("ok\n");

            List<ConnectEvent> connects = KERNEL.await(e -> e.getProcess().getCgroupId() == KERNEL.cgroupId(cg)
                    && e.hasConnect(), 3, Duration.ofSeconds(10)).stream().map(Event::getConnect).toList();
            assertThat(connects).hasSize(3);
            ConnectEvent ok = connects.stream().filter(c -> c.getPort() == listener.getLocalPort()).findFirst().orElseThrow();
            assertThat(ok.getFamily()).isEqualTo(AddressFamily.ADDRESS_FAMILY_INET);
            assertThat(ok.getAddress()).isEqualTo("127.66.0.1");
            assertThat(ok.getSocketType()).isEqualTo(SocketType.SOCKET_TYPE_STREAM);
            assertThat(ok.getProtocol()).isEqualTo(6);
            assertThat(ok.getOutcome()).isEqualTo(ConnectOutcome.CONNECT_OUTCOME_CONNECTED);
            assertThat(ok.getSocketCookie()).isNotZero();
            ConnectEvent refused = connects.stream().filter(c -> c.getPort() == closedPort).findFirst().orElseThrow();
            assertThat(refused.getOutcome()).isEqualTo(ConnectOutcome.CONNECT_OUTCOME_REFUSED);
            assertThat(refused.getErrorName()).isEqualTo("ECONNREFUSED");
            assertThat(refused.getErrorNumber()).isEqualTo(111);
            ConnectEvent v6 = connects.stream().filter(c -> c.getFamily() == AddressFamily.ADDRESS_FAMILY_INET6)
                    .findFirst().orElseThrow();
            assertThat(v6.getAddress()).isEqualTo("::1");
            assertThat(v6.getPort()).isEqualTo(listener6.getLocalPort());
            assertThat(v6.getOutcome()).isEqualTo(ConnectOutcome.CONNECT_OUTCOME_CONNECTED);
        }
    }

    @Test
    void theRingBenchmarksProgramIsInTheBenchObjectNotTheShippedOne() throws Exception {
        List<String> programs = new ArrayList<>();
        List<String> maps;
        try (io.agentguard.bpf.BpfObject shipped = io.agentguard.bpf.BpfObject.openEmbedded()) {
            programs.addAll(shipped.programNames());
            maps = shipped.mapNames();
        }
        assertThat(programs).contains("ag_exec").doesNotContain("ag_bench_emit");
        // bpf/Makefile links it with the same hook files into target/bpf, never into the jar
        assertThat(io.agentguard.bpf.BpfObject.class.getResource("/io/agentguard/bpf/agentguard-bench.bpf.o")).isNull();
        Path bench = Path.of(System.getProperty("agentguard.bpf.dir", "target/bpf"), "agentguard-bench.bpf.o");
        programs.add("ag_bench_emit");
        try (io.agentguard.bpf.BpfObject object = io.agentguard.bpf.BpfObject.open(Files.readAllBytes(bench))) {
            assertThat(object.programNames()).containsExactlyInAnyOrderElementsOf(programs);
            assertThat(object.mapNames()).containsExactlyInAnyOrderElementsOf(maps);
        }
    }

    @Test
    void udpAndUnixConnectsCarryTheSyscallResult() throws Exception {
        assertThat(KERNEL.agent().hooks().get("syscall-outcomes")).startsWith("sys_exit_connect");
        Path cg = KERNEL.newCgroup("udp");
        String connector = KernelAgentExtension.nativeTool("connector").toString();
        Path socketPath = Files.createTempDirectory("ag-unix").resolve("s.sock");
        KERNEL.runIn(cg, connector, "udp4", "127.66.0.2", "5353");
        KERNEL.runIn(cg, connector, "udp6", "::1", "5354");
        assertThat(KERNEL.runIn(cg, connector, "unix", socketPath.toString()).stdout()).isEqualTo("ENOENT\n");

        List<ConnectEvent> connects = KERNEL.await(e -> e.getProcess().getCgroupId() == KERNEL.cgroupId(cg)
                && e.hasConnect(), 3, Duration.ofSeconds(10)).stream().map(Event::getConnect).toList();
        assertThat(connects).hasSize(3);
        ConnectEvent udp4 = connects.get(0);
        assertThat(udp4.getFamily()).isEqualTo(AddressFamily.ADDRESS_FAMILY_INET);
        assertThat(udp4.getAddress()).isEqualTo("127.66.0.2");
        assertThat(udp4.getPort()).isEqualTo(5353);
        assertThat(udp4.getSocketType()).isEqualTo(SocketType.SOCKET_TYPE_DGRAM);
        assertThat(udp4.getProtocol()).isEqualTo(17);
        assertThat(udp4.getOutcome()).isEqualTo(ConnectOutcome.CONNECT_OUTCOME_CONNECTED);
        ConnectEvent udp6 = connects.get(1);
        assertThat(udp6.getFamily()).isEqualTo(AddressFamily.ADDRESS_FAMILY_INET6);
        assertThat(udp6.getPort()).isEqualTo(5354);
        assertThat(udp6.getOutcome()).isEqualTo(ConnectOutcome.CONNECT_OUTCOME_CONNECTED);
        ConnectEvent unix = connects.get(2);
        assertThat(unix.getFamily()).isEqualTo(AddressFamily.ADDRESS_FAMILY_UNIX);
        assertThat(unix.getUnixPath()).isEqualTo(socketPath.toString());
        assertThat(unix.getSocketType()).isEqualTo(SocketType.SOCKET_TYPE_STREAM);
        assertThat(unix.getOutcome()).isEqualTo(ConnectOutcome.CONNECT_OUTCOME_ERROR);
        assertThat(unix.getErrorName()).isEqualTo("ENOENT");
    }

    @Test
    void failedExecIsReportedWithErrnoAndArgv() throws Exception {
        Path cg = KERNEL.newCgroup("failexec");
        Path notExecutable = Files.createTempFile("ag-noexec", ".sh");
        KERNEL.runIn(cg, "/bin/sh", "-c", "/nonexistent/xmrig --donate-level 1 -o stratum+tcp://127.66.0.9:3333; "
                + notExecutable + " x; exit 0");

        List<Event> execs = ofKind(KERNEL.settle(KERNEL.cgroupId(cg), 300), Event.KindCase.EXEC);
        Event missing = execs.stream().filter(e -> e.getExec().getFilename().equals("/nonexistent/xmrig"))
                .findFirst().orElseThrow();
        assertThat(missing.getExec().getSuccess()).isFalse();
        assertThat(missing.getExec().getErrorName()).isEqualTo("ENOENT");
        assertThat(missing.getExec().getErrorNumber()).isEqualTo(2);
        assertThat(missing.getExec().getArgsList()).containsExactly("/nonexistent/xmrig", "--donate-level", "1", "-o",
                "stratum+tcp://127.66.0.9:3333");
        Event denied = execs.stream().filter(e -> e.getExec().getFilename().equals(notExecutable.toString()))
                .findFirst().orElseThrow();
        assertThat(denied.getExec().getErrorName()).isEqualTo("EACCES");
        assertThat(execs.stream().filter(e -> e.getExec().getSuccess()).map(e -> e.getExec().getFilename()))
                .containsExactly("/bin/sh");
    }

    @Test
    void replayedCudaSequenceOnStandinsIsDecodedCallByCall() throws Exception {
        Path cg = KERNEL.newCgroup("gpu");
        String replayer = KernelAgentExtension.nativeTool("nvreplay").toString();
        KernelAgentExtension.Run run = KERNEL.runIn(cg, replayer, "--ctl", KERNEL.standin("nvidiactl").toString(),
                "--gpu", KERNEL.standin("nvidia0").toString(), "--uvm", KERNEL.standin("nvidia-uvm").toString(),
                "--alloc-bytes", "123456789");
        assertThat(run.exitStatus()).as(run.stdout()).isZero();
        List<String> listing = new String(new ProcessBuilder(replayer, "--list", "--alloc-bytes", "123456789")
                .start().getInputStream().readAllBytes()).lines().toList();

        List<Event> gpu = KERNEL.settle(KERNEL.cgroupId(cg), 300).stream().filter(Event::hasGpu).toList();
        List<Event> opens = gpu.stream().filter(e -> e.getGpu().hasOpen()).toList();
        List<Event> ioctls = gpu.stream().filter(e -> e.getGpu().hasIoctl()).toList();
        assertThat(opens.stream().map(e -> e.getGpu().getRole()).toList()).containsExactly(
                DeviceRole.DEVICE_ROLE_CONTROL, DeviceRole.DEVICE_ROLE_GPU, DeviceRole.DEVICE_ROLE_UVM,
                DeviceRole.DEVICE_ROLE_UVM);

        // every ioctl the replayer issued, in order, with the name its own table gives
        List<String> expected = listing.stream().filter(l -> l.startsWith("ioctl ")).toList();
        assertThat(ioctls).hasSize(expected.size());
        for (int i = 0; i < expected.size(); i++) {
            String line = expected.get(i);
            GpuIoctl io = ioctls.get(i).getGpu().getIoctl();
            String name = field(line, "name");
            String decoded = name.equals("IOCTL_XFER_CMD") ? "RM_CONTROL" : name;
            assertThat(io.getName()).as(line).isEqualTo(decoded);
            assertThat(io.getCmd()).as(line).isEqualTo(Integer.parseUnsignedInt(field(line, "cmd").substring(2), 16));
            if (line.contains(" class=")) {
                assertThat(io.getAllocClass()).as(line).isEqualTo(Integer.parseInt(field(line, "class").substring(2), 16));
            }
            if (line.contains(" control=")) {
                assertThat(io.getControlId()).as(line)
                        .isEqualTo(Integer.parseUnsignedInt(field(line, "control").substring(2), 16));
            }
            if (line.contains(" size=")) {
                assertThat(io.getAllocSizeBytes()).as(line).isEqualTo(Long.parseLong(field(line, "size")));
            }
            DeviceRole role = switch (field(line, "dev")) {
                case "ctl" -> DeviceRole.DEVICE_ROLE_CONTROL;
                case "gpu" -> DeviceRole.DEVICE_ROLE_GPU;
                default -> DeviceRole.DEVICE_ROLE_UVM;
            };
            assertThat(ioctls.get(i).getGpu().getRole()).as(line).isEqualTo(role);
        }
        List<GpuIoctl> compute = ioctls.stream().map(e -> e.getGpu().getIoctl()).filter(GpuIoctl::getComputeContext).toList();
        assertThat(compute).hasSize(1);
        assertThat(compute.getFirst().getAllocClass()).isEqualTo(0xcbc0);
        assertThat(compute.getFirst().getClassKind()).isEqualTo(ClassKind.CLASS_KIND_COMPUTE);
        assertThat(compute.getFirst().getClassName()).isEqualTo("HOPPER_COMPUTE_A");
        GpuIoctl device = ioctls.stream().map(e -> e.getGpu().getIoctl())
                .filter(io -> io.getClassKind() == ClassKind.CLASS_KIND_DEVICE).findFirst().orElseThrow();
        assertThat(device.getDeviceId()).isZero();
        GpuIoctl xfer = ioctls.stream().map(e -> e.getGpu().getIoctl()).filter(GpuIoctl::getViaXfer).findFirst().orElseThrow();
        assertThat(xfer.getInnerCmd()).isEqualTo(0xc020462a);
        assertThat(ioctls.stream().filter(e -> e.getGpu().getRole() == DeviceRole.DEVICE_ROLE_GPU)
                .allMatch(e -> e.getGpu().getGpuIndex() == 0)).isTrue();
    }

    private static String field(String line, String key) {
        for (String token : line.split(" ")) {
            if (token.startsWith(key + "=")) {
                return token.substring(key.length() + 1);
            }
        }
        throw new AssertionError("no " + key + " in " + line);
    }

    @Test
    void processesOutsideAgentCgroupsProduceNothing() throws Exception {
        String marker = "outside-" + UUID.randomUUID();
        Process outside = new ProcessBuilder("/bin/echo", marker).start();
        outside.waitFor();
        // a sentinel inside proves the pipeline was live meanwhile
        Path cg = KERNEL.newCgroup("sentinel");
        String sentinel = "inside-" + UUID.randomUUID();
        KERNEL.runIn(cg, "/bin/echo", sentinel);
        assertThat(KERNEL.await(e -> e.hasExec() && e.getExec().getArgsList().contains(sentinel), 1,
                Duration.ofSeconds(10))).hasSize(1);
        assertThat(KERNEL.snapshot(e -> e.getProcess().getPid() == outside.pid()
                || e.hasExec() && e.getExec().getArgsList().contains(marker))).isEmpty();
    }

    @Test
    void cgroupNestedDeeperAfterStartIsWatched() throws Exception {
        Path parent = KERNEL.newCgroup("nested");
        Path child = parent.resolve("a/b/c");
        Files.createDirectories(child);
        try {
            KERNEL.runIn(child, "/bin/true");
            List<Event> execs = ofKind(KERNEL.settle(KERNEL.cgroupId(child), 300), Event.KindCase.EXEC);
            assertThat(execs).hasSize(1);
            assertThat(execs.getFirst().getProcess().getCgroupPath())
                    .isEqualTo(KERNEL.mount().relativize(child).toString());
        } finally {
            Files.delete(child);
            Files.delete(child.getParent());
            Files.delete(child.getParent().getParent());
        }
    }

    @Test
    void kernelCountsEmittedRecordsAndNoneLostAtThisLoad() throws Exception {
        Path cg = KERNEL.newCgroup("count");
        KERNEL.runIn(cg, "/bin/true");
        KERNEL.settle(KERNEL.cgroupId(cg), 300);
        Agent.Stats stats = KERNEL.agent().stats();
        assertThat(stats.emittedByKernel()).isGreaterThanOrEqualTo(stats.events());
        assertThat(stats.lost()).isZero();
        assertThat(stats.invalid()).isZero();
    }
}
