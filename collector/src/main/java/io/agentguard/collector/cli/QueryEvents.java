package io.agentguard.collector.cli;

import com.google.protobuf.util.JsonFormat;
import io.agentguard.collector.store.JdbcStore;
import io.agentguard.collector.store.RecordFilter;
import io.agentguard.proto.v1.ConnectEvent;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.ExecEvent;
import io.agentguard.proto.v1.FollowItem;
import io.agentguard.proto.v1.GpuEvent;
import io.agentguard.proto.v1.ProcessInfo;
import io.agentguard.proto.v1.Verdict;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;

import static io.agentguard.collector.cli.QueryOptions.BAD_INPUT;
import static io.agentguard.collector.cli.QueryOptions.TIME;
import static io.agentguard.collector.cli.QueryOptions.quote;

/** agentguard-collector query events: the events agents sent (report.events: true), decoded. */
@Command(name = "events", mixinStandardHelpOptions = true,
        description = "Prints stored events (agents send them with report.events: true), decoded, oldest first: one line"
                + " each (time, node, type, pid, comm, workload or cgroup, and what happened), or JSON lines.")
public final class QueryEvents implements Callable<Integer> {
    @Mixin
    QueryOptions options;

    @Mixin
    QueryOptions.Follow follow;

    @Mixin
    QueryOptions.Workload workload;

    @Option(names = "--type", paramLabel = "TYPE", description = "only this kind of event: exec, fork, exit, connect,"
            + " gpu, tamper, action, scope, loss, socket, posture, reload, stdio_socket, app_proto")
    String type;

    @Option(names = "--pid", description = "only this process id")
    int pid;

    @Option(names = "--cgroup", paramLabel = "PATH", description = "only under this cgroup path (whole components:"
            + " /a/b holds /a/b and /a/b/c, not /a/bc)")
    String cgroup;

    @Option(names = "--since", paramLabel = "DURATION", description = "only events of the last DURATION (2w, 3d12h, 90s)")
    String since;

    @Option(names = "--until", paramLabel = "DURATION", description = "only events older than DURATION ago")
    String until;

    @Override
    public Integer call() throws Exception {
        RecordFilter filter;
        try {
            filter = new RecordFilter(workload.node, null, 0, QueryOptions.lower(workload.container), workload.pod,
                    workload.job, workload.unit, cgroup,
                    type == null ? null : RecordFilter.type(type), pid, QueryOptions.ago("--since", since),
                    QueryOptions.ago("--until", until));
        } catch (IllegalArgumentException e) {
            System.err.println("agentguard-collector: " + (e.getMessage().startsWith("a container") ? "--container: "
                    : e.getMessage().startsWith("unknown event type") ? "--type: " : "") + e.getMessage());
            return BAD_INPUT;
        }
        JsonFormat.Printer printer = JsonFormat.printer().omittingInsignificantWhitespace();
        try (JdbcStore store = options.open()) {
            if (store == null) {
                return BAD_INPUT;
            }
            try (QueryOptions.Subscription sub = follow.follow ? new QueryOptions.Subscription(follow.collector,
                    filter.toRequest().setEvents(true).build()) : null) {
                if (!options.json) {
                    System.out.printf("%-23s %-16s %-8s %-7s %-15s %-28s %s%n", "TIME", "NODE", "TYPE", "PID", "COMM",
                            "WORKLOAD", "WHAT");
                }
                Set<String> recent = new HashSet<>();
                long after = 0;
                while (true) {
                    List<JdbcStore.StoredEvent> rows = store.events(filter, after, options.limit);
                    for (JdbcStore.StoredEvent r : rows) {
                        print(printer, r.node(), r.epoch(), r.sequence(), r.event());
                        if (sub != null && r.receivedAt().toEpochMilli() >= sub.subscribedAt.toEpochMilli()
                                - QueryOptions.DEDUP_WINDOW_MS) {
                            recent.add(r.node() + "/" + r.epoch() + "/" + r.sequence());
                        }
                    }
                    after = store.lastQueryMaxId();
                    if (sub == null || rows.size() < options.limit) {
                        break;
                    }
                }
                System.out.flush();
                if (sub == null) {
                    return 0;
                }
                for (FollowItem item = sub.next(); item != null; item = sub.next()) {
                    if (item.getSkipped() > 0) {
                        System.out.println(options.json ? "{\"skipped\":" + item.getSkipped() + "}"
                                : "... " + item.getSkipped() + " records skipped (this follower fell behind the collector)");
                    }
                    if (item.hasRecord() && item.getRecord().hasEvent()
                            && !recent.remove(item.getNode() + "/" + item.getEpoch() + "/" + item.getRecord().getSequence())) {
                        print(printer, item.getNode(), item.getEpoch(), item.getRecord().getSequence(),
                                item.getRecord().getEvent());
                    }
                    System.out.flush();
                }
                System.err.println("agentguard-collector: the collector ended the follow (it stopped?)");
                return 1;
            }
        }
    }

