package io.agentguard.pipeline;

import io.agentguard.bpf.RingBufferReader;
import io.agentguard.config.AgentConfig;
import io.agentguard.event.ConnectRecord;
import io.agentguard.event.EventDecoder;
import io.agentguard.event.EventSink;
import io.agentguard.event.ExecRecord;
import io.agentguard.event.HeaderRecord;
import io.agentguard.event.NvidiaIoctlDecoder;
import io.agentguard.event.Records;
import io.agentguard.process.ProcessTable;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.Priority;
import io.agentguard.proto.v1.ProcessInfo;
import io.agentguard.proto.v1.RuleAction;
import io.agentguard.proto.v1.Violation;
import io.agentguard.rules.Classifier;
import io.agentguard.rules.CompiledRule;
import io.agentguard.rules.EventContext;
import io.agentguard.rules.Field;
import io.agentguard.rules.RuleItems;
import io.agentguard.workload.WorkloadCache;
import io.agentguard.workload.WorkloadNames;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Collections;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import java.util.function.IntConsumer;
import java.util.function.LongFunction;
import java.util.function.LongSupplier;

import static io.agentguard.abi.KernelAbi.*;

/**
 * The consumer thread's work per ring record: validate the header (impossible type or
 * length: counted, skipped), follow processes in the {@link ProcessTable}, classify the
 * event against the rules, and hand events and violations to their sinks. Each record is
 * wrapped once in {@link Records}, which the process table updates, the rule fields and the
 * event decoder all read (a GPU ioctl is decoded once, too).
 *
 * <p>Built by {@link #builder}, the one place where the stages are wired: the daemon,
 * {@code agentguard replay} and the benchmarks all use it. For an event that matches no
 * rule and is not printed, nothing is allocated (exec aside: the table stores the new
 * program's strings). Single writer: counters are plain fields, published per batch with a
 * release fence ({@link #publishCounters()}).
 */
