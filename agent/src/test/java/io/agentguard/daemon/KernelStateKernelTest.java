package io.agentguard.daemon;

import io.agentguard.bpf.BpfInfo;
import io.agentguard.bpf.BpfLink;
import io.agentguard.bpf.BpfObject;
import io.agentguard.bpf.Libc;
import io.agentguard.config.AgentConfigLoader;
import io.agentguard.pipeline.KernelFindings;
import io.agentguard.proto.v1.TamperEvent;
import io.agentguard.proto.v1.TamperKind;
import io.agentguard.proto.v1.Violation;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The red team's moves against the daemon's own kernel objects, made with the tool they used
 * (bpftool, as root) while the daemon runs: each is found within a check interval, put back,
 * and raised as a STATE_DRIFT violation; enforcement works again afterwards.
 */
class KernelStateKernelTest {
    private static final Duration DEADLINE = Duration.ofSeconds(30);   // checks run every 200 ms

    @RegisterExtension
    static final KernelAgentExtension KERNEL = new KernelAgentExtension(4096).withPins(200).expectingStateDrift()
            .configure(b -> b.enforce(true).defaultPolicy(AgentConfigLoader.parse("test", """
                    agent_cgroups: [x]
                    policies:
                      default:
                        egress: {default: allow, deny: [127.66.0.0/24]}
                    """).defaultPolicy()));

    private static long rootId() {
        return KERNEL.cgroupId(KERNEL.mount().resolve(KERNEL.rootRelative()));
    }

    private static String connect(Path cgroup) throws Exception {
        return KERNEL.runIn(cgroup, KernelAgentExtension.nativeTool("connector").toString(), "tcp4", "127.66.0.1", "80")
                .stdout().strip();
    }

    /** The drift violations about one object, once at least one arrived (or the deadline passed). */
    private static List<TamperEvent> drift(String objectName, boolean repaired) throws InterruptedException {
        String rule = repaired ? KernelFindings.STATE_DRIFT_REPAIRED.rule() : KernelFindings.STATE_DRIFT_UNREPAIRED.rule();
        return KERNEL.awaitViolations(v -> v.getRule().equals(rule) && tamper(v).getObjectName().equals(objectName), 1,
                DEADLINE).stream().map(KernelStateKernelTest::tamper).toList();
    }

    private static TamperEvent tamper(Violation v) {
        return v.getEvidence(0).getTamper();
    }

    @Test
    void aDetachedConnectLinkIsAttachedAgainAndReported() throws Exception {
        Path cg = KERNEL.newCgroup("detach");
        assertThat(connect(cg)).isEqualTo("EPERM");
        String name = "ag_connect4@" + rootId();
        Path pin = KERNEL.pins().resolve("links").resolve(name);
        long linkId = Bpftool.id(Bpftool.json("link", "show", "pinned", pin.toString()));

        Bpftool.run("link", "detach", "id", String.valueOf(linkId));
        assertThat(Bpftool.json("link", "show", "id", String.valueOf(linkId))).as("the attack took effect")
                .contains("\"cgroup_id\":0");

        List<TamperEvent> found = drift(name, true);
        assertThat(found).as("a violation within the check interval").isNotEmpty();
        assertThat(found.getFirst().getKind()).isEqualTo(TamperKind.TAMPER_KIND_STATE_DRIFT);
        assertThat(found.getFirst().getObject()).isEqualTo("link");
        assertThat(found.getFirst().getDrift()).startsWith("detached from its cgroup (link id " + linkId);
        assertThat(found.getFirst().getRepair()).isEqualTo("attached anew and pinned");
        String now = Bpftool.json("link", "show", "pinned", pin.toString());
        assertThat(Bpftool.id(now)).isNotEqualTo(linkId);
        assertThat(now).contains("\"cgroup_id\":" + rootId());
        assertThat(connect(cg)).as("the denied connect fails again").isEqualTo("EPERM");
    }

