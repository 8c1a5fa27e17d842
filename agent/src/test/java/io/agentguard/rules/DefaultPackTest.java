package io.agentguard.rules;

import io.agentguard.enforce.FileIdentity;
import io.agentguard.enforce.PolicySnapshot;
import io.agentguard.pipeline.ConsumerPipeline;
import io.agentguard.event.Records;
import io.agentguard.process.KnownPrograms;
import io.agentguard.process.ProcessTable;
import io.agentguard.proto.v1.AddressFamily;
import io.agentguard.proto.v1.ConnectEvent;
import io.agentguard.proto.v1.DeviceRole;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.ExecEvent;
import io.agentguard.proto.v1.ExitEvent;
import io.agentguard.proto.v1.ForkEvent;
import io.agentguard.proto.v1.GpuEvent;
import io.agentguard.proto.v1.GpuIoctl;
import io.agentguard.proto.v1.GpuOpen;
import io.agentguard.proto.v1.ProcessInfo;
import io.agentguard.proto.v1.SocketType;
import io.agentguard.proto.v1.Verdict;
import io.agentguard.proto.v1.Violation;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.snakeyaml.engine.v2.api.Dump;
import org.snakeyaml.engine.v2.api.DumpSettings;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The default rule pack against the scenario cases in default-pack-cases.yaml: each case
 * (one event or a sequence) goes through the real pipeline (records, process table,
 * classifier); `match` cases must fire their rule, `nomatch` cases (benign agent work and
 * near misses) must not.
 */
class DefaultPackTest {
    private static final RuleSet PACK = RuleLoader.load(true, List.of());
    private static final Map<String, Integer> UVM = Map.ofEntries(
            Map.entry("UVM_INITIALIZE", 0x30000001), Map.entry("UVM_DEINITIALIZE", 0x30000002),
            Map.entry("UVM_CREATE_RANGE_GROUP", 0x17), Map.entry("UVM_REGISTER_GPU_VASPACE", 0x19),
            Map.entry("UVM_REGISTER_CHANNEL", 0x1b), Map.entry("UVM_MAP_EXTERNAL_ALLOCATION", 0x21),
            Map.entry("UVM_FREE", 0x22), Map.entry("UVM_REGISTER_GPU", 0x25), Map.entry("UVM_PAGEABLE_MEM_ACCESS", 0x27),
            Map.entry("UVM_MIGRATE", 0x33), Map.entry("UVM_ALLOC_SEMAPHORE_POOL", 0x44),
            Map.entry("UVM_VALIDATE_VA_RANGE", 0x48), Map.entry("UVM_CREATE_EXTERNAL_RANGE", 0x49),
            Map.entry("UVM_MM_INITIALIZE", 0x4b));
    private static final Map<String, Integer> NV = Map.ofEntries(
            Map.entry("RM_ALLOC", 0xc030462b), Map.entry("RM_CONTROL", 0xc020462a), Map.entry("RM_FREE", 0xc0104629),
            Map.entry("RM_VID_HEAP_CONTROL", 0xc0b8464a), Map.entry("RM_MAP_MEMORY", 0xc038464e),
            Map.entry("RM_ALLOC_MEMORY", 0xc0384627), Map.entry("CHECK_VERSION_STR", 0xc04846d2),
            Map.entry("SYS_PARAMS", 0xc00846d6), Map.entry("REGISTER_FD", 0xc00446c9),
            Map.entry("ALLOC_OS_EVENT", 0xc01046ce), Map.entry("RM_GET_EVENT_DATA", 0xc0104652),
            Map.entry("CARD_INFO", 0xc90046c8), Map.entry("ATTACH_GPUS_TO_FD", 0xc00446d4),
            Map.entry("NUMA_INFO", 0xc23046d7), Map.entry("RM_MAP_MEMORY_DMA", 0xc0384657),
            Map.entry("RM_UNMAP_MEMORY", 0xc020464f), Map.entry("RM_DUP_OBJECT", 0xc01c4634));

