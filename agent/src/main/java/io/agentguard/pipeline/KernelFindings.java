package io.agentguard.pipeline;

import io.agentguard.event.Records;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.Priority;
import io.agentguard.proto.v1.RuleAction;
import io.agentguard.proto.v1.Violation;

import java.util.List;
import java.util.function.Function;

import static io.agentguard.abi.KernelAbi.*;

/**
 * Violations that the kernel's own decisions make, with no rule involved: a program killed by
 * the exec policy, a GPU call killed by the compute policy, a process going for the daemon.
 * A kill is a fact an operator must hear of even when no rule of theirs describes it, so the
 * consumer asks {@link #finding} for every record that no rule matched.
 *
 * <p>Findings are constants: asking costs no allocation; only a finding's violation is built.
 * Their rule names start with {@code "agentguard: "} and their source is {@code "kernel"}, so a
 * collector can tell them from rule matches.
 */
public final class KernelFindings {
    /** Where a finding's violation says it came from (Violation.rule_source). */
    public static final String SOURCE = "kernel";

    /** One kind of kernel-made violation. output renders the evidence event into one line. */
    public record Finding(String rule, Priority priority, RuleAction action, List<String> tags, String description,
                          Function<Event, String> output) {
    }

    static final Finding EXEC_KILLED = new Finding("agentguard: exec killed by policy", Priority.PRIORITY_CRITICAL,
            RuleAction.RULE_ACTION_KILL_PROCESS, List.of("agentguard", "enforcement", "exec"),
            "The exec policy denied this program; the kernel killed the process before it ran.",
            e -> "program denied by exec policy, killed before it ran: " + e.getExec().getFilename()
                    + " (pid " + e.getProcess().getPid() + ", cgroup " + e.getProcess().getCgroupPath() + ")");
    static final Finding EXEC_WOULD_KILL = new Finding("agentguard: exec denied by policy (monitor)",
            Priority.PRIORITY_WARNING, RuleAction.RULE_ACTION_NONE, List.of("agentguard", "monitor", "exec"),
            "The exec policy denies this program; in monitor mode it ran.",
            e -> "program denied by exec policy, would have been killed: " + e.getExec().getFilename()
                    + " (pid " + e.getProcess().getPid() + ", cgroup " + e.getProcess().getCgroupPath() + ")");
    static final Finding GPU_KILLED = new Finding("agentguard: GPU compute killed by policy", Priority.PRIORITY_CRITICAL,
            RuleAction.RULE_ACTION_KILL_PROCESS, List.of("agentguard", "enforcement", "gpu", "T1496.001"),
            "The compute policy denied this process a GPU compute context; the kernel killed it before the driver ran the call.",
            e -> "GPU compute context denied by policy, process killed: " + e.getGpu().getIoctl().getClassName()
                    + " by " + e.getProcess().getComm() + " (pid " + e.getProcess().getPid() + ", cgroup "
                    + e.getProcess().getCgroupPath() + ")");
    static final Finding GPU_WOULD_KILL = new Finding("agentguard: GPU compute denied by policy (monitor)",
            Priority.PRIORITY_WARNING, RuleAction.RULE_ACTION_NONE, List.of("agentguard", "monitor", "gpu", "T1496.001"),
            "The compute policy denies this process a GPU compute context; in monitor mode it got one.",
            e -> "GPU compute context denied by policy, would have been killed: " + e.getGpu().getIoctl().getClassName()
                    + " by " + e.getProcess().getComm() + " (pid " + e.getProcess().getPid() + ", cgroup "
                    + e.getProcess().getCgroupPath() + ")");
    static final Finding TAMPER_STOPPED = new Finding("agentguard: tampering with the agent stopped",
            Priority.PRIORITY_CRITICAL, RuleAction.RULE_ACTION_KILL_PROCESS, List.of("agentguard", "tamper", "T1562.001"),
            "A process in an agent cgroup went for the agentguard daemon; the kernel refused it or killed the sender.",
            e -> "tampering with the agent stopped: " + e.getTamper().getKind() + " " + e.getTamper().getSignalName()
                    + " from " + e.getProcess().getComm() + " (pid " + e.getProcess().getPid() + ", cgroup "
                    + e.getProcess().getCgroupPath() + ")");
    static final Finding TAMPER_SEEN = new Finding("agentguard: tampering with the agent", Priority.PRIORITY_CRITICAL,
            RuleAction.RULE_ACTION_NONE, List.of("agentguard", "tamper", "T1562.001"),
            "A process in an agent cgroup went for the agentguard daemon; self-protection only reported it.",
            e -> "tampering with the agent: " + e.getTamper().getKind() + " " + e.getTamper().getSignalName()
                    + " from " + e.getProcess().getComm() + " (pid " + e.getProcess().getPid() + ", cgroup "
                    + e.getProcess().getCgroupPath() + ")");

