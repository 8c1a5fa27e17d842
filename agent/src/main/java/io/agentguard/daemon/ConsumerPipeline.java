package io.agentguard.daemon;

import io.agentguard.bpf.RingBufferReader;
import io.agentguard.event.ConnectRecord;
import io.agentguard.event.EventDecoder;
import io.agentguard.event.ExecRecord;
import io.agentguard.event.ForkRecord;
import io.agentguard.event.GpuIoctlRecord;
import io.agentguard.event.RecordFlyweight;
import io.agentguard.process.ProcessTable;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.Priority;
import io.agentguard.proto.v1.ProcessInfo;
import io.agentguard.proto.v1.RuleAction;
import io.agentguard.proto.v1.Violation;
import io.agentguard.rules.Classifier;
import io.agentguard.rules.CompiledRule;
import io.agentguard.rules.EventContext;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.function.Consumer;
import java.util.function.LongFunction;

import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;
import static io.agentguard.event.RecordLayout.*;

/**
 * The consumer thread's work per ring record: validate the header (impossible type or
 * length: counted, skipped), follow processes in the {@link ProcessTable}, classify the
 * event against the rules, and hand events and violations to their sinks.
 *
 * <p>For an event that matches no rule and is not printed, nothing is allocated (exec
 * aside: the table stores the new program's strings). Single writer: counters are plain
 * fields, published per batch with a release fence ({@link #publishCounters()}).
 */
public final class ConsumerPipeline implements RingBufferReader.RecordHandler, Classifier.MatchListener {
    private static final int MAX_MATCHES = 64;

    private final ExecRecord exec = new ExecRecord();
    private final ForkRecord fork = new ForkRecord();
    private final ConnectRecord connect = new ConnectRecord();
    private final GpuIoctlRecord gpuIoctl = new GpuIoctlRecord();
    private final ExecRecord header = new ExecRecord();   // header fields of any record

    private final EventDecoder decoder;
    private final ProcessTable processes;
    private final Classifier classifier;
    private final EventContext context;
    private final LongFunction<String> cgroupPaths;
    private final boolean emitEvents;
    private final Consumer<Violation> violations;
    private final java.util.function.BiConsumer<Violation, CompiledRule> actions;
    private RecentRecords recent;
    private int evidenceEvents;
    private Consumer<Event> reportEvents;
    private long reportEventsPerSecond;
    private long reportWindowStartNs;
    private long reportedInWindow;
    private long reportEventsDropped;

    private final CompiledRule[] matched = new CompiledRule[MAX_MATCHES];
    private final String[] matchedOutput = new String[MAX_MATCHES];
    private int matchedCount;

    private final long[] byType = new long[TYPE_MAX + 1];
    private long invalid;
    private long violationCount;
    private volatile Counters published = new Counters(new long[TYPE_MAX + 1], 0, 0, 0, 0, 0);

    /** Counters as last published by the consumer thread. */
    public record Counters(long[] byType, long invalid, long unmatchedResults, long violations, int processes,
                           long processEvictions) {
        public long events() {
            long sum = 0;
            for (int t = 1; t < byType.length; t++) {
                if (t != TYPE_CONNECT_RESULT) {
                    sum += byType[t];
                }
            }
            return sum;
        }
    }

    public ConsumerPipeline(EventDecoder decoder, ProcessTable processes, Classifier classifier,
                            LongFunction<String> cgroupPaths, boolean emitEvents, Consumer<Violation> violations) {
        this(decoder, processes, classifier, cgroupPaths, emitEvents, violations, null);
    }

    /** @param actions receives violations of rules with an action (the enforcer); may be null */
    public ConsumerPipeline(EventDecoder decoder, ProcessTable processes, Classifier classifier,
                            LongFunction<String> cgroupPaths, boolean emitEvents, Consumer<Violation> violations,
                            java.util.function.BiConsumer<Violation, CompiledRule> actions) {
        this.actions = actions;
        this.decoder = decoder;
        this.processes = processes;
        this.classifier = classifier;
        this.cgroupPaths = cgroupPaths;
        this.emitEvents = emitEvents;
        this.violations = violations;
        this.context = new EventContext(processes);
        this.context.cgroupPaths(cgroupPaths);
    }