    @Test
    void aDeletedScopeRootIsWrittenBackAndItsProcessesAreWatchedAgain() throws Exception {
        Path map = KERNEL.pins().resolve("maps").resolve("ag_scope_roots");
        Bpftool.run(Bpftool.withKey(rootId(), "map", "delete", "pinned", map.toString()));

        List<TamperEvent> found = drift("ag_scope_roots", true);
        assertThat(found).isNotEmpty();
        assertThat(found.getFirst().getDrift()).isEqualTo("1 entry removed (cgroup id " + rootId() + ")");
        assertThat(Bpftool.json(Bpftool.withKey(rootId(), "map", "lookup", "pinned", map.toString())))
                .contains("\"formatted\":{\"key\":" + rootId());
        Path cg = KERNEL.newCgroup("scope");
        KernelAgentExtension.Run run = KERNEL.runIn(cg, "/bin/true");
        assertThat(KERNEL.await(e -> e.hasExec() && e.getProcess().getPid() == run.pid(), 1, DEADLINE))
                .as("an agent process is in scope again").isNotEmpty();
        assertThat(connect(cg)).isEqualTo("EPERM");
    }

    @Test
    void deletedEgressDenyEntriesAreWrittenBack() throws Exception {
        Path map = KERNEL.pins().resolve("maps").resolve("ag_egress");
        List<List<String>> keys = Bpftool.keys(Bpftool.json("map", "dump", "pinned", map.toString()));
        assertThat(keys).as("the policy's deny entry").isNotEmpty();
        for (List<String> key : keys) {   // dump and delete: the whole egress policy gone
            List<String> args = new java.util.ArrayList<>(List.of("map", "delete", "pinned", map.toString(), "key", "hex"));
            args.addAll(key);
            Bpftool.run(args.toArray(String[]::new));
        }

        List<TamperEvent> found = drift("ag_egress", true);
        assertThat(found).isNotEmpty();
        assertThat(found.getFirst().getDrift()).startsWith(keys.size() + (keys.size() == 1 ? " entry" : " entries")
                + " removed (");
        assertThat(Bpftool.keys(Bpftool.json("map", "dump", "pinned", map.toString())))
                .containsExactlyInAnyOrderElementsOf(keys);
        assertThat(connect(KERNEL.newCgroup("egress"))).isEqualTo("EPERM");
    }

    @Test
    void aZeroedConfigEntryIsWrittenBackNamingTheFieldsThatChanged() throws Exception {
        Path map = KERNEL.pins().resolve("maps").resolve("ag_config");
        List<String> args = new java.util.ArrayList<>(List.of("map", "update", "pinned", map.toString(), "key", "0", "0",
                "0", "0", "value", "hex"));
        for (long i = 0; i < io.agentguard.abi.KernelAbi.Config.SIZEOF; i++) {
            args.add("00");   // scope levels 0: nothing is in scope; daemon pid 0: no self-protection
        }
        Bpftool.run(args.toArray(String[]::new));

        List<TamperEvent> found = drift("ag_config", true);
        assertThat(found).isNotEmpty();
        assertThat(found.getFirst().getDrift()).startsWith("entry changed by someone else (scope_levels, ")
                .contains("daemon_tgid");
        Path cg = KERNEL.newCgroup("config");
        assertThat(connect(cg)).isEqualTo("EPERM");
        KernelAgentExtension.Run run = KERNEL.runIn(cg, "/bin/true");
        assertThat(KERNEL.await(e -> e.hasExec() && e.getProcess().getPid() == run.pid(), 1, DEADLINE)).isNotEmpty();
    }