    /**
     * agentguard's own links, pins or maps were changed by someone else (root with bpftool,
     * another loader) and put back. Raised by the daemon's state checks (daemon.KernelStateVerifier),
     * off the consumer thread; the evidence is a STATE_DRIFT tamper event without a process.
     */
    public static final Finding STATE_DRIFT_REPAIRED = new Finding("agentguard: agent kernel state tampered with",
            Priority.PRIORITY_CRITICAL, RuleAction.RULE_ACTION_NONE, List.of("agentguard", "tamper", "T1562.001"),
            "agentguard's own BPF links, pins or maps differed from what it made; it put them back. Until then"
                    + " the changed object did not enforce what it should have.",
            e -> "agentguard kernel state tampered with: " + stateDrift(e));
    /** As {@link #STATE_DRIFT_REPAIRED}, where agentguard could not put it back (or must not: another tool's program). */
    public static final Finding STATE_DRIFT_UNREPAIRED = new Finding(
            "agentguard: agent kernel state tampered with, not repaired", Priority.PRIORITY_CRITICAL,
            RuleAction.RULE_ACTION_NONE, List.of("agentguard", "tamper", "T1562.001"),
            "agentguard's own BPF links, pins or maps differ from what it made, or another program is attached at an"
                    + " agent cgroup, and agentguard could not or would not put it back: look at the node.",
            e -> "agentguard kernel state tampered with, not repaired: " + stateDrift(e));

    private static String stateDrift(Event e) {
        var t = e.getTamper();
        return t.getObject() + " " + t.getObjectName() + ": " + t.getDrift() + (t.getRepaired() ? "; repaired: "
                : "; not repaired: ") + t.getRepair();
    }

    private KernelFindings() {
    }

    /** The finding a record no rule matched makes, or null: most records make none. */
    public static Finding finding(Records records) {
        return switch (records.type()) {
            case AG_REC_EXEC -> killOrWouldKill(records.exec.verdict(), EXEC_KILLED, EXEC_WOULD_KILL);
            case AG_REC_GPU_IOCTL -> killOrWouldKill(records.gpuIoctl.verdict(), GPU_KILLED, GPU_WOULD_KILL);
            case AG_REC_TAMPER -> records.tamper.verdict() == AG_VERDICT_DENIED ? TAMPER_STOPPED : TAMPER_SEEN;
            default -> null;
        };
    }

    private static Finding killOrWouldKill(int verdict, Finding killed, Finding wouldKill) {
        return switch (verdict) {
            case AG_VERDICT_DENIED -> killed;
            case AG_VERDICT_WOULD_BLOCK -> wouldKill;
            default -> null;
        };
    }

    /** A finding's violation with its evidence event (first) and the finding's own output line. */
    public static Violation.Builder violation(Finding finding, String output, Event evidence) {
        return Violation.newBuilder()
                .setTime(evidence.getTime())
                .setRule(finding.rule())
                .setPriority(finding.priority())
                .addAllTags(finding.tags())
                .setOutput(output)
                .setDescription(finding.description())
                .setAction(finding.action())
                .setProcess(evidence.getProcess())
                .setCgroupPath(evidence.getProcess().getCgroupPath())
                .addEvidence(evidence)
                .setRuleSource(SOURCE);
    }

    /** As {@link #violation(Finding, String, Event)}, with the finding's output rendered from the evidence. */
    public static Violation.Builder violation(Finding finding, Event evidence) {
        return violation(finding, finding.output().apply(evidence), evidence);
    }
}