    @Override
    public void onRecord(MemorySegment data, long offset, int length) {
        if (length < HEADER_SIZE) {
            invalid++;
            return;
        }
        int type = Short.toUnsignedInt(data.get(JAVA_SHORT_UNALIGNED, offset + HEADER_TYPE));
        int size = Short.toUnsignedInt(data.get(JAVA_SHORT_UNALIGNED, offset + HEADER_SIZE_FIELD));
        if (size > length || !plausible(type, size)) {
            invalid++;
            return;
        }
        byType[type]++;
        if (type == TYPE_CONNECT_RESULT) {
            decoder.decode(type, data, offset, emitEvents, null, null);
            return;
        }
        RecordFlyweight<?> h = header.wrap(data, offset);
        long nowNs = h.ktimeNs();
        if (recent != null) {
            recent.add(data, offset, size, h.pid());
        }
        int slot;
        int processDests = 0;
        int cgroupDests = 0;
        switch (type) {
            case TYPE_EXEC -> {
                ExecRecord e = exec.wrap(data, offset);
                slot = e.failed() ? ensure(h, nowNs)
                        : processes.onExec(e.pid(), e.ppid(), e.cgroupId(), e.uid(), e.comm(), e.filename(), e.args(), nowNs);
            }
            case TYPE_CONNECT -> {
                slot = ensure(h, nowNs);
                ConnectRecord c = connect.wrap(data, offset);
                long dest = c.family() == ConnectRecord.AF_UNIX ? c.sockCookie() * 31
                        : c.rawLong(CONNECT_ADDR) * 0x9E3779B97F4A7C15L + c.rawLong(CONNECT_ADDR + 8) * 31 + c.port();
                processDests = processes.recordDestination(slot, dest, nowNs);
                cgroupDests = processes.cgroupDistinctDestinations(h.cgroupId(), nowNs);
            }
            case TYPE_GPU_IOCTL -> {
                slot = ensure(h, nowNs);
                GpuIoctlRecord g = gpuIoctl.wrap(data, offset);
                context.set(type, data, offset, slot, nowNs, 0, 0);   // decodes class and sizes
                if (context.has(io.agentguard.rules.Field.GPU_COMPUTE) && context.bool(io.agentguard.rules.Field.GPU_COMPUTE)) {
                    processes.markGpuCompute(slot);
                }
                if (context.has(io.agentguard.rules.Field.GPU_ALLOC_BYTES)) {
                    processes.addGpuMemory(slot, context.number(io.agentguard.rules.Field.GPU_ALLOC_BYTES));
                }
            }
            default -> slot = ensure(h, nowNs);
        }

        context.set(type, data, offset, slot, nowNs, processDests, cgroupDests);
        matchedCount = 0;
        if (classifier != null) {
            classifier.classify(context, this);
        }
        boolean report = reportEvents != null && allowReport(nowNs);
        if (emitEvents || matchedCount > 0 || report) {
            String exe = slot >= 0 ? processes.exe(slot) : null;
            String cmdline = slot >= 0 ? processes.cmdline(slot) : null;
            Event event = decoder.decode(type, data, offset, emitEvents, exe, cmdline);
            if (report) {
                reportEvents.accept(event);
            }
            for (int i = 0; i < matchedCount; i++) {
                Violation v = withPrecedingEvents(violation(matched[i], matchedOutput[i], event, slot), h.pid());
                violations.accept(v);
                if (actions != null && matched[i].action() != io.agentguard.rules.RuleItems.Action.NONE) {
                    actions.accept(v, matched[i]);
                }
                matched[i] = null;
                matchedOutput[i] = null;
            }
        }
        if (type == TYPE_FORK) {
            ForkRecord f = fork.wrap(data, offset);
            processes.onFork(f.pid(), f.childPid(), nowNs);
        } else if (type == TYPE_EXIT) {
            processes.onExit(h.pid());
        }
    }

    /**
     * Keeps the last records so that each violation carries up to {@code events} of the same
     * process's preceding events (0: only the matching one).
     */
    public ConsumerPipeline withEvidenceWindow(int events, long arenaBytes) {
        this.evidenceEvents = events;
        this.recent = events > 0 ? new RecentRecords(arenaBytes) : null;
        return this;
    }

