package io.agentguard.daemon;

import com.google.protobuf.Timestamp;
import io.agentguard.bpf.StateDrift;
import io.agentguard.enforce.PolicyController;
import io.agentguard.log.Log;
import io.agentguard.pipeline.KernelFindings;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.KernelStateStatus;
import io.agentguard.proto.v1.TamperEvent;
import io.agentguard.proto.v1.TamperKind;
import io.agentguard.proto.v1.Violation;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;

/**
 * Checks the daemon's own kernel objects against the kernel on the housekeeping timer (and
 * once at start, where a pinned link that failed its adoption check is reported): links,
 * pins and the maps written by {@link KernelHooks} and by the policy maps. Whatever differs
 * is put back where possible and becomes a STATE_DRIFT tamper event and a violation
 * ({@link KernelFindings#STATE_DRIFT_REPAIRED} or {@link KernelFindings#STATE_DRIFT_UNREPAIRED}).
 * Something that cannot be put back is reported once, when first found, not at every check.
 *
 * <p>Cost: a few bpf() calls per link, pin and written map entry per check; nothing per event.
 */
final class KernelStateVerifier {
    private final KernelHooks kernel;
    private final PolicyController policies;
    private final long intervalMs;
    private final Consumer<Event> events;
    private final Consumer<Violation> violations;
    private final Log log;
    private final Map<String, LongAdder> driftByObject = new ConcurrentHashMap<>();
    private final LongAdder checks = new LongAdder();
    private final LongAdder drifts = new LongAdder();
    private final LongAdder repaired = new LongAdder();
    private Set<String> ongoing = Set.of();   // housekeeping thread only
    private volatile List<String> unrepaired = List.of();
    private volatile String lastDrift = "";
    private volatile long lastCheckEpochMs;

    KernelStateVerifier(KernelHooks kernel, PolicyController policies, long intervalMs, Consumer<Event> events,
                        Consumer<Violation> violations, Log log) {
        this.kernel = kernel;
        this.policies = policies;
        this.intervalMs = intervalMs;
        this.events = events;
        this.violations = violations;
        this.log = log;
    }

    /** One check of everything (housekeeping thread); never throws, so the timer keeps running. */
    void run() {
        try {
            List<StateDrift> found = new ArrayList<>(kernel.verify());
            KernelHooks.step(found, "policy maps", policies::verifyMaps);
            Set<String> stillUnrepaired = new HashSet<>();
            List<String> lines = new ArrayList<>();
            for (StateDrift d : found) {
                String key = d.object() + " " + d.name() + ": " + d.drift();
                if (!d.repaired()) {
                    stillUnrepaired.add(key);
                    lines.add(d.toString());
                    if (ongoing.contains(key)) {
                        continue;   // reported when first found
                    }
                }
                raise(d);
            }
            ongoing = stillUnrepaired;
            unrepaired = List.copyOf(lines);
            checks.increment();
            lastCheckEpochMs = System.currentTimeMillis();
        } catch (RuntimeException | AssertionError e) {   // AssertionError: how the bindings report a failed downcall
            log.warn("kernel state check failed (next check as scheduled): " + e);
        }
    }

    private void raise(StateDrift d) {
        drifts.increment();
        if (d.repaired()) {
            repaired.increment();
        }
        driftByObject.computeIfAbsent(d.object() + "\u0000" + d.repaired(), k -> new LongAdder()).increment();
        lastDrift = d.toString();
        log.warn("kernel state drift: " + d);
        long nowMs = System.currentTimeMillis();
        Event evidence = Event.newBuilder()
                .setTime(Timestamp.newBuilder().setSeconds(nowMs / 1000).setNanos((int) (nowMs % 1000) * 1_000_000))
                .setMonotonicNs(System.nanoTime())
                .setTamper(TamperEvent.newBuilder().setKind(TamperKind.TAMPER_KIND_STATE_DRIFT)
                        .setTargetPid((int) ProcessHandle.current().pid())
                        .setObject(d.object()).setObjectName(d.name()).setDrift(d.drift())
                        .setRepaired(d.repaired()).setRepair(d.repair()))
                .build();
        events.accept(evidence);
        KernelFindings.Finding finding = d.repaired() ? KernelFindings.STATE_DRIFT_REPAIRED
                : KernelFindings.STATE_DRIFT_UNREPAIRED;
        violations.accept(KernelFindings.violation(finding, evidence).build());
    }

    /** Drift found so far by (object, repaired): what agentguard_state_drift_total counts. */
    void forEachDriftCount(DriftCount visitor) {
        driftByObject.forEach((k, v) -> {
            int sep = k.indexOf('\u0000');
            visitor.count(k.substring(0, sep), Boolean.parseBoolean(k.substring(sep + 1)), v.sum());
        });
    }

    @FunctionalInterface
    interface DriftCount {
        void count(String object, boolean repaired, long total);
    }

    long checks() {
        return checks.sum();
    }

    KernelStateStatus status() {
        KernelStateStatus.Builder b = KernelStateStatus.newBuilder().setVerifyIntervalMs(intervalMs)
                .setChecksTotal(checks.sum()).setDriftTotal(drifts.sum()).setRepairedTotal(repaired.sum())
                .addAllUnrepaired(unrepaired).setLastDrift(lastDrift);
        long last = lastCheckEpochMs;
        if (last > 0) {
            b.setLastCheck(Timestamp.newBuilder().setSeconds(last / 1000).setNanos((int) (last % 1000) * 1_000_000));
        }
        return b.build();
    }
}
