package io.agentguard.rules;

import io.agentguard.event.Records;
import io.agentguard.process.ProcessTable;
import io.agentguard.proto.v1.Event;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

/** Builds an EventContext for an Event and a process with ancestors, for rule tests. */
final class RuleTestSupport {
    final ProcessTable table = new ProcessTable(256, 10_000_000_000L);
    final EventContext context = new EventContext(table, id -> "agentguard/sandbox");
    private final Records records = new Records();
    private final MemorySegment buf = Arena.ofAuto().allocate(Records.maxRecordBytes(), 8);

    /** Installs pid with exe/argv and ancestors (names, nearest first) at pid-1, pid-2, ... */
    int process(int pid, String exe, List<String> argv, List<String> ancestors) {
        int parent = pid - 1;
        for (int i = 0; i < ancestors.size(); i++) {
            String name = ancestors.get(i);
            table.put(pid - 1 - i, i + 1 < ancestors.size() ? pid - 2 - i : 1, 7, 0, name, "/usr/bin/" + name,
                    List.of(name), 1);
        }
        return table.put(pid, ancestors.isEmpty() ? 1 : parent, 7, 1000, name(exe), exe, argv, 2);
    }

    private static String name(String exe) {
        String n = exe.substring(exe.lastIndexOf('/') + 1);
        return n.length() > 15 ? n.substring(0, 15) : n;
    }

    /** Points the context at the event (already encoded as a record). */
    EventContext at(Event e, int slot) {
        records.write(e, buf, 0);
        context.set(records, slot, e.getMonotonicNs(), 0, 0);
        return context;
    }

    static RuleSet compile(String yaml) {
        return RuleCompiler.compile(List.of(new RuleCompiler.Source("t.yaml", yaml)));
    }

    static CompiledCondition condition(String condition) {
        return compile("- rule: r\n  desc: d\n  condition: " + condition + "\n  output: o\n  priority: NOTICE\n")
                .rules().getFirst().condition();
    }
}
