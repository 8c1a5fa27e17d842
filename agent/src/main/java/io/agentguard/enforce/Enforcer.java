package io.agentguard.enforce;

import io.agentguard.bpf.Errno;
import io.agentguard.bpf.Libc;
import io.agentguard.event.EventSink;
import io.agentguard.proto.v1.ActionEvent;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.Priority;
import io.agentguard.proto.v1.RuleActionKind;
import io.agentguard.proto.v1.Verdict;
import io.agentguard.proto.v1.Violation;
import io.agentguard.rules.CompiledRule;
import io.agentguard.rules.RuleItems.Action;
import io.agentguard.rules.RuleLoader;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * Carries out the actions rules ask for (kill the process, kill or freeze its cgroup,
 * block the destination for its cgroup), on its own thread: the consumer thread only
 * offers to a bounded queue. When the queue is full the action is dropped, counted and
 * reported as an action event with result "dropped: queue full" rather than stalling the
 * ring. Every action, carried out or not, is an {@link ActionEvent}.
 */
public final class Enforcer implements AutoCloseable {
    private static final int SIGKILL = 9;

    /** Adds a temporary deny entry for a cgroup's policy; returns "ok" or why not. */
    @FunctionalInterface
    public interface Blocker {
        String block(String cgroupPath, String address, int protocol, int port, long durationMs);
    }

    private record Job(Violation violation, CompiledRule rule) {
    }

    private final BlockingQueue<Job> queue = new ArrayBlockingQueue<>(1024);
    private final Path cgroupMount;
    private final Predicate<String> enforcingCgroup;
    private final BlastRadiusGuard guard;
    private final Blocker blocker;
    private final long blockDurationMs;
    private final EventSink events;
    private final Consumer<Violation> violations;
    private final Thread thread;
    private final AtomicLong dropped = new AtomicLong();
    private final AtomicLong carriedOut = new AtomicLong();
    private volatile boolean running = true;
    private volatile boolean rearmRequested;

    /**
     * @param enforcingCgroup whether the policy of a cgroup (path) is in enforce mode, for
     *                        rules without a mode of their own
     */
    public Enforcer(Path cgroupMount, Predicate<String> enforcingCgroup, BlastRadiusGuard guard, Blocker blocker,
                    long blockDurationMs, EventSink events, Consumer<Violation> violations) {
        this.cgroupMount = cgroupMount;
        this.enforcingCgroup = enforcingCgroup;
        this.guard = guard;
        this.blocker = blocker;
        this.blockDurationMs = blockDurationMs;
        this.events = events;
        this.violations = violations;
        this.thread = Thread.ofPlatform().name("agentguard-enforcer").daemon(true).start(this::run);
    }

    /** Consumer thread: never blocks. */
    public void submit(Violation violation, CompiledRule rule) {
        if (rule.action() == Action.NONE) {
            return;
        }
        if (!queue.offer(new Job(violation, rule))) {
            dropped.incrementAndGet();
            events.accept(action(violation, rule, Verdict.VERDICT_ALLOWED, "dropped: action queue full").build());
        }
    }

    public long dropped() {
        return dropped.get();
    }

    public long carriedOut() {
        return carriedOut.get();
    }

    public boolean disarmed() {
        return guard.disarmed();
    }

