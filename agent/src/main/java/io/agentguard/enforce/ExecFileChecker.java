package io.agentguard.enforce;

import io.agentguard.bpf.Libc;
import io.agentguard.config.Policy;
import io.agentguard.event.ExecRecord;
import io.agentguard.log.Log;
import io.agentguard.pipeline.ConsumerPipeline;
import io.agentguard.pipeline.KernelFindings;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.ExecDenyMatch;
import io.agentguard.proto.v1.ExecEvent;
import io.agentguard.proto.v1.Verdict;
import io.agentguard.proto.v1.Violation;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

import static io.agentguard.abi.KernelAbi.*;

/**
 * Judges, after they started, the execs of agent tasks that the kernel cannot judge
 * synchronously (docs/ENFORCEMENT.md, "Exec identity"):
 * <ul>
 *   <li>by content: the SHA-256 of the executed file against {@code exec.deny_sha256} and the
 *       digests of the files that {@code exec.deny} paths name; this catches a renamed copy or
 *       a memfd copy of a denied program, which have inodes of their own;</li>
 *   <li>behind the dynamic loader: for {@code ld.so [options] PROGRAM}, PROGRAM (from argv,
 *       resolved in the process's root and working directory) by name, path, identity and
 *       digest.</li>
 * </ul>
 * A match kills the process (enforce mode; after checking that the pid still runs the file
 * the record names) and raises {@link KernelFindings#EXEC_KILLED_AFTER_START} with the exec
 * event as evidence, or reports it (monitor).
 *
 * <p>Work is bounded: a queue of {@value #QUEUE} execs (more are counted and dropped), files
 * larger than {@code exec.hash_max_bytes} are not hashed, and digests are cached by (device,
 * inode, size, mtime), so the shells and interpreters agents run over and over are read once.
 * One thread, {@code agentguard-exec-check}; the consumer thread only queues.
 */
public final class ExecFileChecker implements ConsumerPipeline.ExecFollowUp, AutoCloseable {
    static final int QUEUE = 1024;
    private static final int CACHE = 4096;
    private static final Set<String> LOADER_OPTIONS_WITH_VALUE = Set.of("--library-path", "--inhibit-rpath", "--audit",
            "--preload", "--argv0", "--glibc-hwcaps-prepend", "--glibc-hwcaps-mask");

