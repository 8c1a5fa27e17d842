package io.agentguard.collector.cli;

import com.google.protobuf.util.JsonFormat;
import io.agentguard.collector.store.JdbcStore;
import io.agentguard.proto.v1.Priority;
import io.agentguard.proto.v1.Violation;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** agentguard-collector query. */
@Command(name = "query", mixinStandardHelpOptions = true,
        description = "Prints stored violations, oldest first, as a table or as JSON lines; --follow keeps printing new ones.")
public final class QueryCommand implements Callable<Integer> {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss").withZone(ZoneOffset.UTC);

    @Option(names = "--db", paramLabel = "URL", description = "as for serve")
    String db = "sqlite:/var/lib/agentguard-collector/collector.db";

    @Option(names = "--since", paramLabel = "DURATION", description = "only the last DURATION (30d, 12h, 15m, 90s)")
    String since;

    @Option(names = "--node", description = "only this node")
    String node;

    @Option(names = "--rule", description = "only this rule")
    String rule;

    @Option(names = "--priority", paramLabel = "P", description = "this priority or more severe (e.g. WARNING)")
    String priority;

    @Option(names = "--json", description = "JSON lines (protobuf JSON mapping of Violation, with node and sequence)")
    boolean json;

    @Option(names = "--follow", description = "keep printing new violations")
    boolean follow;

    @Option(names = "--limit", description = "at most this many (default 1000; per poll with --follow)")
    int limit = 1000;

    @Override
    public Integer call() throws Exception {
        Integer maxPriority = null;
        if (priority != null) {
            try {
                maxPriority = Priority.valueOf("PRIORITY_" + priority.toUpperCase(Locale.ROOT)).getNumber();
            } catch (IllegalArgumentException e) {
                System.err.println("agentguard-collector: unknown priority '" + priority + "'");
                return 2;
            }
        }
        Instant from = since == null ? null : Instant.now().minus(ServeCommand.parseDuration(since));
        JsonFormat.Printer printer = JsonFormat.printer().omittingInsignificantWhitespace();
        try (JdbcStore store = JdbcStore.open(db)) {
            long after = 0;
            if (!json) {
                System.out.printf("%-19s %-16s %-8s %-13s %-40s %s%n", "TIME", "NODE", "SEQ", "PRIORITY", "RULE", "OUTPUT");
            }
            do {
                List<JdbcStore.StoredViolation> rows = store.query(new JdbcStore.Filter(from, node, rule, maxPriority,
                        after, limit));
                for (JdbcStore.StoredViolation r : rows) {
                    Violation v = r.violation();
                    if (json) {
                        String body = printer.print(v);
                        System.out.println("{\"node\":\"" + r.node() + "\",\"sequence\":" + r.sequence() + ","
                                + body.substring(1));
                    } else {
                        System.out.printf("%-19s %-16s %-8d %-13s %-40s %s%n",
                                TIME.format(Instant.ofEpochSecond(v.getTime().getSeconds())), r.node(), r.sequence(),
                                v.getPriority().name().replace("PRIORITY_", ""), v.getRule(), v.getOutput());
                    }
                }
                System.out.flush();
                after = store.lastQueryMaxId();
                if (follow) {
                    Thread.sleep(500);
                }
            } while (follow);
        }
        return 0;
    }
}