    @Test
    void removedPinsArePinnedAgainToTheSameObjects() throws Exception {
        Map<String, Long> before = pinnedIds();
        assertThat(before).containsKey("links/ag_connect4@" + rootId()).containsKey("maps/ag_scope_roots");
        for (String sub : List.of("links", "maps")) {
            try (Stream<Path> files = Files.walk(KERNEL.pins().resolve(sub))) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(p);   // rm -rf: the red team's move
                }
            }
        }

        List<TamperEvent> found = drift(KERNEL.pins().toString(), true);
        assertThat(found).isNotEmpty();
        assertThat(found.getFirst().getObject()).isEqualTo("pin");
        assertThat(found.getFirst().getDrift()).startsWith(before.size() + " pins removed (");
        assertThat(pinnedIds()).as("every pin back, naming the very same object").isEqualTo(before);
        assertThat(connect(KERNEL.newCgroup("pins"))).isEqualTo("EPERM");
    }

    @Test
    void aProgramAnotherLoaderAttachesAtTheAgentCgroupIsReportedOnce() throws Exception {
        try (BpfObject foreign = BpfObject.openEmbedded()) {
            for (String p : foreign.programNames()) {
                foreign.program(p).autoload(p.equals("ag_connect4"));
            }
            foreign.load();
            int fd = Libc.open(KERNEL.mount().resolve(KERNEL.rootRelative()).toString(), Libc.O_RDONLY | Libc.O_DIRECTORY);
            BpfLink link;
            try {
                link = foreign.program("ag_connect4").attachCgroup(fd, KERNEL.rootRelative());
            } finally {
                Libc.close(fd);
            }
            int progId = BpfInfo.link(link.fd()).progId();
            String rule = KernelFindings.STATE_DRIFT_UNREPAIRED.rule();
            List<Violation> found = KERNEL.awaitViolations(v -> v.getRule().equals(rule)
                    && tamper(v).getDrift().contains("(id " + progId + ","), 1, DEADLINE);
            assertThat(found).isNotEmpty();
            assertThat(tamper(found.getFirst()).getObject()).isEqualTo("program");
            assertThat(tamper(found.getFirst()).getObjectName()).isEqualTo(KERNEL.rootRelative());
            assertThat(tamper(found.getFirst()).getDrift()).startsWith("program 'ag_connect4' (id " + progId)
                    .endsWith("attached at the agent cgroup for cgroup/connect4 by someone else");
            long checks = KERNEL.agent().stateVerifier().checks();
            long deadline = System.nanoTime() + DEADLINE.toNanos();
            while (KERNEL.agent().stateVerifier().checks() < checks + 3) {   // a few more checks, still attached
                assertThat(System.nanoTime()).as("three more state checks within " + DEADLINE).isLessThan(deadline);
                Thread.sleep(50);
            }
            assertThat(KERNEL.awaitViolations(v -> v.getRule().equals(rule)
                    && tamper(v).getDrift().contains("(id " + progId + ","), 2, Duration.ZERO))
                    .as("reported when first found, not at every check").hasSize(1);
            assertThat(KERNEL.agent().stateVerifier().status().getUnrepairedList())
                    .anySatisfy(u -> assertThat(u).contains("(id " + progId + ","));
        }
    }

    @Test
    void theKernelInfoOfALinkAgreesWithBpftool() throws Exception {
        Path pin = KERNEL.pins().resolve("links").resolve("ag_connect4@" + rootId());
        int fd = BpfInfo.pinned(pin.toString());
        assertThat(fd).isNotNegative();
        try {
            BpfInfo.Link info = BpfInfo.link(fd);
            BpfInfo.Program prog = BpfInfo.programById(info.progId());
            String link = Bpftool.json("link", "show", "pinned", pin.toString());
            assertThat(link).contains("\"id\":" + info.id() + ",", "\"prog_id\":" + info.progId() + ",",
                    "\"cgroup_id\":" + info.cgroupId() + ",", "\"attach_type\":\"cgroup_inet4_connect\"");
            assertThat(info.type()).isEqualTo(BpfInfo.LINK_TYPE_CGROUP);
            assertThat(info.cgroupId()).isEqualTo(rootId());
            String program = Bpftool.json("prog", "show", "id", String.valueOf(info.progId()));
            assertThat(program).contains("\"name\":\"" + prog.name() + "\"", "\"tag\":\"" + prog.tag() + "\"");
            assertThat(prog.mapIds()).isNotEmpty();
        } finally {
            Libc.close(fd);
        }
    }

    /** "links/NAME" and "maps/NAME" -> the id of the object pinned there. */
    private static Map<String, Long> pinnedIds() throws Exception {
        Map<String, Long> ids = new LinkedHashMap<>();
        for (String sub : List.of("links", "maps")) {
            try (Stream<Path> files = Files.list(KERNEL.pins().resolve(sub))) {
                for (Path p : files.sorted().toList()) {
                    String kind = sub.equals("links") ? "link" : "map";
                    ids.put(sub + "/" + p.getFileName(), Bpftool.id(Bpftool.json(kind, "show", "pinned", p.toString())));
                }
            }
        }
        return ids;
    }
}