public final class ConsumerPipeline implements RingBufferReader.RecordHandler, Classifier.MatchListener,
        LossMonitor.LossSink {
    private static final int MAX_MATCHES = 64;

    private final long destinationSeed = new SecureRandom().nextLong();
    private final Records records = new Records();
    private final Records evidenceRecords = new Records();
    private final EventDecoder decoder;
    private final ProcessTable processes;
    private final Classifier classifier;
    private final EventContext context;
    private final LongFunction<String> cgroupPaths;
    private static final int WORKLOAD_CACHE_CGROUPS = 4096;
    private final WorkloadCache workloads;   // identity per cgroup: events, violations and the rules' fields
    private final boolean emitEvents;
    private final Consumer<Violation> violations;
    private final ExecFollowUp execFollowUp;
    private final Consumer<Event> unixConnects;
    private final BiConsumer<Violation, CompiledRule> actions;
    private final RecentRecords recent;
    private final int evidenceEvents;
    private final Consumer<Event> reportEvents;
    private final long reportEventsPerSecond;
    private final IntConsumer killer;
    private final IntConsumer tunnelDenied;
    private long lossReports;
    private long reportWindowStartNs;
    private long reportedInWindow;
    private long reportEventsLimited;
    private final long budgetReportIntervalNs;
    private long lastBudgetReportNs;
    private long overBudgetUnreported;
    private volatile long budgetReports;

    private final CompiledRule[] matched = new CompiledRule[MAX_MATCHES];
    private final String[] matchedOutput = new String[MAX_MATCHES];
    private final int[] matchedSlot = new int[MAX_MATCHES];
    private int matchedCount;       // matches to report now
    private int matchedAny;         // matches, repeats counted into an aggregate included

    private final ViolationAggregator aggregator;
    private final ViolationAggregator.Summaries summarySink = this::summary;
    private final LongSupplier wallMinusMonotonicNs;
    private int currentTgid;
    private long currentNowNs;
    private long currentCgroup;
    private long currentFact;       // GPU index for GPU events, else 0: part of the aggregation key
    private long currentDest;       // the connect's destination key (block_destination rules aggregate per destination)
    private int currentBlockKind;   // BlockKind number of this record, 0 if nothing was blocked
    /** Blocked records by BlockKind number * 2 + (0 denied, 1 would_block): every record, repeats included. */
    private final long[] blocked = new long[BLOCK_KINDS * 2];
    static final int BLOCK_KINDS = io.agentguard.proto.v1.BlockKind.BLOCK_KIND_TAMPER_VALUE + 1;

    private final long[] byType = new long[AG_REC_TYPE_MAX + 1];
    private long invalid;
    private long violationCount;
    private volatile Counters published = new Counters(new long[AG_REC_TYPE_MAX + 1], 0, 0, 0, 0, 0, 0,
            new long[BLOCK_KINDS * 2], 0, 0, 0);

    /**
     * Counters as last published by the consumer thread. blocked: by BlockKind number * 2 +
     * (0 denied, 1 would_block); aggregated: occurrences counted into an aggregate instead of
     * reported alone; summaries: aggregate violations reported; aggregationOverflows: keys
     * reported untracked because the aggregation table was full.
     */
    public record Counters(long[] byType, long invalid, long violations, int processes, long processEvictions,
                           long reportEventsLimited, long lossReports, long[] blocked, long aggregated,
                           long summaries, long aggregationOverflows) {
        /** Blocked records of a kind (BlockKind number); wouldBlock: monitor mode's. */
        public long blocked(int kind, boolean wouldBlock) {
            return blocked[kind * 2 + (wouldBlock ? 1 : 0)];
        }

        /** Events: every record but connect results, which only complete a connect. */
        public long events() {
            long sum = 0;
            for (int t = 1; t < byType.length; t++) {
                if (t != AG_REC_CONNECT_RESULT) {
                    sum += byType[t];
                }
            }
            return sum;
        }
    }

    private ConsumerPipeline(Builder b) {
        this.processes = b.processes;
        this.classifier = b.classifier;
        this.cgroupPaths = b.cgroupPaths;
        this.workloads = new WorkloadCache(b.workloadNames, WORKLOAD_CACHE_CGROUPS);
        this.decoder = new EventDecoder(b.events, b.cgroupPaths, b.wallMinusMonotonicNs, b.connectOutcomeTimeoutMs, workloads);
        this.emitEvents = b.emitEvents;
        this.violations = b.violations;
        this.execFollowUp = b.execFollowUp;
        this.actions = b.actions;
        this.evidenceEvents = b.evidenceEvents;
        this.recent = b.evidenceEvents > 0 ? new RecentRecords(b.evidenceArenaBytes) : null;
        this.reportEvents = b.reportEvents;
        this.unixConnects = b.unixConnects;
        this.reportEventsPerSecond = b.reportEventsPerSecond;
        this.killer = b.killer;
        this.tunnelDenied = b.tunnelDenied;
        this.context = new EventContext(processes, cgroupPaths, b.policies, workloads);
        this.budgetReportIntervalNs = b.budgetReportIntervalMs * 1_000_000L;
        this.lastBudgetReportNs = Long.MIN_VALUE;
        this.aggregator = new ViolationAggregator(b.aggregationWindowMs);
        this.wallMinusMonotonicNs = b.wallMinusMonotonicNs;
    }

    /** A pipeline classifying against {@code classifier}, with the table, window and timeouts of {@code config}. */
    public static Builder builder(AgentConfig config, Classifier classifier) {
        return new Builder(classifier, new ProcessTable(config.processTableCapacity(), config.stateWindowMs() * 1_000_000L))
                .connectOutcomeTimeoutMs(config.connectOutcomeTimeoutMs())
                .budgetReportIntervalMs(config.classification().budgetReportIntervalMs())
                .aggregationWindowMs(config.aggregationWindowMs());
    }

    @Override
    public void onRecord(MemorySegment data, long offset, int length) {
        int type = records.wrap(data, offset, length);
        if (type == 0) {
            invalid++;
            return;
        }
        byType[type]++;
        if (type == AG_REC_CONNECT_RESULT) {
            decoder.decode(records, emitEvents, null, null);
            return;
        }
        HeaderRecord h = records.header;
        long nowNs = h.ktimeNs();
        if (recent != null) {
            recent.add(data, offset, h.size(), h.pid());
        }
        int slot;
        int processDests = 0;
        int cgroupDests = 0;
        switch (type) {
            case AG_REC_EXEC -> slot = records.exec.failed() ? ensure(h, nowNs)
                    : processes.onExec(h.pid(), h.ppid(), h.cgroupId(), h.uid(), h.comm(), records.exec.filename(),
                    records.exec.args(), nowNs, records.exec.dev(), records.exec.ino(), programCtimeNs(records.exec));
            case AG_REC_CONNECT -> {
                slot = ensure(h, nowNs);
                ConnectRecord c = records.connect;
                long dest = c.family() == AG_AF_UNIX ? destinationKey(c.sockCookie(), 0, 0)
                        : destinationKey(c.addressHigh(), c.addressLow(), c.port());
                currentDest = dest;
                processDests = processes.recordDestination(slot, dest, nowNs);
                cgroupDests = processes.cgroupDistinctDestinations(h.cgroupId(), nowNs);
            }
            case AG_REC_GPU_IOCTL -> {
                slot = ensure(h, nowNs);
                NvidiaIoctlDecoder nvidia = records.nvidia();
                if (nvidia.computeContext()) {
                    // before classifying: proc.gpu_compute and gpu.compute_new hold for this event
                    processes.markGpuCompute(slot, records.gpuIoctl.index());
                }
                if (nvidia.hasAllocBytes() && nvidia.allocBytes() >= 0) {   // >= 2^63: no driver grants it
                    processes.addGpuMemory(slot, nvidia.allocBytes());
                }
            }
            default -> slot = ensure(h, nowNs);
        }

        context.set(records, slot, nowNs, processDests, cgroupDests);
        matchedCount = 0;
        matchedAny = 0;
        currentTgid = h.pid();
        currentNowNs = nowNs;
        currentCgroup = h.cgroupId();
        currentFact = type == AG_REC_GPU_IOCTL ? records.gpuIoctl.index()
                : type == AG_REC_GPU_OPEN ? records.gpuOpen.index() : 0;
        int blockKind = KernelFindings.blockKind(records);
        currentBlockKind = blockKind;
        if (blockKind != 0) {
            blocked[blockKind * 2 + (KernelFindings.blockVerdict(records) == AG_VERDICT_DENIED ? 0 : 1)]++;
        }
        classifier.classify(context, this);
        // a blocked record always makes one violation: a rule's (with block_kind), else the kernel's finding;
        // other findings only where no rule spoke. Repeats within the window are counted, not built.
        KernelFindings.Finding finding = matchedAny == 0 ? KernelFindings.finding(records) : null;
        int findingSlot = ViolationAggregator.UNTRACKED;
        if (finding != null) {
            findingSlot = aggregator.admit(finding, currentTgid, currentCgroup, currentFact, nowNs, summarySink);
            if (findingSlot == ViolationAggregator.REPEAT) {
                finding = null;
            }
        }
        boolean budgetReport = classifier.lastOverBudget() && budgetReportDue(nowNs);
        boolean report = reportEvents != null && allowReport(nowNs);
        boolean followUp = type == AG_REC_EXEC && execFollowUp != null && execFollowUp.wants(records.exec);
        // a Unix connect the kernel did not know an outside owner for: the resolver looks for one
        boolean unixAsk = type == AG_REC_CONNECT && unixConnects != null && records.connect.family() == AG_AF_UNIX
                && !records.connect.unixOutside() && records.connect.verdict() != AG_VERDICT_DENIED;
        if (emitEvents || matchedCount > 0 || finding != null || report || followUp || unixAsk || budgetReport) {
            String exe = slot >= 0 ? processes.exe(slot) : null;
            String cmdline = slot >= 0 ? processes.cmdline(slot) : null;
            Event event = decoder.decode(records, emitEvents, exe, cmdline);
            if (report) {
                reportEvents.accept(event);
            }
            if (followUp) {
                execFollowUp.accept(event);
            }
            if (unixAsk) {
                unixConnects.accept(event);
            }
            for (int i = 0; i < matchedCount; i++) {
                Violation v = withPrecedingEvents(violation(matched[i], matchedOutput[i], event, slot, blockKind,
                        matchedSlot[i]), h.pid());
                if (matchedSlot[i] >= 0) {
                    aggregator.remember(matchedSlot[i], v);
                }
                violations.accept(v);
                if (actions != null && matched[i].action() != RuleItems.Action.NONE) {
                    actions.accept(v, matched[i]);
                }
                matched[i] = null;
                matchedOutput[i] = null;
            }
            if (budgetReport) {
                reportOverBudget(event, slot, nowNs);
            }
            if (finding != null) {
                violationCount++;
                Violation.Builder fv = withAncestry(KernelFindings.violation(finding, event), slot);
                aggregated(fv, blockKind, findingSlot, finding.rule());
                Violation v = withPrecedingEvents(fv.build(), h.pid());
                if (findingSlot >= 0) {
                    aggregator.remember(findingSlot, v);
                }
                violations.accept(v);
            }
        }
        if (type == AG_REC_SCOPE && records.scope.killByAgent() && killer != null) {
            killer.accept(records.scope.taskPid());   // the kernel could not signal it (before 6.13)
        }
        if (type == AG_REC_APP_PROTO && records.appProto.verdict() == AG_VERDICT_DENIED && killer != null) {
            // the kernel dropped the banner or login (the protocol failed); the kill stops the retries. The
            // header is the connecting task's: the packet may have left from softirq, where no signal fits
            killer.accept(h.pid());
        }
        if (type == AG_REC_CONNECT && tunnelDenied != null && records.connect.tunnel()
                && records.connect.verdict() == AG_VERDICT_DENIED) {
            tunnelDenied.accept(h.pid());   // a tunnel refused by egress.tunnels: deny dies before it tries another way
        }
        if (type == AG_REC_TAMPER && records.tamper.killByAgent() && killer != null) {
            killer.accept(h.pid());   // the kernel's kill failed: this CPU's irq_work held another signal (EBUSY)
        }
        if (type == AG_REC_FORK) {
            processes.onFork(h.pid(), records.fork.childPid(), nowNs);
        } else if (type == AG_REC_EXIT) {
            processes.onExit(h.pid());
            aggregator.processExited(h.pid(), summarySink);   // it repeats nothing more: its counts go out now
        }
    }

    /** count 1, block_kind, and the aggregation key of a tracked first occurrence. */
    private void aggregated(Violation.Builder v, int blockKind, int aggregationSlot, String rule) {
        v.setCount(1);
        if (blockKind != 0) {
            v.setBlockKindValue(blockKind);
        }
        if (aggregationSlot >= 0) {
            v.setAggregationKey(aggregator.key(aggregationSlot, rule));
        }
    }

    /** A window that counted more than one occurrence: its first violation again, with the count. */
    private void summary(Violation first, long count, long lastNs) {
        long wall = lastNs + wallMinusMonotonicNs.getAsLong();
        Violation v = first.toBuilder()
                .setCount(count)
                .setSummary(true)
                .setLastTime(com.google.protobuf.Timestamp.newBuilder().setSeconds(Math.floorDiv(wall, 1_000_000_000L))
                        .setNanos((int) Math.floorMod(wall, 1_000_000_000L)))
                .setOutput(first.getOutput() + " [" + count + " times"
                        + (first.getEvidenceCount() == 0 ? "" : " in "
                        + Math.max(0, (lastNs - first.getEvidence(0).getMonotonicNs()) / 1_000_000L) + " ms") + "]")
                .build();
        violationCount++;
        violations.accept(v);
    }

    /**
     * Judges execs after they started, off the consumer thread (what the kernel cannot judge:
     * a file's content, the program behind the dynamic loader). {@link #wants} runs on the
     * consumer thread for every exec record and must not block or allocate; {@link #accept}
     * gets the decoded event and must only queue it.
     */
    public interface ExecFollowUp {
        boolean wants(io.agentguard.event.ExecRecord exec);

        void accept(Event exec);
    }

    /**
     * A destination's key for the distinct-destination windows, which compare keys only. Keyed
     * with a secret chosen at start, so that nobody can pick (address, port) pairs offline that
     * collide and count a scan as one destination; each word goes through SplitMix64's finalizer.
     */
    long destinationKey(long addressHigh, long addressLow, int port) {
        return mix64(mix64(mix64(destinationSeed ^ addressHigh) ^ addressLow) ^ port);
    }

    private static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** Every event over budget is counted; one in each report interval is reported (the first). */
    private boolean budgetReportDue(long nowNs) {
        overBudgetUnreported++;
        return lastBudgetReportNs == Long.MIN_VALUE || nowNs - lastBudgetReportNs >= budgetReportIntervalNs;
    }

    private void reportOverBudget(Event event, int slot, long nowNs) {
        lastBudgetReportNs = nowNs;
        CompiledRule at = classifier.lastStoppedAt();
        String output = "classification budget exceeded: " + classifier.budgetPerEvent()
                + " units (classifier.budget_per_event) spent before rule '" + at.name() + "' ("
                + at.position() + ") was decided; it and the rules after it were not evaluated for this "
                + Field.EVENT_TYPE_NAMES[context.type()] + " of " + event.getProcess().getComm() + " (pid "
                + event.getProcess().getPid() + ", cgroup " + event.getProcess().getCgroupPath() + "); "
                + overBudgetUnreported + " event" + (overBudgetUnreported == 1 ? "" : "s")
                + " over budget since the last report, " + classifier.overBudgetEvents() + " in all";
        overBudgetUnreported = 0;
        budgetReports = budgetReports + 1;   // single writer
        violationCount++;
        violations.accept(withPrecedingEvents(withAncestry(KernelFindings.violation(
                KernelFindings.CLASSIFICATION_BUDGET_EXCEEDED, output, event), slot).build(), event.getProcess().getPid()));
    }

    /** "agentguard: classification budget exceeded" violations raised (any thread). */
    public long budgetReports() {
        return budgetReports;
    }

    private boolean allowReport(long nowNs) {
        if (nowNs - reportWindowStartNs >= 1_000_000_000L) {
            reportWindowStartNs = nowNs;
            reportedInWindow = 0;
        }
        if (reportedInWindow >= reportEventsPerSecond) {
            reportEventsLimited++;
            return false;
        }
        reportedInWindow++;
        return true;
    }

    private Violation withPrecedingEvents(Violation v, int pid) {
        if (recent == null) {
            return v;
        }
        ArrayList<Event> earlier = new ArrayList<>();
        recent.forEachBefore(pid, evidenceEvents, (seg, off, len) -> {
            int t = evidenceRecords.wrap(seg, off, len);
            if (t != 0 && t != AG_REC_CONNECT_RESULT) {
                earlier.add(decoder.decode(evidenceRecords, false, null, null));
            }
        });
        if (earlier.isEmpty()) {
            return v;
        }
        Collections.reverse(earlier);   // oldest first, after the matching event
        return v.toBuilder().addAllEvidence(earlier).build();
    }

    private int ensure(HeaderRecord h, long nowNs) {
        int slot = processes.slot(h.pid());
        if (slot >= 0) {
            return slot;
        }
        return processes.ensure(h.pid(), h.ppid(), h.comm(), h.cgroupId(), h.uid(), nowNs);
    }

    @Override
    public void onMatch(CompiledRule rule, EventContext c) {
        matchedAny++;
        if (matchedCount < MAX_MATCHES) {
            long fact = rule.action() == RuleItems.Action.BLOCK_DESTINATION && records.type() == AG_REC_CONNECT
                    ? currentDest : currentFact;
            int aggregationSlot = aggregator.admit(rule, currentTgid, currentCgroup, fact, currentNowNs, summarySink);
            if (aggregationSlot == ViolationAggregator.REPEAT) {
                return;   // counted into the window's summary: nothing rendered, nothing built
            }
            matched[matchedCount] = rule;
            matchedOutput[matchedCount] = rule.output().render(c);   // now: the context moves on
            matchedSlot[matchedCount] = aggregationSlot;
            matchedCount++;
        }
    }

    private Violation violation(CompiledRule rule, String output, Event evidence, int slot, int blockKind,
                                int aggregationSlot) {
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
        if (evidence.getProcess().hasWorkload()) {
            v.setWorkload(evidence.getProcess().getWorkload());
        }
        aggregated(v, blockKind, aggregationSlot, rule.name());
        return withAncestry(v, slot).build();
    }

    private Violation.Builder withAncestry(Violation.Builder v, int slot) {
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
                    io.agentguard.proto.v1.Workload w = workloads.proto(processes.cgroupId(s), path);
                    if (w != null) {
                        p.setWorkload(w);
                    }
                }
                v.addAncestry(p);
            }
        }
        return v;
    }

    /** An "events lost" report of {@link LossMonitor}: an event (if printed) and a violation. */
    @Override
    public void lost(long cgroupId, long rateLimited, long ringFull, long rateLimitedTotal, long ringFullTotal, long nowNs) {
        lossReports++;
        String path = cgroupId == 0 ? "(agent cgroups over the budget map's capacity)" : cgroupPaths.apply(cgroupId);
        Event event = decoder.loss(cgroupId, path == null ? "" : path, rateLimited, ringFull, rateLimitedTotal,
                ringFullTotal, nowNs, emitEvents);
        violationCount++;
        violations.accept(KernelFindings.violation(KernelFindings.EVENTS_LOST, event).build());
    }

    /**
     * Emits TCP connects whose outcome did not come in time, and the summaries of aggregation
     * windows that are over. nowNs: CLOCK_MONOTONIC (Long.MAX_VALUE: everything, at shutdown).
     */
    public void expireConnects(long nowNs) {
        decoder.expireConnects(nowNs);
        aggregator.expire(nowNs, summarySink);
    }

    /** Emits every TCP connect still waiting for its outcome and every open aggregate (shutdown, end of a replay). */
    public void flush() {
        decoder.flush();
        aggregator.expire(Long.MAX_VALUE, summarySink);
    }

    public void publishCounters() {
        published = new Counters(byType.clone(), invalid, violationCount, processes.size(), processes.evictions(),
                reportEventsLimited, lossReports, blocked.clone(), aggregator.repeats(), aggregator.summaries(),
                aggregator.overflows());
        VarHandle.releaseFence();
    }

    /**
     * The ctime proc.exe_created_in_cgroup compares: the executed file's; for the dynamic loader
     * run as a program (ld.so ./x) the program is a file the kernel did not look at, so it counts
     * as written inside (fail closed: "created in cgroup" only ever adds scrutiny).
     */
    private static long programCtimeNs(ExecRecord exec) {
        return exec.loader() ? Long.MAX_VALUE : exec.exeCtimeNs();
    }

        public Counters counters() {
        return published;
    }

    public ProcessTable processes() {
        return processes;
    }

    /** Wiring of a {@link ConsumerPipeline}; what is not set is off. */
    public static final class Builder {
        private final Classifier classifier;
        private final ProcessTable processes;
        private LongFunction<String> cgroupPaths = id -> "";
        private LongSupplier wallMinusMonotonicNs = () -> 0;
        private long connectOutcomeTimeoutMs = 3000;
        private EventSink events = e -> { };
        private boolean emitEvents;
        private Consumer<Violation> violations = v -> { };
        private ExecFollowUp execFollowUp;
        private BiConsumer<Violation, CompiledRule> actions;
        private int evidenceEvents;
        private long evidenceArenaBytes;
        private Consumer<Event> reportEvents;
        private Consumer<Event> unixConnects;
        private long reportEventsPerSecond;
        private IntConsumer killer;
        private IntConsumer tunnelDenied;
        private long budgetReportIntervalMs = 10_000;
        private java.util.function.Supplier<io.agentguard.rules.PolicyView> policies = () -> io.agentguard.rules.PolicyView.NONE;
        private long aggregationWindowMs;
        private WorkloadNames workloadNames = WorkloadNames.NONE;

        public Builder(Classifier classifier, ProcessTable processes) {
            this.classifier = classifier;
            this.processes = processes;
        }

        /** cgroup id to path relative to the cgroup2 mount ("" if unknown). */
        public Builder cgroupPaths(LongFunction<String> paths) {
            this.cgroupPaths = paths;
            return this;
        }

        /** Runtime names and labels for workloads (asked once per new container or pod cgroup; never blocks). */
        public Builder workloadNames(WorkloadNames names) {
            this.workloadNames = names;
            return this;
        }

        /** The policies in force for the policy.* fields, read once per event that asks (the daemon: the controller's snapshot). */
        public Builder policies(java.util.function.Supplier<io.agentguard.rules.PolicyView> view) {
            this.policies = view;
            return this;
        }

        /** A fixed policy view (replay, tests). */
        public Builder policies(io.agentguard.rules.PolicyView view) {
            return policies(() -> view);
        }

        /** CLOCK_REALTIME - CLOCK_MONOTONIC, read per event for its wall-clock time. */
        public Builder wallMinusMonotonicNs(LongSupplier offsetNs) {
            this.wallMinusMonotonicNs = offsetNs;
            return this;
        }

        public Builder connectOutcomeTimeoutMs(long timeoutMs) {
            this.connectOutcomeTimeoutMs = timeoutMs;
            return this;
        }

        /** With {@code all}, every event goes to the sink (a TCP connect once its outcome is known). */
        public Builder events(EventSink sink, boolean all) {
            this.events = sink;
            this.emitEvents = all;
            return this;
        }

        /** Where successful execs that the daemon judges after they started go (exec file checks). */
        public Builder execFollowUp(ExecFollowUp followUp) {
            this.execFollowUp = followUp;
            return this;
        }

        /**
         * Receives Unix connects of agent tasks whose listener the kernel did not know to be
         * outside the agent cgroups (must not block: the Unix owner resolver's bounded queue).
         */
        public Builder unixConnects(Consumer<Event> sink) {
            this.unixConnects = sink;
            return this;
        }

        public Builder violations(Consumer<Violation> sink) {
            this.violations = sink;
            return this;
        }

        /** Receives violations of rules with an action (the enforcer). */
        public Builder actions(BiConsumer<Violation, CompiledRule> sink) {
            this.actions = sink;
            return this;
        }

        /** Each violation carries up to {@code events} of the same process's preceding events (0: none). */
        public Builder evidence(int events, long arenaBytes) {
            this.evidenceEvents = events;
            this.evidenceArenaBytes = arenaBytes;
            return this;
        }

        /** Also reports every event (decoded: an allocation per event), at most perSecond. */
        public Builder reportEvents(Consumer<Event> sink, long perSecond) {
            this.reportEvents = sink;
            this.reportEventsPerSecond = perSecond;
            return this;
        }

        /**
         * Kills a process by pid: for a task that left the agent cgroups in enforce mode where
         * the kernel could not signal it itself (before Linux 6.13). Unset (replay, tests): no kill.
         */
        public Builder killer(IntConsumer kill) {
            this.killer = kill;
            return this;
        }

        /** Told the pid of each tunnel connect the kernel denied (egress.tunnels: deny). Unset: nothing. */
        public Builder tunnelDenied(IntConsumer onDenied) {
            this.tunnelDenied = onDenied;
            return this;
        }

        /** At most one "classification budget exceeded" violation per interval (0: one per event over budget). */
        public Builder budgetReportIntervalMs(long intervalMs) {
            this.budgetReportIntervalMs = intervalMs;
            return this;
        }

        /**
         * Repeats of a violation (same rule, process, cgroup, GPU) within windowMs of its first
         * are counted into one summary (report.aggregation_window_ms); 0: each is reported alone.
         */
        public Builder aggregationWindowMs(long windowMs) {
            this.aggregationWindowMs = windowMs;
            return this;
        }

        /** The builder for a configuration's evidence and event reporting. */
        public Builder reporting(AgentConfig.Report report, Consumer<Event> reportSink) {
            if (report != null) {
                evidence(report.evidenceEvents(), 4L << 20);
                if (report.events()) {
                    reportEvents(reportSink, report.eventsPerSecond());
                }
            }
            return this;
        }

        public ConsumerPipeline build() {
            return new ConsumerPipeline(this);
        }
    }
}