    private final PolicyController policies;
    private final long hashMaxBytes;
    private final Consumer<Violation> violations;
    private final Path proc;
    private final FollowUpWorker worker;
    private final AtomicLong unchecked = new AtomicLong();
    private final AtomicLong killed = new AtomicLong();
    /** Whether any policy in force asks for digests (else only loader execs are followed up). */
    private volatile boolean anyDigests;
    private volatile boolean anyDeny;
    /** (dev:ino:size:mtime) -> hex digest; worker thread only. */
    private final Map<String, String> digests = new LinkedHashMap<>(256, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, String> eldest) {
            return size() > CACHE;
        }
    };

    public ExecFileChecker(PolicyController policies, long hashMaxBytes, Consumer<Violation> violations, Log log, Path proc) {
        this.policies = policies;
        this.hashMaxBytes = hashMaxBytes;
        this.violations = violations;
        this.proc = proc;
        policies.onChange(this::policiesChanged);
        this.worker = new FollowUpWorker("agentguard-exec-check", QUEUE, "exec check", log, this::check);
    }

    private void policiesChanged() {
        List<Policy> all = policies.policiesInForce();
        anyDigests = all.stream().anyMatch(Policy::execChecksFiles);
        anyDeny = all.stream().anyMatch(p -> p.execChecksFiles() || !p.execDenyNames().isEmpty());
    }

    @Override
    public boolean wants(ExecRecord exec) {
        if (exec.failed() || exec.verdict() != AG_VERDICT_ALLOWED) {
            return false;   // never ran, killed already, or the kernel's would-block is reported already
        }
        return anyDigests || anyDeny && exec.loader();
    }

    @Override
    public void accept(Event exec) {
        worker.offer(exec);
    }

    /** Execs not judged: queue full (dropped) or the process and its file gone before the check. */
    public long dropped() {
        return worker.dropped();
    }

    public long unchecked() {
        return unchecked.get();
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
        ExecEvent x = e.getExec();
        String cgroup = e.getProcess().getCgroupPath();
        Policy policy = policies.effectivePolicy(cgroup);
        Set<String> denied = deniedDigests(policy);
        int pid = e.getProcess().getPid();
        long dev = ((long) x.getDevMajor() << 20) | x.getDevMinor();
        Path exe = proc.resolve(String.valueOf(pid)).resolve("exe");

        if (!denied.isEmpty()) {
            FileIdentity id = FileIdentity.of(exe);   // /proc/PID/exe opens memfds and deleted files too
            if (id == null || !id.sameFile(dev, x.getInode())) {
                unchecked.incrementAndGet();   // exited, or exec'd again (that exec has its own record)
            } else {
                String digest = digest(exe, id);
                if (digest != null && denied.contains(digest)) {
                    deny(e, policy, cgroup, ExecDenyMatch.EXEC_DENY_MATCH_SHA256, digest, "");
                    return;
                }
            }
        }
        if (x.getLoader()) {
            String program = loaderProgram(x.getArgsList());
            if (program == null) {
                return;
            }
            Path root = proc.resolve(String.valueOf(pid)).resolve(program.startsWith("/") ? "root" : "cwd");
            Path file = root.resolve(program.startsWith("/") ? program.substring(1) : program);
            String base = program.substring(program.lastIndexOf('/') + 1);
            String name = base.length() > AG_COMM_LEN - 1 ? base.substring(0, AG_COMM_LEN - 1) : base;
            FileIdentity id = FileIdentity.of(file);
            ExecDenyMatch match = null;
            String digest = "";
            if (policy.execDenyNames().contains(name)) {
                match = ExecDenyMatch.EXEC_DENY_MATCH_NAME;
            } else if (policy.execDenyPaths().contains(program)) {
                match = ExecDenyMatch.EXEC_DENY_MATCH_PATH;
            } else if (id != null && policy.execDenyPaths().stream().map(p -> FileIdentity.of(policies.hostRoot().resolve(p)))
                    .anyMatch(d -> d != null && d.sameFile(id.dev(), id.ino()))) {
                match = ExecDenyMatch.EXEC_DENY_MATCH_IDENTITY;
            } else if (id != null && !denied.isEmpty()) {
                String d = digest(file, id);
                if (d != null && denied.contains(d)) {
                    match = ExecDenyMatch.EXEC_DENY_MATCH_SHA256;
                    digest = d;
                }
            }
            if (match != null) {
                deny(e, policy, cgroup, match, digest, program);
            }
        }
    }

    /** The program an ld.so command line runs: the first argument after the loader's options; null for --list/--verify. */
    static String loaderProgram(List<String> args) {
        for (int i = 1; i < args.size(); i++) {
            String a = args.get(i);
            if (a.equals("--list") || a.equals("--verify") || a.equals("--help") || a.equals("--version")
                    || a.equals("--list-tunables") || a.equals("--list-diagnostics")) {
                return null;   // inspects, runs nothing
            }
            if (LOADER_OPTIONS_WITH_VALUE.contains(a)) {
                i++;
            } else if (!a.startsWith("--")) {
                return a;
            }
        }
        return null;
    }

    private Set<String> deniedDigests(Policy policy) {
        if (!policy.execChecksFiles()) {
            return Set.of();
        }
        java.util.HashSet<String> out = new java.util.HashSet<>(policy.execDenySha256());
        for (String p : policy.execDenyPaths()) {
            Path path = policies.hostRoot().resolve(p);
            FileIdentity id = FileIdentity.of(path);
            if (id != null) {
                String d = digest(path, id);
                if (d != null) {
                    out.add(d);
                }
            }
        }
        return out;
    }

    /** SHA-256 of a file (cached by identity, size and mtime); null when too large or unreadable. */
    private String digest(Path file, FileIdentity id) {
        if (id.size() > hashMaxBytes) {
            return null;
        }
        String key = id.dev() + ":" + id.ino() + ":" + id.size() + ":" + id.mtimeNs();
        String cached = digests.get(key);
        if (cached != null) {
            return cached;
        }
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            byte[] buffer = new byte[64 * 1024];
            long total = 0;
            int n;
            while ((n = in.read(buffer)) > 0 && total <= hashMaxBytes) {
                sha.update(buffer, 0, n);
                total += n;
            }
            if (total > hashMaxBytes) {
                return null;
            }
            String hex = HexFormat.of().formatHex(sha.digest());
            digests.put(key, hex);
            return hex;
        } catch (IOException | NoSuchAlgorithmException | RuntimeException ex) {
            return null;
        }
    }

    private void deny(Event e, Policy policy, String cgroup, ExecDenyMatch match, String digest, String program) {
        boolean enforce = policies.enforcing(cgroup);
        int pid = e.getProcess().getPid();
        ExecEvent x = e.getExec();
        boolean done = false;
        if (enforce) {
            // the pid must still run the file the record names: never kill a process that reused it
            FileIdentity now = FileIdentity.of(proc.resolve(String.valueOf(pid)).resolve("exe"));
            long dev = ((long) x.getDevMajor() << 20) | x.getDevMinor();
            if (now != null && now.sameFile(dev, x.getInode())) {
                done = Libc.kill(pid, 9) == 0;
            }
            if (done) {
                killed.incrementAndGet();
            }
        }
        Event evidence = e.toBuilder().setExec(x.toBuilder().setDenyMatch(match).setSha256(digest).setProgram(program)
                .setAfterStart(true).setVerdict(enforce ? Verdict.VERDICT_DENIED : Verdict.VERDICT_WOULD_BLOCK)).build();
        KernelFindings.Finding finding = enforce ? KernelFindings.EXEC_KILLED_AFTER_START : KernelFindings.EXEC_DENIED_AFTER_START;
        String output = finding.output().apply(evidence) + (enforce && !done ? " (the process had exited already)" : "");
        violations.accept(KernelFindings.violation(finding, output, evidence).build());
    }
}
