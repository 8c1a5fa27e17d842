package io.agentguard.daemon;

import io.agentguard.config.AgentConfig;
import io.agentguard.config.Policy;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.Verdict;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * docs/BENCHMARKS.md "Tunnel hold": what the hold costs an ssh and how soon a forwarding ssh is
 * refused, from the records' CLOCK_MONOTONIC stamps, against the real sshd of SshdFixture. Not a
 * test (no *Test name: surefire runs it only when asked):
 * <pre>
 *   AGENTGUARD_REQUIRE_BPF=1 mvn -B -o -q verify -pl agent -am -Dtest=TunnelHoldLatencyBench \
 *       -Dsurefire.failIfNoSpecifiedTests=false -Dagentguard.bench.runs=200
 * </pre>
 */
class TunnelHoldLatencyBench {
    @RegisterExtension
    static final KernelAgentExtension KERNEL = new KernelAgentExtension(4096).configure(b -> b.enforce(true)
            .tunnels(new AgentConfig.Tunnels(AgentConfig.Tunnels.DEFAULT_PROGRAMS, 250)));

    private static Path cgroup(String name, String tunnels) throws Exception {
        Path cg = KERNEL.newCgroup(name);
        Policy p = EnforcementKernelTest.policies("    egress: {default: allow, tunnels: " + tunnels + "}\n")
                .withCgroup(KERNEL.mount().relativize(cg).toString());
        KERNEL.agent().addPolicyForTest(p);
        return cg;
    }

    @Test
    void holdLatency() throws Exception {
        int runs = Integer.getInteger("agentguard.bench.runs", 200);
        try (SshdFixture sshd = SshdFixture.start()) {
            Path held = cgroup("held", "deny");
            Path baseline = cgroup("baseline", "allow");
            Path forwarding = cgroup("forwarding", "deny");
            long[] heldConnect = new long[runs];
            long[] baseConnect = new long[runs];
            long[] eperm = new long[runs];
            long[] exit = new long[runs];
            for (int i = 0; i < runs; i++) {
                baseConnect[i] = execToConnect(sshd, baseline, List.of(), false)[0];
                heldConnect[i] = execToConnect(sshd, held, List.of(), false)[0];
                long[] f = execToConnect(sshd, forwarding, List.of("-fN", "-R", "127.0.0.1:1:127.0.0.1:9"), true);
                eperm[i] = f[0];
                exit[i] = f[1];
            }
            System.out.println("tunnel-hold runs=" + runs);
            print("plain ssh, tunnels allow (no hold): exec -> connect", baseConnect);
            print("plain ssh, tunnels deny (held, judged, resumed): exec -> connect", heldConnect);
            print("ssh -fN -R, tunnels deny: exec -> EPERM (denied connect)", eperm);
            print("ssh -fN -R, tunnels deny: exec -> exit", exit);
        }
    }

    /** One ssh run in cg: {exec -> first connect to sshd, exec -> exit} in ns, from the records. */
    private static long[] execToConnect(SshdFixture sshd, Path cg, List<String> extra, boolean denied) throws Exception {
        List<String> argv = new ArrayList<>(List.of("ssh"));
        argv.addAll(extra);
        argv.addAll(sshd.clientArgs());
        argv.add(sshd.destination());
        if (!denied) {
            argv.add("true");
        }
        KernelAgentExtension.Run run = KERNEL.runIn(cg, argv.toArray(String[]::new));
        int pid = run.pid();
        long id = KERNEL.cgroupId(cg);
        Event exec = KERNEL.await(e -> e.hasExec() && e.getProcess().getPid() == pid && e.getProcess().getCgroupId() == id,
                1, Duration.ofSeconds(10)).getFirst();
        Event connect = KERNEL.await(e -> e.hasConnect() && e.getProcess().getPid() == pid
                && e.getConnect().getPort() == sshd.port()
                && (e.getConnect().getVerdict() == Verdict.VERDICT_DENIED) == denied, 1, Duration.ofSeconds(10)).getFirst();
        Event exit = KERNEL.await(e -> e.hasExit() && e.getProcess().getPid() == pid && e.getProcess().getCgroupId() == id,
                1, Duration.ofSeconds(10)).getFirst();
        if (denied) {
            System.out.println("forwarding ssh exit: status " + run.exitStatus() + " signal " + exit.getExit().getSignalName());
        }
        return new long[] {connect.getMonotonicNs() - exec.getMonotonicNs(), exit.getMonotonicNs() - exec.getMonotonicNs()};
    }

    private static void print(String what, long[] ns) {
        long[] s = ns.clone();
        Arrays.sort(s);
        System.out.printf("%-70s p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms%n", what, s[s.length / 2] / 1e6,
                s[Math.min(s.length - 1, (int) Math.ceil(s.length * 0.99) - 1)] / 1e6, s[s.length - 1] / 1e6);
    }
}