    private void print(JsonFormat.Printer printer, String node, String epoch, long sequence, Event e) throws Exception {
        if (options.json) {
            String body = printer.print(e);
            System.out.println("{\"node\":" + quote(node) + ",\"epoch\":\"" + epoch + "\",\"sequence\":" + sequence
                    + (body.length() > 2 ? "," + body.substring(1) : "}"));
        } else {
            System.out.println(line(node, e));
        }
    }

    /** One readable line: time, node, type, pid, comm, workload (else cgroup), and the gist of what happened. */
    static String line(String node, Event e) {
        ProcessInfo p = e.getProcess();
        String where = ViolationsQuery.workload(p.getWorkload());
        if (where.equals("-") && !p.getCgroupPath().isEmpty()) {
            where = p.getCgroupPath();
        }
        Instant t = Instant.ofEpochSecond(e.getTime().getSeconds(), e.getTime().getNanos());
        return String.format("%-23s %-16s %-8s %-7d %-15s %-28s %s", TIME.format(t) + "."
                        + String.format("%03d", e.getTime().getNanos() / 1_000_000), node,
                RecordFilter.typeName(e.getKindCase()), p.getPid(), p.getComm().isEmpty() ? "-" : p.getComm(), where,
                gist(e));
    }

    /** What happened, in a few words per kind. */
    static String gist(Event e) {
        return switch (e.getKindCase()) {
            case EXEC -> {
                ExecEvent x = e.getExec();
                String args = x.getArgsCount() > 1 ? " " + String.join(" ", x.getArgsList().subList(1, x.getArgsCount()))
                        : "";
                yield x.getFilename() + args + (x.getArgsTruncated() ? " …" : "")
                        + (x.getSuccess() || x.getErrorName().isEmpty() ? "" : " [failed " + x.getErrorName() + "]")
                        + verdict(x.getVerdict());
            }
            case CONNECT -> {
                ConnectEvent c = e.getConnect();
                String to = !c.getUnixPath().isEmpty() ? "unix:" + c.getUnixPath()
                        : c.getAddress().contains(":") ? "[" + c.getAddress() + "]:" + c.getPort()
                        : c.getAddress() + ":" + c.getPort();
                yield "-> " + to + " " + c.getOutcome().name().replace("CONNECT_OUTCOME_", "").toLowerCase()
                        + (c.getErrorName().isEmpty() ? "" : " " + c.getErrorName()) + verdict(c.getVerdict());
            }
            case GPU -> {
                GpuEvent g = e.getGpu();
                String dev = g.getRole().name().replace("DEVICE_ROLE_", "").toLowerCase() + " " + g.getMajor() + ":"
                        + g.getMinor();
                yield switch (g.getOpCase()) {
                    case OPEN -> "open " + dev + (g.getOpen().getWrite() ? " rw" : " r") + verdict(g.getOpen().getVerdict());
                    case IOCTL -> "ioctl " + (g.getIoctl().getName().isEmpty() ? "0x" + Integer.toHexString(
                            g.getIoctl().getCmd()) : g.getIoctl().getName()) + (g.getIoctl().getClassName().isEmpty()
                            ? "" : " " + g.getIoctl().getClassName()) + " on " + dev + verdict(g.getIoctl().getVerdict());
                    default -> dev;
                };
            }
            case FORK -> "child " + e.getFork().getChildPid();
            case EXIT -> e.getExit().getSignal() != 0 ? "killed by " + e.getExit().getSignalName()
                    : "exit " + e.getExit().getExitCode();
            case KIND_NOT_SET -> "";
            default -> com.google.protobuf.TextFormat.printer().emittingSingleLine(true).printToString(
                    (com.google.protobuf.MessageOrBuilder) e.getField(Event.getDescriptor()
                            .findFieldByNumber(e.getKindCase().getNumber()))).trim();
        };
    }

    private static String verdict(Verdict v) {
        return v == Verdict.VERDICT_DENIED ? " DENIED" : v == Verdict.VERDICT_WOULD_BLOCK ? " WOULD_BLOCK" : "";
    }
}