    /** Birth of every agent cgroup in these cases (wall clock ns): `created_in_cgroup` files are younger. */
    private static final long CGROUP_BIRTH_NS = 1_700_000_000_000_000_000L;
    /** Programs by identity (proc.exe_program): an event's `program: ssh` gives its file this identity. */
    private static final List<String> PROGRAMS = List.of("ssh", "scp", "sftp", "ssh-keyscan", "git", "python3", "bash");

    private static FileIdentity programIdentity(String name) {
        return new FileIdentity((8L << 20) | 1, 900_000 + PROGRAMS.indexOf(name), 0, 0);
    }

    private static final KnownPrograms KNOWN = KnownPrograms.of(PROGRAMS.stream()
            .collect(java.util.stream.Collectors.toMap(DefaultPackTest::programIdentity, n -> n)));

    /**
     * The policies a case runs under: the embedded default configuration's unless an event of
     * the case has `policy:` (the default policy, as in agentguard.yaml's policies.default).
     */
    @SuppressWarnings("unchecked")
    private static PolicySnapshot policies(List<Map<String, Object>> sequence) {
        Map<String, Object> policy = null;
        for (Map<String, Object> spec : sequence) {
            if (spec.containsKey("policy")) {
                policy = (Map<String, Object>) spec.get("policy");
            }
        }
        String config;
        if (policy == null) {
            try (InputStream in = DefaultPackTest.class.getResourceAsStream("/io/agentguard/config/default.yaml")) {
                config = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        } else {
            config = "mode: enforce\nagent_cgroups: [agentguard/sandbox]\n"
                    + new Dump(DumpSettings.builder().build()).dumpToString(Map.of("policies", Map.of("default", policy)));
        }
        return PolicySnapshot.forTests(config, KNOWN, path -> CGROUP_BIRTH_NS);
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> cases() {
        try (InputStream in = DefaultPackTest.class.getResourceAsStream("/io/agentguard/rules/default-pack-cases.yaml")) {
            return (List<Map<String, Object>>) new Load(LoadSettings.builder().build()).loadFromInputStream(in);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void everyEnabledRuleHasMatchAndNoMatchCases() {
        Set<String> covered = new HashSet<>();
        for (Map<String, Object> entry : cases()) {
            String rule = (String) entry.get("rule");
            assertThat(PACK.rules()).as("rule in cases file").extracting(CompiledRule::name).contains(rule);
            assertThat((List<?>) entry.get("match")).as(rule + " match cases").hasSizeGreaterThanOrEqualTo(2);
            assertThat((List<?>) entry.get("nomatch")).as(rule + " nomatch cases").hasSizeGreaterThanOrEqualTo(3);
            covered.add(rule);
        }
        assertThat(covered).containsExactlyInAnyOrderElementsOf(PACK.rules().stream().map(CompiledRule::name).toList());
    }

    @Test
    void everyRuleIsTaggedWithAMitreId() {
        for (CompiledRule r : PACK.rules()) {
            assertThat(r.tags()).as(r.name()).anyMatch(t -> t.matches("T\\d{4}(\\.\\d{3})?"));
        }
    }

    @TestFactory
    @SuppressWarnings("unchecked")
    Stream<DynamicTest> cases_() {
        List<DynamicTest> tests = new ArrayList<>();
        for (Map<String, Object> entry : cases()) {
            String rule = (String) entry.get("rule");
            int i = 0;
            for (Object c : (List<Object>) entry.get("match")) {
                int n = ++i;
                tests.add(DynamicTest.dynamicTest(rule + " matches case " + n + ": " + c,
                        () -> assertThat(run(c)).as(String.valueOf(c)).contains(rule)));
            }
            i = 0;
            for (Object c : (List<Object>) entry.get("nomatch")) {
                int n = ++i;
                tests.add(DynamicTest.dynamicTest(rule + " stays quiet on case " + n + ": " + c,
                        () -> assertThat(run(c)).as(String.valueOf(c)).doesNotContain(rule)));
            }
        }
        return tests.stream();
    }

    /** Runs one case through a fresh pipeline; returns the names of the rules that fired. */
    @SuppressWarnings("unchecked")
    static List<String> run(Object c) {
        List<Map<String, Object>> sequence = c instanceof List<?> l ? (List<Map<String, Object>>) l
                : List.of((Map<String, Object>) c);
        Map<Long, String> cgroupPaths = new HashMap<>();
        List<Violation> violations = new ArrayList<>();
        ProcessTable table = new ProcessTable(1024, 10_000_000_000L);
        ConsumerPipeline pipeline = new ConsumerPipeline.Builder(new Classifier(PACK), table)
                .cgroupPaths(id -> cgroupPaths.getOrDefault(id, "")).policies(policies(sequence))
                .violations(violations::add).build();
        Records records = new Records();
        MemorySegment buf = Arena.ofAuto().allocate(Records.maxRecordBytes(), 8);
        Set<Integer> installed = new HashSet<>();
        long now = 1_000_000_000L;
        for (Map<String, Object> spec : sequence) {
            now += 1_000_000L;
            int pid = (int) num(spec.getOrDefault("pid", 4242));
            String cgroup = (String) spec.getOrDefault("cgroup", "agentguard/sandbox");
            long cgroupId = 1000 + Math.abs(cgroup.hashCode() % 100000);
            cgroupPaths.put(cgroupId, cgroup);
            String type = (String) spec.get("type");
            List<Object> ancestors = (List<Object>) spec.getOrDefault("ancestors", List.of());
            if (installed.add(pid)) {
                install(table, pid, cgroupId, ancestors, type.equals("exec") ? null : spec);
                if (!type.equals("exec")) {
                    FileIdentity id = spec.containsKey("program") ? programIdentity((String) spec.get("program")) : null;
                    table.setFile(table.slot(pid), id != null ? id.dev() : 0, id != null ? id.ino() : 0, exeCtime(spec));
                }
            }
            Event e = event(spec, pid, table.ppid(table.slot(pid)), cgroupId, now);
            int length = records.write(e, buf, 0);
            pipeline.onRecord(buf, 0, length);
        }
        return violations.stream().map(Violation::getRule).toList();
    }

    @SuppressWarnings("unchecked")
    private static void install(ProcessTable table, int pid, long cgroupId, List<Object> ancestors,
                                Map<String, Object> running) {
        int ancestorPid = pid - 1;
        String parentExe = "/usr/bin/bash";
        List<String> parentArgs = List.of("bash");
        for (int i = ancestors.size() - 1; i >= 0; i--) {
            Object a = ancestors.get(i);
            String name;
            String exe;
            List<String> argv;
            if (a instanceof Map<?, ?> m) {
                name = (String) m.get("name");
                exe = (String) ((Map<String, Object>) m).getOrDefault("exe", "/usr/bin/" + name);
                argv = (List<String>) ((Map<String, Object>) m).getOrDefault("args", List.of(name));
            } else {
                name = (String) a;
                exe = "/usr/bin/" + name;
                argv = List.of(name);
            }
            int apid = pid - 1 - i;
            int appid = i + 1 < ancestors.size() ? pid - 2 - i : 1;
            table.put(apid, appid, cgroupId, 1000, comm(exe), exe, stringify(argv), 1);
            if (i == 0) {
                parentExe = exe;
                parentArgs = stringify(argv);
            }
        }
        int ppid = ancestors.isEmpty() ? 1 : ancestorPid;
        if (running != null) {
            String exe = (String) running.getOrDefault("exe", "/usr/bin/python3");
            List<String> argv = stringify((List<Object>) running.getOrDefault("args", List.of("python3", "agent.py")));
            table.put(pid, ppid, cgroupId, 1000, comm(exe), exe, argv, 1);
        } else {
            table.put(pid, ppid, cgroupId, 1000, comm(parentExe), parentExe, parentArgs, 1);   // before its exec
        }
    }

    /** YAML 1.2 leaves 0x... as a string: numbers may come either way. */
    private static long num(Object v) {
        return v instanceof Number n ? n.longValue() : Long.decode(String.valueOf(v));
    }

    private static List<String> stringify(List<?> values) {
        return values.stream().map(String::valueOf).toList();
    }

    private static String comm(String exe) {
        String n = exe.substring(exe.lastIndexOf('/') + 1);
        return n.length() > 15 ? n.substring(0, 15) : n;
    }

    /** `created_in_cgroup: true`: the executable was written after the cgroup's birth; else before it. */
    private static long exeCtime(Map<String, Object> s) {
        return Boolean.TRUE.equals(s.get("created_in_cgroup")) ? CGROUP_BIRTH_NS + 1_000_000_000L
                : CGROUP_BIRTH_NS - 1_000_000_000L;
    }

    private static boolean flag(Map<String, Object> s, String key) {
        return Boolean.TRUE.equals(s.get(key));
    }

    /** `verdict: denied | would_block` (default allowed): the kernel's verdict on the record. */
    private static Verdict verdict(Map<String, Object> s) {
        return switch (String.valueOf(s.getOrDefault("verdict", "allowed"))) {
            case "denied" -> Verdict.VERDICT_DENIED;
            case "would_block" -> Verdict.VERDICT_WOULD_BLOCK;
            case "allowed" -> Verdict.VERDICT_ALLOWED;
            default -> throw new IllegalArgumentException("verdict " + s.get("verdict"));
        };
    }

    @SuppressWarnings("unchecked")
    private static Event event(Map<String, Object> s, int pid, int ppid, long cgroupId, long now) {
        String type = (String) s.get("type");
        String exe = (String) s.getOrDefault("exe", "/usr/bin/python3");
        Event.Builder e = Event.newBuilder().setMonotonicNs(now).setProcess(ProcessInfo.newBuilder().setPid(pid).setTid(pid)
                .setPpid(ppid).setUid((int) num(s.getOrDefault("uid", 1000)))
                .setComm((String) s.getOrDefault("comm", comm(exe))).setCgroupId(cgroupId));
        switch (type) {
            case "exec" -> {
                boolean failed = Boolean.TRUE.equals(s.get("failed"));
                ExecEvent.Builder x = ExecEvent.newBuilder().setFilename(exe)
                        .addAllArgs(stringify((List<Object>) s.getOrDefault("args", List.of(comm(exe)))))
                        .setSuccess(!failed).setErrorNumber(failed ? 2 : 0).setVerdict(verdict(s))
                        .setHeld(flag(s, "held")).setStdioSocket(flag(s, "stdio_socket")).setExeCtimeNs(exeCtime(s))
                        .setLoader(flag(s, "loader"));
                if (s.containsKey("program")) {
                    FileIdentity id = programIdentity((String) s.get("program"));
                    x.setDevMajor((int) (id.dev() >>> 20)).setDevMinor((int) (id.dev() & 0xfffff)).setInode(id.ino());
                } else {
                    x.setDevMajor(8).setDevMinor(1).setInode(100 + Math.abs(exe.hashCode() % 100000));
                }
                e.setExec(x);
            }
            case "fork" -> e.setFork(ForkEvent.newBuilder().setChildPid(pid + 1000));
            case "exit" -> {
                int code = (int) num(s.getOrDefault("code", 0));
                int signal = (int) num(s.getOrDefault("signal", 0));
                e.setExit(ExitEvent.newBuilder().setWaitStatus(signal != 0 ? signal : code << 8));
            }
            case "connect" -> {
                ConnectEvent.Builder c = ConnectEvent.newBuilder().setSocketCookie(now).setVerdict(verdict(s))
                        .setExplicitAllow(flag(s, "explicit_allow")).setTunnel(flag(s, "tunnel")).setShell(flag(s, "shell"));
                if (s.containsKey("unix_path")) {
                    c.setFamily(AddressFamily.ADDRESS_FAMILY_UNIX).setUnixPath((String) s.get("unix_path"))
                            .setSocketType(SocketType.SOCKET_TYPE_STREAM);
                    if (flag(s, "unix_outside")) {   // a live listener outside the agent cgroups
                        c.setUnixOutsideOwner(io.agentguard.proto.v1.UnixOwner.newBuilder().setPid(77).setUid(0)
                                .setComm("nvidia-cuda-mps").setCgroupId(1));
                    }
                } else {
                    String addr = String.valueOf(s.get("addr"));
                    boolean udp = "udp".equals(s.get("proto"));
                    c.setFamily(addr.contains(":") ? AddressFamily.ADDRESS_FAMILY_INET6 : AddressFamily.ADDRESS_FAMILY_INET)
                            .setAddress(addr).setPort((int) num(s.get("port")))
                            .setSocketType(udp ? SocketType.SOCKET_TYPE_DGRAM : SocketType.SOCKET_TYPE_STREAM)
                            .setProtocol(udp ? 17 : 6);
                }
                e.setConnect(c);
            }
            case "gpu_open" -> e.setGpu(device(s).setOpen(GpuOpen.newBuilder().setRead(true).setWrite(true)
                    .setVerdict(verdict(s))));
            case "gpu_ioctl" -> {
                GpuEvent.Builder g = device(s);
                String op = (String) s.getOrDefault("op", "RM_CONTROL");
                boolean uvm = g.getRole() == DeviceRole.DEVICE_ROLE_UVM;
                Integer cmd = uvm ? UVM.get(op) : NV.get(op);
                if (cmd == null) {
                    throw new IllegalArgumentException("unknown op " + op + " for the test harness");
                }
                GpuIoctl.Builder io = GpuIoctl.newBuilder().setCmd(cmd).setInnerCmd(cmd).setName(op).setVerdict(verdict(s));
                if (s.containsKey("class")) {
                    io.setAllocClass((int) num(s.get("class")));
                }
                if (s.containsKey("alloc_bytes")) {
                    io.setAllocSizeBytes(num(s.get("alloc_bytes"))).setHeapFunction(2);
                }
                if (s.containsKey("control")) {
                    io.setControlId((int) num(s.get("control")));
                }
                e.setGpu(g.setIoctl(io));
            }
            default -> throw new IllegalArgumentException("unknown event type " + type);
        }
        return e.build();
    }

    private static GpuEvent.Builder device(Map<String, Object> s) {
        String device = (String) s.getOrDefault("device", "control");
        int index = (int) num(s.getOrDefault("index", 0));
        return switch (device) {
            case "control" -> GpuEvent.newBuilder().setRole(DeviceRole.DEVICE_ROLE_CONTROL).setMajor(195).setMinor(255);
            case "gpu" -> GpuEvent.newBuilder().setRole(DeviceRole.DEVICE_ROLE_GPU).setGpuIndex(index).setMajor(195)
                    .setMinor(index);
            case "uvm" -> GpuEvent.newBuilder().setRole(DeviceRole.DEVICE_ROLE_UVM).setMajor(508).setMinor(0);
            case "uvm_tools" -> GpuEvent.newBuilder().setRole(DeviceRole.DEVICE_ROLE_UVM_TOOLS).setMajor(508).setMinor(1);
            case "modeset" -> GpuEvent.newBuilder().setRole(DeviceRole.DEVICE_ROLE_MODESET).setMajor(195).setMinor(254);
            case "caps" -> GpuEvent.newBuilder().setRole(DeviceRole.DEVICE_ROLE_CAPS).setMajor(509).setMinor(1);
            default -> throw new IllegalArgumentException("unknown device " + device);
        };
    }
}
