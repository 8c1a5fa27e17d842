package io.agentguard.output;

import io.agentguard.proto.v1.ConnectEvent;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.GpuEvent;
import io.agentguard.proto.v1.GpuIoctl;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;

/**
 * One readable line per event, for people watching a terminal. What the watched processes
 * chose (arguments, file names, comm, paths) may hold newlines and terminal escapes: every
 * control character is written as \xNN, so that no argument can forge a line or drive the
 * terminal.
 */
public final class TextFormatter {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss.SSS").withZone(ZoneOffset.UTC);

    private TextFormatter() {
    }

    public static String format(Event e) {
        StringBuilder sb = new StringBuilder();
        append(e, sb);
        return sb.toString();
    }

    public static String format(io.agentguard.proto.v1.Violation v) {
        StringBuilder sb = new StringBuilder();
        append(v, sb);
        return sb.toString();
    }

    public static void append(io.agentguard.proto.v1.Violation v, StringBuilder sb) {
        int start = sb.length();
        appendRaw(v, sb);
        escapeControls(sb, start);
    }

    public static void append(Event e, StringBuilder sb) {
        int start = sb.length();
        appendRaw(e, sb);
        escapeControls(sb, start);
    }

    /** C0 controls and DEL from start on, as \xNN. */
    static void escapeControls(StringBuilder sb, int start) {
        for (int i = start; i < sb.length(); i++) {
            char c = sb.charAt(i);
            if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0)) {
                String hex = String.format("\\x%02x", (int) c);
                sb.replace(i, i + 1, hex);
                i += hex.length() - 1;
            }
        }
    }

    private static void appendRaw(io.agentguard.proto.v1.Violation v, StringBuilder sb) {
        sb.append(TIME.format(Instant.ofEpochSecond(v.getTime().getSeconds(), v.getTime().getNanos())))
                .append(" VIOLATION ").append(v.getPriority().name().replace("PRIORITY_", ""))
                .append(" [").append(v.getRule()).append("] ").append(v.getOutput());
        if (!v.getTagsList().isEmpty()) {
            sb.append("  tags=").append(String.join(",", v.getTagsList()));
        }
        if (v.hasWorkload()) {
            workload(v.getWorkload(), sb);
        }
    }

    private static void verdict(io.agentguard.proto.v1.Verdict v, StringBuilder sb) {
        switch (v) {
            case VERDICT_DENIED -> sb.append("  DENIED");
            case VERDICT_WOULD_BLOCK -> sb.append("  WOULD-BLOCK");
            default -> {
            }
        }
    }

    private static void appendRaw(Event e, StringBuilder sb) {
        var p = e.getProcess();
        sb.append(TIME.format(Instant.ofEpochSecond(e.getTime().getSeconds(), e.getTime().getNanos())))
                .append(' ').append(p.getComm()).append('[').append(p.getPid()).append("] ");
        switch (e.getKindCase()) {
            case EXEC -> {
                var x = e.getExec();
                sb.append("exec ").append(x.getFilename()).append(" ").append(String.join(" ", x.getArgsList()));
                if (x.getArgsTruncated()) {
                    sb.append(" …(truncated)");
                }
                if (!x.getSuccess()) {
                    sb.append("  FAILED (").append(x.getErrorName()).append(')');
                }
                if (x.getHeld()) {
                    sb.append("  HELD for the tunnel judge");
                }
                verdict(x.getVerdict(), sb);
            }
            case FORK -> sb.append("fork child=").append(e.getFork().getChildPid());
            case EXIT -> {
                var x = e.getExit();
                sb.append("exit ").append(x.getSignal() != 0 ? "signal=" + x.getSignalName() : "code=" + x.getExitCode());
            }
            case CONNECT -> {
                ConnectEvent c = e.getConnect();
                sb.append("connect ");
                if (c.getUnixPath().isEmpty()) {
                    sb.append(c.getFamily() == io.agentguard.proto.v1.AddressFamily.ADDRESS_FAMILY_INET6
                            ? "[" + c.getAddress() + "]" : c.getAddress()).append(':').append(c.getPort());
                } else {
                    sb.append("unix:").append(c.getUnixPath());
                }
                sb.append(' ').append(c.getSocketType().name().replace("SOCKET_TYPE_", "").toLowerCase())
                        .append(' ').append(c.getOutcome().name().replace("CONNECT_OUTCOME_", "").toLowerCase());
                if (!c.getErrorName().isEmpty()) {
                    sb.append(" (").append(c.getErrorName()).append(')');
                }
                if (c.getSendmsg()) {
                    sb.append(" sendto");
                }
                if (c.hasUnixOutsideOwner()) {
                    var o = c.getUnixOutsideOwner();
                    sb.append(" OUTSIDE-OWNER ").append(o.getComm()).append('[').append(o.getPid()).append("] uid=")
                            .append(o.getUid()).append(" cgroup=").append(o.getCgroupPath());
                }
                verdict(c.getVerdict(), sb);
            }
            case GPU -> {
                GpuEvent g = e.getGpu();
                sb.append(g.getRole() == io.agentguard.proto.v1.DeviceRole.DEVICE_ROLE_BLOCK
                        ? "device block " + g.getMajor() + ":" + g.getMinor()
                        : "gpu " + g.getRole().name().replace("DEVICE_ROLE_", "").toLowerCase());
                if (g.getRole() == io.agentguard.proto.v1.DeviceRole.DEVICE_ROLE_GPU) {
                    sb.append(g.getGpuIndex());
                }
                if (g.hasOpen()) {
                    sb.append(" open");
                    verdict(g.getOpen().getVerdict(), sb);
                } else {
                    GpuIoctl i = g.getIoctl();
                    sb.append(' ').append(i.getName());
                    if (i.getAllocClass() != 0) {
                        sb.append(' ').append(i.getClassName());
                    }
                    if (i.getControlId() != 0) {
                        sb.append(String.format(" control=0x%08x", i.getControlId()));
                    }
                    if (i.getAllocSizeBytes() != 0) {
                        sb.append(" size=").append(i.getAllocSizeBytes());
                    }
                    if (i.getComputeContext()) {
                        sb.append(" COMPUTE-CONTEXT");
                    }
                    verdict(i.getVerdict(), sb);
                }
            }
            case TAMPER -> {
                var t = e.getTamper();
                sb.append("TAMPER ").append(t.getKind().name().replace("TAMPER_KIND_", "").toLowerCase());
                if (t.getKind() == io.agentguard.proto.v1.TamperKind.TAMPER_KIND_STATE_DRIFT) {
                    sb.append(' ').append(t.getObject()).append(' ').append(t.getObjectName()).append(": ")
                            .append(t.getDrift()).append(t.getRepaired() ? " REPAIRED: " : " NOT REPAIRED: ")
                            .append(t.getRepair());
                } else {
                    sb.append(" ").append(t.getSignalName()).append(" -> agentguard[").append(t.getTargetPid()).append(']');
                    if (t.getFasync()) {
                        sb.append(" sent through file-async I/O; sender unknown");
                    }
                    verdict(t.getVerdict(), sb);
                }
            }
            case SOCKET -> {
                var k = e.getSocket();
                sb.append("socket ").append(k.getFamily().name().replace("ADDRESS_FAMILY_", "").toLowerCase()).append(' ')
                        .append(k.getSocketType().name().replace("SOCKET_TYPE_", "").toLowerCase())
                        .append(" protocol=").append(k.getProtocol());
                verdict(k.getVerdict(), sb);
            }
            case STDIO_SOCKET -> {
                var k = e.getStdioSocket();
                sb.append("STDIO-SOCKET ").append(k.getHow().name().replace("STDIO_HOW_", "").toLowerCase())
                        .append(" fd=").append(k.getFd()).append(" peer=").append(k.getPeerAddr()).append(':')
                        .append(k.getPeerPort());
                verdict(k.getVerdict(), sb);
            }
            case APP_PROTO -> {
                var k = e.getAppProto();
                sb.append("APP-PROTO ").append(k.getProto().name().replace("APP_PROTO_", "").toLowerCase())
                        .append(' ').append(k.getAddress()).append(':').append(k.getPort()).append(" first=\"");
                for (byte b : k.getFirstBytes().toByteArray()) {
                    sb.append(b >= 0x20 && b < 0x7f && b != '"' && b != '\\' ? String.valueOf((char) b)
                            : String.format("\\x%02x", b & 0xff));
                }
                sb.append('"');
                verdict(k.getVerdict(), sb);
            }
            case SCOPE -> {
                var s = e.getScope();
                sb.append("LEFT-SCOPE ").append(s.getHow().name().replace("SCOPE_EXIT_", "").toLowerCase())
                        .append(" pid=").append(s.getTaskPid()).append(' ').append(s.getOriginCgroupPath())
                        .append(" -> ").append(s.getDestCgroupPath());
                verdict(s.getVerdict(), sb);
            }
            case LOSS -> {
                var l = e.getLoss();
                sb.append("LOST ").append(l.getRateLimited()).append(" rate-limited, ").append(l.getRingFull())
                        .append(" ring-full records of ").append(l.getCgroupPath());
            }
            case ACTION -> {
                var a = e.getAction();
                sb.append("ACTION ").append(a.getKind().name().replace("RULE_ACTION_KIND_", "").toLowerCase())
                        .append(" [").append(a.getRule()).append("] ").append(a.getResult());
                if (!a.getDestination().isEmpty()) {
                    sb.append(' ').append(a.getDestination()).append(':').append(a.getPort());
                }
                verdict(a.getVerdict(), sb);
            }
            case RELOAD -> {
                var r = e.getReload();
                sb.append("RELOAD ").append(r.getWhat()).append(" (").append(r.getTrigger()).append(") weakened: ")
                        .append(String.join("; ", r.getWeakenedList()));
            }
            default -> sb.append("?");
        }
        sb.append("  cgroup=").append(p.getCgroupPath());
        if (p.hasWorkload()) {
            workload(p.getWorkload(), sb);
        }
    }

    /** The workload briefly: container=SHORTID (name), pod=NS/NAME or UID, job=J.S, else unit=U. */
    static void workload(io.agentguard.proto.v1.Workload w, StringBuilder sb) {
        if (!w.getContainerId().isEmpty()) {
            sb.append(" container=").append(w.getContainerId(), 0, Math.min(12, w.getContainerId().length()));
            if (!w.getContainerName().isEmpty()) {
                sb.append(" (").append(w.getContainerName()).append(')');
            }
        }
        if (!w.getPodUid().isEmpty()) {
            sb.append(" pod=");
            if (!w.getPodName().isEmpty()) {
                sb.append(w.getPodNamespace().isEmpty() ? "" : w.getPodNamespace() + "/").append(w.getPodName());
            } else {
                sb.append(w.getPodUid());
            }
        }
        if (!w.getJobId().isEmpty()) {
            sb.append(" job=").append(w.getJobId());
            if (!w.getStepId().isEmpty()) {
                sb.append('.').append(w.getStepId());
            }
        }
        if (w.getContainerId().isEmpty() && w.getPodUid().isEmpty() && w.getJobId().isEmpty() && !w.getUnit().isEmpty()) {
            sb.append(" unit=").append(w.getUnit());
        }
    }
}
