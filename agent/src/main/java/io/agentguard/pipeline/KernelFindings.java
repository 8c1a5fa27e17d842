package io.agentguard.pipeline;

import io.agentguard.event.Records;
import io.agentguard.proto.v1.BlockKind;
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
            e -> "program denied by exec policy (" + execWhy(e) + "), killed before it ran: " + e.getExec().getFilename() + where(e));
    static final Finding EXEC_WOULD_KILL = new Finding("agentguard: exec denied by policy (monitor)",
            Priority.PRIORITY_WARNING, RuleAction.RULE_ACTION_NONE, List.of("agentguard", "monitor", "exec"),
            "The exec policy denies this program; in monitor mode it ran.",
            e -> "program denied by exec policy (" + execWhy(e) + "), would have been killed: " + e.getExec().getFilename() + where(e));
    static final Finding EXEC_FILELESS = new Finding("agentguard: fileless exec", Priority.PRIORITY_WARNING,
            RuleAction.RULE_ACTION_NONE, List.of("agentguard", "exec", "fileless", "T1620"),
            "A program ran without a file name to judge it by (memfd, deleted file, or through a descriptor);"
                    + " exec.deny_fileless denies it.",
            e -> "fileless exec (" + execWhy(e) + "): " + e.getExec().getFilename() + where(e));
    /** Raised by the daemon's exec file checker, off the consumer thread (enforce.ExecFileChecker). */
    public static final Finding EXEC_KILLED_AFTER_START = new Finding("agentguard: exec killed by policy after it started",
            Priority.PRIORITY_CRITICAL, RuleAction.RULE_ACTION_KILL_PROCESS, List.of("agentguard", "enforcement", "exec"),
            "The exec policy denies this program by content or behind the dynamic loader, which the kernel cannot see;"
                    + " the daemon killed the process after it started.",
            e -> "program denied by exec policy (" + execWhy(e) + "), killed after it started: " + e.getExec().getFilename() + where(e));
    public static final Finding EXEC_DENIED_AFTER_START = new Finding("agentguard: exec denied by policy after it started (monitor)",
            Priority.PRIORITY_WARNING, RuleAction.RULE_ACTION_NONE, List.of("agentguard", "monitor", "exec"),
            "The exec policy denies this program by content or behind the dynamic loader; in monitor mode it runs.",
            e -> "program denied by exec policy (" + execWhy(e) + "), would have been killed: " + e.getExec().getFilename() + where(e));
    static final Finding GPU_KILLED = new Finding("agentguard: GPU compute killed by policy", Priority.PRIORITY_CRITICAL,
            RuleAction.RULE_ACTION_KILL_PROCESS, List.of("agentguard", "enforcement", "gpu", "T1496.001"),
            "The compute policy denied this process a GPU compute context; the kernel killed it before the driver ran the call.",
            e -> "GPU compute context denied by policy, process killed: " + e.getGpu().getIoctl().getClassName()
                    + " by " + e.getProcess().getComm() + where(e));
    static final Finding GPU_WOULD_KILL = new Finding("agentguard: GPU compute denied by policy (monitor)",
            Priority.PRIORITY_WARNING, RuleAction.RULE_ACTION_NONE, List.of("agentguard", "monitor", "gpu", "T1496.001"),
            "The compute policy denies this process a GPU compute context; in monitor mode it got one.",
            e -> "GPU compute context denied by policy, would have been killed: " + e.getGpu().getIoctl().getClassName()
                    + " by " + e.getProcess().getComm() + where(e));
    static final Finding TAMPER_STOPPED = new Finding("agentguard: tampering with the agent stopped",
            Priority.PRIORITY_CRITICAL, RuleAction.RULE_ACTION_KILL_PROCESS, List.of("agentguard", "tamper", "T1562.001"),
            "A process in an agent cgroup went for the agentguard daemon; the kernel refused it or killed the sender.",
            e -> "tampering with the agent stopped: " + e.getTamper().getKind() + " " + e.getTamper().getSignalName()
                    + " from " + e.getProcess().getComm() + where(e));
    static final Finding TAMPER_SEEN = new Finding("agentguard: tampering with the agent", Priority.PRIORITY_CRITICAL,
            RuleAction.RULE_ACTION_NONE, List.of("agentguard", "tamper", "T1562.001"),
            "A process in an agent cgroup went for the agentguard daemon; self-protection only reported it.",
            e -> "tampering with the agent: " + e.getTamper().getKind() + " " + e.getTamper().getSignalName()
                    + " from " + e.getProcess().getComm() + where(e));
    static final Finding TAMPER_FASYNC = new Finding("agentguard: tampering with the agent through file-async I/O",
            Priority.PRIORITY_CRITICAL, RuleAction.RULE_ACTION_NONE, List.of("agentguard", "tamper", "T1562.001"),
            "A signal reached the agentguard daemon through file-async I/O: someone set the daemon as the owner"
                    + " (F_SETOWN, F_SETSIG) of an O_ASYNC socket, pipe or tty, or of a file lease, and the daemon's own"
                    + " I/O on it sent the signal. The kernel cannot name who set the owner, so nobody was killed; a stop"
                    + " signal is undone, a SIGHUP's reload is refused (enforce), SIGKILL cannot be undone (systemd"
                    + " restarts the daemon). Under BPF LSM the signal is refused. Look for the agent process that"
                    + " connected to the daemon or leased a file it opens.",
            e -> "tampering with the agent: " + e.getTamper().getKind() + " " + e.getTamper().getSignalName()
                    + " sent through file-async I/O; sender unknown (signalled while " + e.getProcess().getComm()
                    + " [" + e.getProcess().getPid() + "] did I/O)" + (e.getTamper().getContinued() ? "; continued" : ""));

    static final Finding BLOCK_DEVICE_DENIED = new Finding("agentguard: block device open denied",
            Priority.PRIORITY_CRITICAL, RuleAction.RULE_ACTION_NONE, List.of("agentguard", "enforcement", "device", "T1006"),
            "A process in an agent cgroup opened (or made) a block device node: raw access to a disk writes under every"
                    + " read-only mount and around file permissions. The kernel refused it (EPERM).",
            e -> "block device " + e.getGpu().getMajor() + ":" + e.getGpu().getMinor() + " open denied: "
                    + e.getProcess().getComm() + where(e));
    static final Finding BLOCK_DEVICE_WOULD_DENY = new Finding("agentguard: block device open denied (monitor)",
            Priority.PRIORITY_WARNING, RuleAction.RULE_ACTION_NONE, List.of("agentguard", "monitor", "device", "T1006"),
            "A process in an agent cgroup opened (or made) a block device node; in monitor mode it got it.",
            e -> "block device " + e.getGpu().getMajor() + ":" + e.getGpu().getMinor() + " open, would have been denied: "
                    + e.getProcess().getComm() + where(e));

    static final Finding LEFT_SCOPE_KILLED = new Finding("agentguard: process left the agent cgroups",
            Priority.PRIORITY_CRITICAL, RuleAction.RULE_ACTION_KILL_PROCESS,
            List.of("agentguard", "enforcement", "scope", "T1562.001"),
            "A watched process was moved out of the agent cgroups (or created outside them by clone3); the kernel killed it.",
            e -> "process left the agent cgroups, killed: " + scopeText(e));
    static final Finding LEFT_SCOPE_FOLLOWED = new Finding("agentguard: process left the agent cgroups (monitor)",
            Priority.PRIORITY_CRITICAL, RuleAction.RULE_ACTION_NONE, List.of("agentguard", "monitor", "scope", "T1562.001"),
            "A watched process was moved out of the agent cgroups (or created outside them by clone3); in monitor mode it "
                    + "runs on, still followed by the exec, fork, exit, ioctl and signal hooks but no longer by the "
                    + "cgroup hooks (connect, device open).",
            e -> "process left the agent cgroups, still followed: " + scopeText(e));
    static final Finding EVENTS_LOST = new Finding("agentguard: events lost", Priority.PRIORITY_ERROR,
            RuleAction.RULE_ACTION_NONE, List.of("agentguard", "blind-spot"),
            "The kernel dropped records of this agent cgroup (its rate limit, or a full ring): the agent did not see "
                    + "everything it did. Enforcement in the kernel went on; denials and kills are never dropped in favour "
                    + "of ordinary records.",
            e -> "events lost for " + e.getLoss().getCgroupPath() + ": " + e.getLoss().getRateLimited()
                    + " over its rate limit, " + e.getLoss().getRingFull() + " to a full ring");
    static final Finding SOCKET_DENIED = new Finding("agentguard: raw socket denied", Priority.PRIORITY_CRITICAL,
            RuleAction.RULE_ACTION_NONE, List.of("agentguard", "enforcement", "network", "T1095"),
            "A process in an agent cgroup asked for a socket that egress policy cannot govern (raw IP, ping or packet);"
                    + " the kernel refused it (or killed the process before socket() returned).",
            e -> "socket egress policy cannot govern denied: " + socketText(e) + " by " + e.getProcess().getComm() + where(e));
    static final Finding SOCKET_WOULD_DENY = new Finding("agentguard: raw socket denied by policy (monitor)",
            Priority.PRIORITY_WARNING, RuleAction.RULE_ACTION_NONE, List.of("agentguard", "monitor", "network", "T1095"),
            "A process in an agent cgroup made a socket that egress policy cannot govern; in monitor mode it got it.",
            e -> "socket egress policy cannot govern, would have been denied: " + socketText(e) + " by "
                    + e.getProcess().getComm() + where(e));
    static final Finding SOCKET_ALLOWED = new Finding("agentguard: raw socket allowed by policy", Priority.PRIORITY_NOTICE,
            RuleAction.RULE_ACTION_NONE, List.of("agentguard", "network", "T1095"),
            "A process in an agent cgroup made a socket that egress policy cannot govern; its policy allows raw sockets"
                    + " (egress.raw_sockets: allow), so its traffic is not checked against the egress policy.",
            e -> "socket egress policy cannot govern, allowed by egress.raw_sockets: " + socketText(e) + " by "
                    + e.getProcess().getComm() + where(e));
    static final Finding UNIX_OUTSIDE_DENIED = new Finding("agentguard: unix connect outside the agent cgroups denied",
            Priority.PRIORITY_CRITICAL, RuleAction.RULE_ACTION_NONE, List.of("agentguard", "enforcement", "network", "T1090"),
            "A process in an agent cgroup connected to a Unix socket owned by a process outside the agent cgroups"
                    + " (a possible proxy around the egress policy); egress.unix_outside: deny refused it.",
            e -> "unix connect to an outside owner denied: " + unixText(e));
    /** Also raised off the consumer thread, when the owner is found after the connect. */
    public static final Finding UNIX_OUTSIDE = new Finding("agentguard: unix connect outside the agent cgroups",
            Priority.PRIORITY_WARNING, RuleAction.RULE_ACTION_NONE, List.of("agentguard", "network", "T1090"),
            "A process in an agent cgroup connected to a Unix socket owned by a process outside the agent cgroups:"
                    + " that process may carry traffic the egress policy denies.",
            e -> "unix connect to an outside owner: " + unixText(e));

    // ---- blocks: every record the kernel blocked (or would have, in monitor mode) is a violation ----

    static final Finding CONNECT_DENIED = new Finding("agentguard: connection denied by egress policy",
            Priority.PRIORITY_WARNING, RuleAction.RULE_ACTION_NONE, List.of("agentguard", "enforcement", "network"),
            "A process in an agent cgroup connected (or sent a datagram) to a destination its egress policy denies;"
                    + " the kernel refused it (EPERM). Repeats of the same process within report.aggregation_window_ms"
                    + " are counted into one summary.",
            e -> "connection denied by egress policy: " + connectText(e));
    static final Finding CONNECT_WOULD_DENY = new Finding("agentguard: connection denied by egress policy (monitor)",
            Priority.PRIORITY_WARNING, RuleAction.RULE_ACTION_NONE, List.of("agentguard", "monitor", "network"),
            "A process in an agent cgroup connected to a destination its egress policy denies; in monitor mode it went"
                    + " through.",
            e -> "connection the egress policy denies, would have been refused: " + connectText(e));
    static final Finding TUNNEL_CONNECT_DENIED = new Finding("agentguard: tunnel connection denied",
            Priority.PRIORITY_CRITICAL, RuleAction.RULE_ACTION_NONE,
            List.of("agentguard", "enforcement", "network", "tunnel", "T1572"),
            "A program judged to be a tunnel (SSH forwarding, a tunnel tool) connected to a destination the egress"
                    + " policy does not explicitly allow (egress.tunnels: deny); the kernel refused it, so the tunnel"
                    + " never came up.",
            e -> "tunnel connection denied: " + connectText(e));
    static final Finding TUNNEL_CONNECT_WOULD_DENY = new Finding("agentguard: tunnel connection denied (monitor)",
            Priority.PRIORITY_ERROR, RuleAction.RULE_ACTION_NONE,
            List.of("agentguard", "monitor", "network", "tunnel", "T1572"),
            "A program judged to be a tunnel connected to a destination the egress policy does not explicitly allow;"
                    + " in monitor mode it went through.",
            e -> "tunnel connection, would have been refused: " + connectText(e));
    static final Finding SHELL_CONNECT_DENIED = new Finding("agentguard: shell network connection denied",
            Priority.PRIORITY_CRITICAL, RuleAction.RULE_ACTION_NONE,
            List.of("agentguard", "enforcement", "network", "shell", "T1059.004"),
            "A shell connected out over the network itself (bash /dev/tcp redirections: a reverse shell) to a"
                    + " destination the egress policy does not explicitly allow (egress.shells: deny); the kernel"
                    + " refused it.",
            e -> "shell network connection denied: " + connectText(e));
    static final Finding SHELL_CONNECT_WOULD_DENY = new Finding("agentguard: shell network connection denied (monitor)",
            Priority.PRIORITY_ERROR, RuleAction.RULE_ACTION_NONE,
            List.of("agentguard", "monitor", "network", "shell", "T1059.004"),
            "A shell connected out over the network itself (a reverse shell); in monitor mode it went through.",
            e -> "shell network connection, would have been refused: " + connectText(e));
    static final Finding APP_PROTO_SSH_DENIED = new Finding(
            "agentguard: SSH from a program that is not a judged ssh client denied", Priority.PRIORITY_CRITICAL,
            RuleAction.RULE_ACTION_KILL_PROCESS, List.of("agentguard", "enforcement", "network", "tunnel", "T1572"),
            "A program that is not the host's ssh (a renamed copy, an SSH library such as paramiko or x/crypto/ssh)"
                    + " opened an SSH session to a destination the egress policy does not explicitly allow"
                    + " (egress.protocols: deny); the kernel dropped its banner, so no key exchange took place, and"
                    + " the daemon killed the process.",
            e -> "SSH client banner dropped, process killed: " + appProtoText(e));
    static final Finding APP_PROTO_SSH_WOULD_DENY = new Finding(
            "agentguard: SSH from a program that is not a judged ssh client denied (monitor)", Priority.PRIORITY_ERROR,
            RuleAction.RULE_ACTION_NONE, List.of("agentguard", "monitor", "network", "tunnel", "T1572"),
            "A program that is not the host's ssh opened an SSH session to a destination the egress policy does not"
                    + " explicitly allow; in monitor mode it went through.",
            e -> "SSH client banner, would have been dropped: " + appProtoText(e));
    static final Finding APP_PROTO_STRATUM_DENIED = new Finding("agentguard: mining pool protocol denied",
            Priority.PRIORITY_CRITICAL, RuleAction.RULE_ACTION_KILL_PROCESS,
            List.of("agentguard", "enforcement", "network", "mining", "T1496"),
            "A program spoke stratum (mining.subscribe / mining.authorize / mining.submit, or xmrig's login) to a"
                    + " destination the egress policy does not explicitly allow (egress.protocols: deny); the kernel"
                    + " dropped the request, so the pool never saw it, and the daemon killed the process.",
            e -> "mining pool request dropped, process killed: " + appProtoText(e));
    static final Finding APP_PROTO_STRATUM_WOULD_DENY = new Finding("agentguard: mining pool protocol denied (monitor)",
            Priority.PRIORITY_ERROR, RuleAction.RULE_ACTION_NONE, List.of("agentguard", "monitor", "network", "mining",
            "T1496"),
            "A program spoke stratum to a destination the egress policy does not explicitly allow; in monitor mode it"
                    + " went through.",
            e -> "mining pool request, would have been dropped: " + appProtoText(e));

    private static String appProtoText(Event e) {
        var a = e.getAppProto();
        StringBuilder b = new StringBuilder();
        b.append(a.getAddress().contains(":") ? "[" + a.getAddress() + "]" : a.getAddress()).append(':').append(a.getPort())
                .append(" by ").append(e.getProcess().getComm()).append(" (pid ").append(e.getProcess().getPid())
                .append(", cgroup ").append(e.getProcess().getCgroupPath()).append("), first bytes \"");
        for (byte c : a.getFirstBytes().toByteArray()) {
            b.append(c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? String.valueOf((char) c)
                    : String.format("\\x%02x", c & 0xff));
        }
        return b.append('"').toString();
    }

    static final Finding GPU_OPEN_DENIED = new Finding("agentguard: GPU device open denied", Priority.PRIORITY_WARNING,
            RuleAction.RULE_ACTION_NONE, List.of("agentguard", "enforcement", "gpu", "device"),
            "A process in an agent cgroup opened an NVIDIA device node its policy does not grant (gpu.devices);"
                    + " the kernel refused it (EPERM).",
            e -> "GPU device " + gpuDeviceText(e) + " open denied: " + e.getProcess().getComm() + where(e));
    static final Finding GPU_OPEN_WOULD_DENY = new Finding("agentguard: GPU device open denied (monitor)",
            Priority.PRIORITY_WARNING, RuleAction.RULE_ACTION_NONE, List.of("agentguard", "monitor", "gpu", "device"),
            "A process in an agent cgroup opened an NVIDIA device node its policy does not grant; in monitor mode it"
                    + " got it.",
            e -> "GPU device " + gpuDeviceText(e) + " open, would have been denied: " + e.getProcess().getComm() + where(e));
    static final Finding SOCKET_SHELL_KILLED = new Finding("agentguard: shell on a network socket killed",
            Priority.PRIORITY_CRITICAL, RuleAction.RULE_ACTION_KILL_PROCESS,
            List.of("agentguard", "enforcement", "reverse-shell", "T1059.004"),
            "A process in an agent cgroup put a remote network socket on its stdin/stdout (dup2 onto 0-2, or exec or"
                    + " fork with one there): a shell served over the network (nc -e, python/perl socket + dup2, bash"
                    + " >& /dev/tcp). exec.deny_socket_shell: the kernel killed it before it ran on.",
            e -> "shell on a network socket, killed: " + socketShellText(e));
    static final Finding SOCKET_SHELL_WOULD_KILL = new Finding("agentguard: shell on a network socket (monitor)",
            Priority.PRIORITY_WARNING, RuleAction.RULE_ACTION_NONE,
            List.of("agentguard", "monitor", "reverse-shell", "T1059.004"),
            "A process in an agent cgroup put a remote network socket on its stdin/stdout; exec.deny_socket_shell kills"
                    + " it in enforce mode.",
            e -> "shell on a network socket, would have been killed: " + socketShellText(e));

    /** Raised by the daemon's miner argument check, off the consumer thread (enforce.MinerArgsChecker). */
    public static final Finding MINER_ARGS_KILLED = new Finding("agentguard: miner arguments beyond the exec record",
            Priority.PRIORITY_CRITICAL, RuleAction.RULE_ACTION_KILL_PROCESS,
            List.of("agentguard", "enforcement", "mining", "T1496"),
            "A program in an agent cgroup ran with cryptominer arguments (pool URL, --donate-level, a proof-of-work"
                    + " algorithm, a wallet) past the part of its argv the exec record carries (exec.max_args_bytes);"
                    + " the daemon read its whole command line and killed it.",
            e -> "miner arguments beyond the exec record, killed: " + e.getExec().getFilename() + where(e));
    public static final Finding MINER_ARGS_SEEN = new Finding("agentguard: miner arguments beyond the exec record (monitor)",
            Priority.PRIORITY_ERROR, RuleAction.RULE_ACTION_NONE, List.of("agentguard", "monitor", "mining", "T1496"),
            "A program in an agent cgroup ran with cryptominer arguments past the part of its argv the exec record"
                    + " carries; in monitor mode it runs.",
            e -> "miner arguments beyond the exec record, would have been killed: " + e.getExec().getFilename() + where(e));

    private static String socketShellText(Event e) {
        if (e.hasExec()) {
            return "exec of " + e.getExec().getFilename() + " with a network socket as stdin/stdout" + where(e);
        }
        var s = e.getStdioSocket();
        String how = switch (s.getHow()) {
            case STDIO_HOW_FORK -> "fork with fd " + s.getFd() + " on";
            default -> s.getHow().name().replace("STDIO_HOW_", "").toLowerCase() + "(" + s.getSourceFd() + ", "
                    + s.getFd() + ") of";
        };
        return how + " a " + (s.getProtocol() == 17 ? "UDP" : "TCP") + " socket to " + s.getPeerAddr() + ":"
                + s.getPeerPort() + " by " + e.getProcess().getComm() + where(e);
    }

    /** Raised by the daemon on a reload (SIGHUP, changed rule files); the evidence is a ReloadEvent. */
    public static final Finding ENFORCEMENT_WEAKENED = new Finding("agentguard: enforcement weakened by reload",
            Priority.PRIORITY_CRITICAL, RuleAction.RULE_ACTION_NONE, List.of("agentguard", "tamper", "config", "T1562.001"),
            "A reload took away enforcement or detection (monitor instead of enforce, a policy or its denials removed,"
                    + " rules removed or disarmed). It is in force: an operator may have meant it, an agent that could"
                    + " write the configuration may have done it. Confirm who changed the files.",
            e -> "reload (" + e.getReload().getTrigger() + ") weakened the " + e.getReload().getWhat() + ": "
                    + String.join("; ", e.getReload().getWeakenedList()));
    /**
     * An event ran out of the classifier's per-event budget (classifier.budget_per_event):
     * the rules after the one it stopped at were not evaluated for it. Raised at most once per
     * classifier.budget_report_interval_ms; the output counts the events in between.
     */
    public static final Finding CLASSIFICATION_BUDGET_EXCEEDED = new Finding(
            "agentguard: classification budget exceeded", Priority.PRIORITY_ERROR, RuleAction.RULE_ACTION_NONE,
            List.of("agentguard", "classifier", "T1562"),
            "An event needed more matching work than classifier.budget_per_event allows (long fields against many"
                    + " string or regex terms); the classifier stopped on it, so rules may not have been evaluated for"
                    + " it. Hostile input can aim for this; a rule set that needs more can raise the budget.",
            e -> "classification budget exceeded" + where(e));

    /** " (pid N, cgroup PATH)": where an event's process is. */
    private static String where(Event e) {
        return " (pid " + e.getProcess().getPid() + ", cgroup " + e.getProcess().getCgroupPath() + ")";
    }

    private static String connectText(Event e) {
        var c = e.getConnect();
        String dest = c.getUnixPath().isEmpty() ? c.getAddress() + " port " + c.getPort() : c.getUnixPath();
        return dest + " by " + e.getProcess().getComm() + where(e);
    }

    private static String gpuDeviceText(Event e) {
        var g = e.getGpu();
        String role = g.getRole().name().replace("DEVICE_ROLE_", "").toLowerCase();
        return role + (g.getRole() == io.agentguard.proto.v1.DeviceRole.DEVICE_ROLE_GPU ? " " + g.getGpuIndex() : "")
                + " (" + g.getMajor() + ":" + g.getMinor() + ")";
    }

    private static String scopeText(Event e) {
        var scope = e.getScope();
        return "pid " + scope.getTaskPid() + " from " + scope.getOriginCgroupPath() + " to " + scope.getDestCgroupPath()
                + " by " + e.getProcess().getComm() + " (pid " + e.getProcess().getPid() + ", "
                + scope.getHow().name().replace("SCOPE_EXIT_", "").toLowerCase() + ")";
    }

    private static String socketText(Event e) {
        var s = e.getSocket();
        return s.getFamily().name().replace("ADDRESS_FAMILY_", "").toLowerCase() + " "
                + s.getSocketType().name().replace("SOCKET_TYPE_", "").toLowerCase() + " protocol " + s.getProtocol();
    }

    private static String unixText(Event e) {
        var c = e.getConnect();
        var o = c.getUnixOutsideOwner();
        return c.getUnixPath() + " by " + e.getProcess().getComm() + " (pid " + e.getProcess().getPid() + ", cgroup "
                + e.getProcess().getCgroupPath() + "), listener " + o.getComm() + " (pid " + o.getPid() + ", uid "
                + o.getUid() + ", cgroup " + (o.getCgroupPath().isEmpty() ? "id " + o.getCgroupId() : o.getCgroupPath())
                + ")" + (o.getFoundAfter() ? ", found after the connect" : "");
    }

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
        var t = e.getTamper();   // one format for the log line and the violation
        return new io.agentguard.bpf.StateDrift(t.getObject(), t.getObjectName(), t.getDrift(), t.getRepaired(),
                t.getRepair()).toString();
    }

    private KernelFindings() {
    }

    /** The finding a record no rule matched makes, or null: most records make none. */
    public static Finding finding(Records records) {
        return switch (records.type()) {
            case AG_REC_EXEC -> records.exec.verdict() == AG_VERDICT_ALLOWED
                    ? (records.exec.fileless() && !records.exec.failed() ? EXEC_FILELESS : null)
                    // the exec policy decides first; a verdict it did not make is the socket-as-stdio check's
                    : records.exec.stdioSocket() && records.exec.match() == AG_EXEC_MATCH_NONE
                    ? killOrWouldKill(records.exec.verdict(), SOCKET_SHELL_KILLED, SOCKET_SHELL_WOULD_KILL)
                    : killOrWouldKill(records.exec.verdict(), EXEC_KILLED, EXEC_WOULD_KILL);
            case AG_REC_STDIO_SOCKET -> killOrWouldKill(records.stdioSocket.verdict(), SOCKET_SHELL_KILLED,
                    SOCKET_SHELL_WOULD_KILL);
            case AG_REC_APP_PROTO -> records.appProto.ssh()
                    ? killOrWouldKill(records.appProto.verdict(), APP_PROTO_SSH_DENIED, APP_PROTO_SSH_WOULD_DENY)
                    : killOrWouldKill(records.appProto.verdict(), APP_PROTO_STRATUM_DENIED, APP_PROTO_STRATUM_WOULD_DENY);
            case AG_REC_GPU_IOCTL -> killOrWouldKill(records.gpuIoctl.verdict(), GPU_KILLED, GPU_WOULD_KILL);
            case AG_REC_GPU_OPEN -> records.gpuOpen.role() == AG_DEV_BLOCK
                    ? killOrWouldKill(records.gpuOpen.verdict(), BLOCK_DEVICE_DENIED, BLOCK_DEVICE_WOULD_DENY)
                    : killOrWouldKill(records.gpuOpen.verdict(), GPU_OPEN_DENIED, GPU_OPEN_WOULD_DENY);
            case AG_REC_TAMPER -> records.tamper.fasync() ? TAMPER_FASYNC
                    : records.tamper.verdict() == AG_VERDICT_DENIED ? TAMPER_STOPPED : TAMPER_SEEN;
            case AG_REC_SCOPE -> switch (records.scope.verdict()) {
                case AG_VERDICT_DENIED -> LEFT_SCOPE_KILLED;
                case AG_VERDICT_WOULD_BLOCK -> LEFT_SCOPE_FOLLOWED;
                default -> null;   // moved out by the host: released, an event
            };
            // every such socket is a finding, allowed ones included: their traffic escapes the egress policy
            case AG_REC_SOCKET -> switch (records.socket.verdict()) {
                case AG_VERDICT_DENIED -> SOCKET_DENIED;
                case AG_VERDICT_WOULD_BLOCK -> SOCKET_WOULD_DENY;
                default -> SOCKET_ALLOWED;
            };
            case AG_REC_CONNECT -> records.connect.unixOutside()
                    ? (records.connect.verdict() == AG_VERDICT_DENIED ? UNIX_OUTSIDE_DENIED : UNIX_OUTSIDE)
                    : records.connect.tunnel()
                    ? killOrWouldKill(records.connect.verdict(), TUNNEL_CONNECT_DENIED, TUNNEL_CONNECT_WOULD_DENY)
                    : records.connect.shell()
                    ? killOrWouldKill(records.connect.verdict(), SHELL_CONNECT_DENIED, SHELL_CONNECT_WOULD_DENY)
                    : killOrWouldKill(records.connect.verdict(), CONNECT_DENIED, CONNECT_WOULD_DENY);
            default -> null;
        };
    }

    /**
     * What the kernel blocked in this record (a BlockKind number), or 0: nothing was blocked,
     * not even in monitor mode. {@link #blockVerdict} tells a block from a would-block. A switch
     * on the record's fields: no allocation, asked for every record.
     */
    public static int blockKind(Records records) {
        if (blockVerdict(records) == AG_VERDICT_ALLOWED) {
            return 0;
        }
        return switch (records.type()) {
            case AG_REC_EXEC -> BlockKind.BLOCK_KIND_EXEC_VALUE;
            case AG_REC_CONNECT -> records.connect.unixOutside() ? BlockKind.BLOCK_KIND_UNIX_OUTSIDE_VALUE
                    : records.connect.tunnel() ? BlockKind.BLOCK_KIND_TUNNEL_CONNECT_VALUE
                    : records.connect.shell() ? BlockKind.BLOCK_KIND_SHELL_CONNECT_VALUE
                    : BlockKind.BLOCK_KIND_CONNECT_VALUE;
            case AG_REC_GPU_OPEN -> records.gpuOpen.role() == AG_DEV_BLOCK ? BlockKind.BLOCK_KIND_BLOCK_DEVICE_VALUE
                    : BlockKind.BLOCK_KIND_GPU_OPEN_VALUE;
            case AG_REC_GPU_IOCTL -> BlockKind.BLOCK_KIND_GPU_COMPUTE_VALUE;
            case AG_REC_SOCKET -> BlockKind.BLOCK_KIND_SOCKET_VALUE;
            case AG_REC_SCOPE -> BlockKind.BLOCK_KIND_SCOPE_VALUE;
            case AG_REC_TAMPER -> BlockKind.BLOCK_KIND_TAMPER_VALUE;
            case AG_REC_STDIO_SOCKET -> BlockKind.BLOCK_KIND_EXEC_VALUE;
            case AG_REC_APP_PROTO -> records.appProto.ssh() ? BlockKind.BLOCK_KIND_TUNNEL_CONNECT_VALUE
                    : BlockKind.BLOCK_KIND_CONNECT_VALUE;
            default -> 0;
        };
    }

    /** The record's verdict: AG_VERDICT_DENIED, AG_VERDICT_WOULD_BLOCK, or AG_VERDICT_ALLOWED (also for records without one). */
    public static int blockVerdict(Records records) {
        int v = switch (records.type()) {
            case AG_REC_EXEC -> records.exec.verdict();
            case AG_REC_CONNECT -> records.connect.verdict();
            case AG_REC_GPU_OPEN -> records.gpuOpen.verdict();
            case AG_REC_GPU_IOCTL -> records.gpuIoctl.verdict();
            case AG_REC_SOCKET -> records.socket.verdict();
            case AG_REC_SCOPE -> records.scope.verdict();
            case AG_REC_TAMPER -> records.tamper.verdict();
            case AG_REC_STDIO_SOCKET -> records.stdioSocket.verdict();
            case AG_REC_APP_PROTO -> records.appProto.verdict();
            default -> AG_VERDICT_ALLOWED;
        };
        return v == AG_VERDICT_DENIED || v == AG_VERDICT_WOULD_BLOCK ? v : AG_VERDICT_ALLOWED;
    }

    /** What matched and what was run: "identity 252:1 inode 1234", "name", "memfd", ... */
    static String execWhy(Event e) {
        io.agentguard.proto.v1.ExecEvent x = e.getExec();
        StringBuilder b = new StringBuilder();
        switch (x.getDenyMatch()) {
            case EXEC_DENY_MATCH_IDENTITY -> b.append("file identity");
            case EXEC_DENY_MATCH_NAME -> b.append("name");
            case EXEC_DENY_MATCH_PATH -> b.append("path");
            case EXEC_DENY_MATCH_LOADER -> b.append("dynamic loader run directly");
            case EXEC_DENY_MATCH_FILELESS -> b.append("fileless");
            case EXEC_DENY_MATCH_SHA256 -> b.append("sha256 ").append(x.getSha256());
            default -> {
            }
        }
        if (!x.getProgram().isEmpty()) {
            b.append(b.isEmpty() ? "" : ", ").append("loader running ").append(x.getProgram());
        }
        if (x.getMemfd()) {
            b.append(b.isEmpty() ? "" : ", ").append("memfd");
        } else if (x.getUnlinked()) {
            b.append(b.isEmpty() ? "" : ", ").append("deleted file");
        }
        if (x.getByFd()) {
            b.append(b.isEmpty() ? "" : ", ").append("by descriptor");
        }
        if (x.getInode() != 0) {
            b.append(b.isEmpty() ? "" : ", ").append("dev ").append(x.getDevMajor()).append(':').append(x.getDevMinor())
                    .append(" inode ").append(x.getInode());
        }
        return b.toString();
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
        Violation.Builder v = Violation.newBuilder()
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
        if (evidence.getProcess().hasWorkload()) {
            v.setWorkload(evidence.getProcess().getWorkload());
        }
        return v;
    }

    /** As {@link #violation(Finding, String, Event)}, with the finding's output rendered from the evidence. */
    public static Violation.Builder violation(Finding finding, Event evidence) {
        return violation(finding, finding.output().apply(evidence), evidence);
    }
}