    /** Also report every event (decoded, so this costs an allocation per event), at most perSecond. */
    public ConsumerPipeline reportingEvents(Consumer<Event> sink, long perSecond) {
        this.reportEvents = sink;
        this.reportEventsPerSecond = perSecond;
        return this;
    }

    private boolean allowReport(long nowNs) {
        if (nowNs - reportWindowStartNs >= 1_000_000_000L) {
            reportWindowStartNs = nowNs;
            reportedInWindow = 0;
        }
        if (reportedInWindow >= reportEventsPerSecond) {
            reportEventsDropped++;
            return false;
        }
        reportedInWindow++;
        return true;
    }

    /** Events that were not reported because of the per-second limit. */
    public long reportEventsDropped() {
        return reportEventsDropped;
    }

    private Violation withPrecedingEvents(Violation v, int pid) {
        if (recent == null || evidenceEvents == 0) {
            return v;
        }
        java.util.ArrayList<Event> earlier = new java.util.ArrayList<>();
        recent.forEachBefore(pid, evidenceEvents, (seg, off, len) -> {
            int t = Short.toUnsignedInt(seg.get(JAVA_SHORT_UNALIGNED, off + HEADER_TYPE));
            if (t != TYPE_CONNECT_RESULT && plausible(t, Short.toUnsignedInt(seg.get(JAVA_SHORT_UNALIGNED,
                    off + HEADER_SIZE_FIELD)))) {
                earlier.add(decoder.decode(t, seg, off, false, null, null));
            }
        });
        if (earlier.isEmpty()) {
            return v;
        }
        java.util.Collections.reverse(earlier);   // oldest first, after the matching event
        return v.toBuilder().addAllEvidence(earlier).build();
    }

    private int ensure(RecordFlyweight<?> h, long nowNs) {
        int slot = processes.slot(h.pid());
        if (slot >= 0) {
            return slot;
        }
        return processes.ensure(h.pid(), h.ppid(), h.comm(), h.cgroupId(), h.uid(), nowNs);
    }

    @Override
    public void onMatch(CompiledRule rule, EventContext c) {
        if (matchedCount < MAX_MATCHES) {
            matched[matchedCount] = rule;
            matchedOutput[matchedCount] = rule.output().render(c);   // now: the context moves on
            matchedCount++;
        }
    }

    private Violation violation(CompiledRule rule, String output, Event evidence, int slot) {
        violationCount++;
        Violation.Builder v = Violation.newBuilder()
                .setTime(evidence.getTime())
                .setRule(rule.name())
                .setPriority(Priority.forNumber(rule.priority().ordinal() + 1))
                .addAllTags(rule.tags())
                .setOutput(output)
                .setDescription(rule.description())
                .setAction(RuleAction.forNumber(rule.action().ordinal() + 1))
                .setProcess(evidence.getProcess())
                .setCgroupPath(evidence.getProcess().getCgroupPath())
                .addEvidence(evidence)
                .setRuleSource(rule.position().toString());
        if (slot >= 0) {
            for (int s : processes.ancestors(slot)) {
                ProcessInfo.Builder p = ProcessInfo.newBuilder().setPid(processes.pid(s)).setPpid(processes.ppid(s))
                        .setUid(processes.uid(s)).setCgroupId(processes.cgroupId(s));
                if (processes.comm(s) != null) {
                    p.setComm(processes.comm(s));
                }
                if (processes.exe(s) != null) {
                    p.setExe(processes.exe(s));
                }
                if (processes.cmdline(s) != null) {
                    p.setCmdline(processes.cmdline(s));
                }
                String path = cgroupPaths.apply(processes.cgroupId(s));
                if (path != null) {
                    p.setCgroupPath(path);
                }
                v.addAncestry(p);
            }
        }
        return v.build();
    }

    /** Emits TCP connects whose outcome did not come in time. nowNs: CLOCK_MONOTONIC. */
    public void expireConnects(long nowNs) {
        decoder.expireConnects(nowNs);
    }

    public void flush() {
        decoder.flush();
    }

    public void publishCounters() {
        published = new Counters(byType.clone(), invalid, decoder.unmatchedResults(), violationCount,
                processes.size(), processes.evictions());
        VarHandle.releaseFence();
    }

    public Counters counters() {
        return published;
    }

    public ProcessTable processes() {
        return processes;
    }
}