    private void run() {
        while (running) {
            Job job;
            try {
                job = queue.poll(200, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                return;
            }
            if (job != null) {
                try {
                    execute(job.violation(), job.rule());
                } catch (RuntimeException e) {
                    events.accept(action(job.violation(), job.rule(), Verdict.VERDICT_ALLOWED, "failed: " + e).build());
                }
            }
        }
    }

    void execute(Violation v, CompiledRule rule) {
        if (rearmRequested) {
            rearmRequested = false;
            guard.rearm();
        }
        String cgroup = v.getCgroupPath();
        boolean enforce = rule.enforce() != null ? rule.enforce() : enforcingCgroup.test(cgroup);
        if (!enforce) {
            events.accept(action(v, rule, Verdict.VERDICT_WOULD_BLOCK, "monitor mode").build());
            return;
        }
        Action a = rule.action();
        // The pack's kill rules are vetted and high-confidence; guarding them would let the watched
        // agent disarm every kill by tripping the guard with a few distinct programs first.
        if ((a == Action.KILL_PROCESS || a == Action.KILL_CGROUP) && !fromDefaultPack(rule)) {
            String target = a == Action.KILL_CGROUP ? "cgroup:" + cgroup : "exe:" + v.getProcess().getExe();
            boolean wasDisarmed = guard.disarmed();
            if (!guard.allow(target, System.nanoTime())) {
                events.accept(action(v, rule, Verdict.VERDICT_WOULD_BLOCK, "disarmed by the blast-radius guard").build());
                if (!wasDisarmed) {
                    violations.accept(tripped(v, rule));
                }
                return;
            }
        }
        String result = switch (a) {
            case KILL_PROCESS -> {
                int rc = Libc.kill(v.getProcess().getPid(), SIGKILL);
                yield rc == 0 ? "ok" : Errno.name(-rc);
            }
            case KILL_CGROUP -> writeCgroupFile(cgroup, "cgroup.kill");
            case FREEZE_CGROUP -> writeCgroupFile(cgroup, "cgroup.freeze");
            case BLOCK_DESTINATION -> {
                Event evidence = v.getEvidence(0);
                if (!evidence.hasConnect() || evidence.getConnect().getAddress().isEmpty()) {
                    yield "not a connect event: nothing to block";
                }
                var c = evidence.getConnect();
                yield blocker.block(cgroup, c.getAddress(), 0, c.getPort(), blockDurationMs);
            }
            case NONE -> "ok";
        };
        if (result.equals("ok")) {
            carriedOut.incrementAndGet();
        }
        events.accept(action(v, rule, result.equals("ok") ? Verdict.VERDICT_DENIED : Verdict.VERDICT_ALLOWED, result)
                .build());
    }

    private String writeCgroupFile(String cgroup, String file) {
        if (cgroup.isEmpty()) {
            return "cgroup unknown";
        }
        try {
            Files.writeString(cgroupMount.resolve(cgroup).resolve(file), "1");
            return "ok";
        } catch (IOException e) {
            return file + ": " + e.getMessage();
        }
    }

    private Event.Builder action(Violation v, CompiledRule rule, Verdict verdict, String result) {
        ActionEvent.Builder a = ActionEvent.newBuilder()
                .setKind(switch (rule.action()) {
                    case KILL_PROCESS -> RuleActionKind.RULE_ACTION_KIND_KILL_PROCESS;
                    case KILL_CGROUP -> RuleActionKind.RULE_ACTION_KIND_KILL_CGROUP;
                    case FREEZE_CGROUP -> RuleActionKind.RULE_ACTION_KIND_FREEZE_CGROUP;
                    case BLOCK_DESTINATION -> RuleActionKind.RULE_ACTION_KIND_BLOCK_DESTINATION;
                    case NONE -> RuleActionKind.RULE_ACTION_KIND_UNSPECIFIED;
                })
                .setRule(rule.name())
                .setVerdict(verdict)
                .setTargetPid(v.getProcess().getPid())
                .setTargetCgroup(v.getCgroupPath())
                .setResult(result);
        if (rule.action() == Action.BLOCK_DESTINATION && v.getEvidence(0).hasConnect()) {
            a.setDestination(v.getEvidence(0).getConnect().getAddress()).setPort(v.getEvidence(0).getConnect().getPort())
                    .setExpiresInMs(blockDurationMs);
        }
        return Event.newBuilder().setTime(v.getTime()).setMonotonicNs(v.getEvidence(0).getMonotonicNs())
                .setProcess(v.getProcess()).setAction(a);
    }

    private Violation tripped(Violation v, CompiledRule rule) {
        Violation.Builder t = Violation.newBuilder()
                .setTime(v.getTime())
                .setRule("agentguard blast-radius guard tripped")
                .setPriority(Priority.PRIORITY_CRITICAL)
                .addTags("agentguard")
                .setOutput("kill actions would have hit more than the allowed number of distinct cgroups/executables"
                        + " within the window (last: rule '" + rule.name() + "' on pid " + v.getProcess().getPid()
                        + " in " + v.getCgroupPath() + "); kill actions are disarmed and only reported until the rules"
                        + " are reloaded or the agent restarts")
                .setDescription("A kill action fired too widely: possibly a bad rule. Disarmed to limit the damage.")
                .setProcess(v.getProcess())
                .setCgroupPath(v.getCgroupPath())
                .addEvidence(v.getEvidence(0));
        if (v.hasWorkload()) {
            t.setWorkload(v.getWorkload());
        }
        return t.build();
    }

    private static boolean fromDefaultPack(CompiledRule rule) {
        return rule.position() != null && RuleLoader.DEFAULT_PACK_NAME.equals(rule.position().file());
    }

    /** Re-arms the blast-radius guard before the next action (on a successful rules reload; any thread). */
    public void rearm() {
        rearmRequested = true;
    }

    @Override
    public void close() {
        running = false;
        thread.interrupt();
        try {
            thread.join(5000);   // an action in progress (a block writes policy maps) ends first
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
