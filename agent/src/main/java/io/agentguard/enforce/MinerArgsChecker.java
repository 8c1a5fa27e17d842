package io.agentguard.enforce;

import io.agentguard.bpf.Libc;
import io.agentguard.event.ExecRecord;
import io.agentguard.log.Log;
import io.agentguard.pipeline.ConsumerPipeline;
import io.agentguard.pipeline.KernelFindings;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.ExecEvent;
import io.agentguard.proto.v1.Verdict;
import io.agentguard.proto.v1.Violation;
import io.agentguard.rules.MinerArgsScanner;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

import static io.agentguard.abi.KernelAbi.AG_EXEC_ARGS_TRUNCATED;
import static io.agentguard.abi.KernelAbi.AG_VERDICT_ALLOWED;

/**
 * Miner flags past the end of the exec record: an argv longer than exec.max_args_bytes
 * reaches the rules cut short, so "5,000 bytes of filler, then --donate-level 1 -o
 * stratum+tcp://..." hides from every rule. For such execs (AG_EXEC_ARGS_TRUNCATED) the
 * daemon reads the whole command line, up to {@link MinerArgsScanner#MAX_BYTES}, from
 * /proc/PID/cmdline while the process runs, and scans it ({@link MinerArgsScanner}). A
 * miner is killed in enforce mode (after checking that the pid still runs the file the record
 * names) and reported as "agentguard: miner arguments beyond the exec record".
 *
 * <p>The process runs until it is judged (a few milliseconds: one read of /proc); a miner
 * does its pool login over the network first, which takes longer. Bounded: a queue of
 * {@value #QUEUE} execs (more are counted and dropped); one thread,
 * {@code agentguard-miner-args}; the consumer thread only queues. A process that rewrote its
 * argv area before the read is judged by what it wrote.
 */
public final class MinerArgsChecker implements ConsumerPipeline.ExecFollowUp, AutoCloseable {
    static final int QUEUE = 256;

    private final PolicyController policies;
    private final Consumer<Violation> violations;
    private final Path proc;
    private final FollowUpWorker worker;
    private final AtomicLong killed = new AtomicLong();
    private final byte[] buffer = new byte[MinerArgsScanner.MAX_BYTES];

    public MinerArgsChecker(PolicyController policies, Consumer<Violation> violations, Log log, Path proc) {
        this.policies = policies;
        this.violations = violations;
        this.proc = proc;
        this.worker = new FollowUpWorker("agentguard-miner-args", QUEUE, "miner argument check", log, this::check);
    }

    @Override
    public boolean wants(ExecRecord exec) {
        return (exec.flags() & AG_EXEC_ARGS_TRUNCATED) != 0 && !exec.failed() && exec.verdict() == AG_VERDICT_ALLOWED;
    }

    @Override
    public void accept(Event exec) {
        worker.offer(exec);
    }

    public long dropped() {
        return worker.dropped();
    }

    public long killed() {
        return killed.get();
    }

    @Override
    public void close() {
        worker.close();
    }

    /** The verdict on one exec; package-private for tests. */
    void check(Event e) {
        int pid = e.getProcess().getPid();
        ExecEvent x = e.getExec();
        long dev = ((long) x.getDevMajor() << 20) | x.getDevMinor();
        Path dir = proc.resolve(String.valueOf(pid));
        FileIdentity before = FileIdentity.of(dir.resolve("exe"));
        if (before == null || !before.sameFile(dev, x.getInode())) {
            return;   // exited, or exec'd again (that exec has its own record)
        }
        int n = read(dir.resolve("cmdline"));
        String why = n > 0 ? MinerArgsScanner.scan(buffer, n) : null;
        if (why == null) {
            return;
        }
        String cgroup = e.getProcess().getCgroupPath();
        boolean enforce = policies.enforcing(cgroup);
        boolean done = false;
        if (enforce) {
            FileIdentity now = FileIdentity.of(dir.resolve("exe"));   // never kill a process that reused the pid
            if (now != null && now.sameFile(dev, x.getInode())) {
                done = Libc.kill(pid, 9) == 0;
            }
            if (done) {
                killed.incrementAndGet();
            }
        }
        Event evidence = e.toBuilder().setExec(x.toBuilder().setAfterStart(true)
                .setVerdict(enforce ? Verdict.VERDICT_DENIED : Verdict.VERDICT_WOULD_BLOCK)).build();
        KernelFindings.Finding finding = enforce ? KernelFindings.MINER_ARGS_KILLED : KernelFindings.MINER_ARGS_SEEN;
        String output = finding.output().apply(evidence) + ": " + why + " at byte " + offsetOf(why, n) + " of " + n
                + (enforce && !done ? " (the process had exited already)" : "");
        violations.accept(KernelFindings.violation(finding, output, evidence).build());
    }

    /** Where the command line gave itself away (for the output: past the record's end is the point). */
    private int offsetOf(String why, int n) {
        String text = new String(buffer, 0, n, java.nio.charset.StandardCharsets.ISO_8859_1);
        for (String token : why.split(" ")) {
            int at = text.indexOf(token);
            if (token.length() > 3 && at >= 0) {
                return at;
            }
        }
        return -1;
    }

    /** Up to MAX_BYTES of a /proc file into buffer; the bytes read, or -1. */
    private int read(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            int total = 0;
            int r;
            while (total < buffer.length && (r = in.read(buffer, total, buffer.length - total)) > 0) {
                total += r;
            }
            return total;
        } catch (IOException | RuntimeException ex) {
            return -1;
        }
    }
}
