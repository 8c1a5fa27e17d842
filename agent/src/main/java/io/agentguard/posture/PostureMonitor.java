package io.agentguard.posture;

import com.google.protobuf.Timestamp;
import io.agentguard.abi.KernelAbi;
import io.agentguard.config.AgentConfig;
import io.agentguard.event.ExecRecord;
import io.agentguard.log.Log;
import io.agentguard.pipeline.ConsumerPipeline;
import io.agentguard.pipeline.KernelFindings;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.PostureEvent;
import io.agentguard.proto.v1.PostureSource;
import io.agentguard.proto.v1.PostureStatus;
import io.agentguard.proto.v1.Priority;
import io.agentguard.proto.v1.ProcessInfo;
import io.agentguard.proto.v1.RuleAction;
import io.agentguard.proto.v1.Violation;
import io.agentguard.scope.AgentCgroups;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * Posture: what gives processes in agent cgroups the keys to the guard, and whether the
 * guard's own paths are safe. Three sources:
 * <ul>
 *   <li>at exec: the exec record carries the new program's credentials (capability sets,
 *       euid, uid 0, no_new_privs). {@link #wants} decides on the consumer thread, without
 *       allocating, whether this (cgroup, credentials) was looked at lately; if not, the
 *       decoded event goes to the posture thread, which also reads the process's mounts;</li>
 *   <li>at start, and every {@code rescanIntervalMs}: every process in the agent cgroups, from
 *       /proc (an exec look at a process that exited before its mounts were read judged its
 *       capabilities alone; a long-lived one is looked at again here);</li>
 *   <li>the path checks ({@link #checkPaths}) at start and on reload.</li>
 * </ul>
 * A violation is raised once per (agent cgroup, finding) and again only after
 * {@code repeatAfterMs}: a root agent that execs a thousand times is one violation.
 *
 * <p>What counts: a dangerous capability ({@link Capabilities#DANGEROUS}) in the effective or
 * permitted set (held now; ambient is a subset of permitted); one in the bounding set of a
 * process with uid 0 (or holding setuid) and without no_new_privs (any exec gives it back: reported as
 * regainable); and guard files the process can write through its own mounts (cgroupfs files
 * that move processes or freeze the daemon, the pins, the configuration, rules, spool and
 * runtime directory). A non-root process without no_new_privs can still gain capabilities
 * from setuid or file-capability programs on its mounts; that is every ordinary login, and is
 * not reported.
 */
public final class PostureMonitor implements ConsumerPipeline.ExecFollowUp, AutoCloseable {
    public static final KernelFindings.Finding PRIVILEGES = new KernelFindings.Finding(
            "agentguard: dangerous privileges in agent cgroup", Priority.PRIORITY_CRITICAL, RuleAction.RULE_ACTION_NONE,
            List.of("agentguard", "posture", "T1548"),
            "A process in an agent cgroup holds capabilities, or can write files, that defeat the guard: it can load or"
                    + " detach BPF programs, leave its cgroup, freeze or trace the daemon, or rewrite its configuration."
                    + " Run agents without them (agentguard sandbox, docs/OPERATIONS.md).",
            e -> e.getPosture().getAgentCgroup());
    public static final KernelFindings.Finding UNSAFE_PATHS = new KernelFindings.Finding(
            "agentguard: unsafe guard path", Priority.PRIORITY_ERROR, RuleAction.RULE_ACTION_NONE,
            List.of("agentguard", "posture", "T1562.001"),
            "A file or directory the guard relies on (configuration, rules, spool, runtime directory, pins) can be"
                    + " written by someone other than root and the daemon's user: they can change what is enforced.",
            e -> "unsafe guard paths: " + String.join("; ", e.getPosture().getUnsafePathsList()));

    private static final int QUEUE = 256;
    private static final int SEEN_SLOTS = 1024;   // power of two

    private final AgentConfig.Posture settings;
    private final AgentCgroups cgroups;
    private final Consumer<Violation> violations;
    private final Log log;
    private final Path proc;
    private volatile GuardPaths guardPaths;
    private final BlockingQueue<Runnable> jobs = new ArrayBlockingQueue<>(QUEUE);
    private final Thread thread;
    private volatile boolean closed;

    // consumer thread only: (cgroup, credentials) keys looked at lately, and the pending exec's credentials
    private final long[] seenKeys = new long[SEEN_SLOTS];
    private final long[] seenNs = new long[SEEN_SLOTS];
    private long pendingEff;
    private long pendingPrm;
    private long pendingBnd;
    private int pendingEuid;
    private int pendingFlags;

    // posture thread (and the path check's caller): what was raised, when
    private final Map<String, Long> raised = new LinkedHashMap<>(64, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Long> eldest) {
            return size() > 4096;
        }
    };
    private final Map<String, String> latestPerCgroup = new java.util.concurrent.ConcurrentHashMap<>();
    private final AtomicLong findings = new AtomicLong();
    private final AtomicLong suppressed = new AtomicLong();
    private final AtomicLong dropped = new AtomicLong();
    private volatile List<String> unsafePaths = List.of();
    private volatile String pathsChecked = "";

    public PostureMonitor(AgentConfig.Posture settings, AgentCgroups cgroups, GuardPaths guardPaths, Consumer<Violation> violations,
                          Log log, Path proc) {
        this.settings = settings;
        this.cgroups = cgroups;
        this.guardPaths = guardPaths;
        this.violations = violations;
        this.log = log;
        this.proc = proc;
        this.thread = new Thread(this::run, "agentguard-posture");
        thread.setDaemon(true);
        if (settings.check()) {
            thread.start();
        }
    }

    // ---- consumer thread ----------------------------------------------------------------

    @Override
    public boolean wants(ExecRecord exec) {
        if (!settings.check() || exec.failed()) {
            return false;
        }
        long eff = exec.capEffective();
        long prm = exec.capPermitted();
        long bnd = exec.capBounding();
        int euid = exec.euid();
        int flags = exec.credFlags();
        long key = mix(mix(mix(exec.cgroupId() ^ ((long) euid << 32 | flags)) ^ ((eff | prm) & Capabilities.DANGEROUS))
                ^ bnd);
        long nowNs = exec.ktimeNs();
        int slot = (int) key & (SEEN_SLOTS - 1);
        if (seenKeys[slot] == key && nowNs - seenNs[slot] < settings.repeatAfterMs() * 1_000_000L) {
            return false;
        }
        seenKeys[slot] = key;   // a colliding key evicts: at worst a repeat look, never a missed one
        seenNs[slot] = nowNs;
        pendingEff = eff;
        pendingPrm = prm;
        pendingBnd = bnd;
        pendingEuid = euid;
        pendingFlags = flags;
        return true;
    }

    @Override
    public void accept(Event exec) {
        long eff = pendingEff;
        long prm = pendingPrm;
        long bnd = pendingBnd;
        int euid = pendingEuid;
        int flags = pendingFlags;
        if (!jobs.offer(() -> lookAtExec(exec, eff, prm, bnd, euid, flags))) {
            dropped.incrementAndGet();
        }
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    // ---- posture thread -------------------------------------------------------------------

    private void run() {
        while (!closed) {
            try {
                jobs.take().run();
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException | Error e) {
                log.warn("posture check failed: " + e);   // the thread goes on: one bad look must not end the checks
            }
        }
    }

    private void lookAtExec(Event exec, long eff, long prm, long bnd, int euid, int flags) {
        ProcessInfo p = exec.getProcess();
        boolean nnp = (flags & KernelAbi.AG_CRED_NO_NEW_PRIVS) != 0;
        boolean nested = (flags & KernelAbi.AG_CRED_NESTED_USER_NS) != 0;
        Credentials c;
        try {
            // the record's capability sets are the truth at exec; fsuid and groups only /proc has
            Credentials now = Credentials.read(proc.resolve(String.valueOf(p.getPid())));
            c = new Credentials(now.uid(), now.euid(), now.suid(), now.fsuid(), now.fsgid(), now.groups(), eff, prm, bnd,
                    nnp, nested);
        } catch (IOException e) {
            int uid = (flags & KernelAbi.AG_CRED_UID_ROOT) != 0 ? 0 : euid;
            c = new Credentials(uid, euid, uid, euid, p.getGid(), new int[0], eff, prm, bnd, nnp, nested);
        }
        evaluate(PostureSource.POSTURE_SOURCE_EXEC, p, exec.getTime(), exec.getMonotonicNs(), c, exec);
    }

    /** Every process already in the agent cgroups (at start, after a path check). */
    private void scanExisting(PostureSource source) {
        for (AgentCgroups.Root root : cgroups.roots()) {
            try (Stream<Path> dirs = Files.walk(root.directory())) {
                for (Path dir : dirs.filter(Files::isDirectory).toList()) {
                    List<String> pids;
                    try {
                        pids = Files.readAllLines(dir.resolve("cgroup.procs"));
                    } catch (IOException e) {
                        continue;
                    }
                    String relative = cgroups.mount().relativize(dir).toString();
                    for (String pid : pids) {
                        if (!pid.isBlank()) {
                            lookAtRunning(source, Integer.parseInt(pid.trim()), relative, AgentCgroups.inode(dir));
                        }
                    }
                }
            } catch (IOException | RuntimeException e) {
                log.warn("posture: cannot scan " + root.relativePath() + ": " + e.getMessage());
            }
        }
    }

    private void lookAtRunning(PostureSource source, int pid, String cgroupPath, long cgroupId) {
        Path dir = proc.resolve(String.valueOf(pid));
        try {
            Credentials c = Credentials.read(dir);
            String comm = Files.readString(dir.resolve("comm")).trim();
            ProcessInfo p = ProcessInfo.newBuilder().setPid(pid).setTid(pid).setUid(c.uid()).setGid(c.fsgid())
                    .setComm(comm).setCgroupPath(cgroupPath).setCgroupId(cgroupId).build();
            long nowMs = System.currentTimeMillis();
            evaluate(source, p, Timestamp.newBuilder().setSeconds(nowMs / 1000).setNanos((int) (nowMs % 1000) * 1_000_000)
                    .build(), 0, c, null);
        } catch (IOException | RuntimeException e) {
            // exited meanwhile
        }
    }

    private void evaluate(PostureSource source, ProcessInfo p, Timestamp time, long monotonicNs, Credentials c,
                          Event exec) {
        long held = c.dangerousHeld();
        long regain = c.dangerousRegainable();
        List<String> writable = List.of();
        try {
            MountTable mounts = MountTable.read(proc.resolve(p.getPid() + "/mountinfo"));
            writable = guardPaths.writableBy(c, mounts, MountTable.read(proc.resolve("self/mountinfo")));
        } catch (IOException e) {
            // the process is gone: its capabilities are still worth saying
        }
        if (held == 0 && regain == 0 && writable.isEmpty()) {
            return;
        }
        String root = rootOf(p.getCgroupPath());
        StringBuilder what = new StringBuilder();
        if (held != 0) {
            what.append("holds ").append(String.join(", ", Capabilities.names(held)));
        }
        if (regain != 0) {
            what.append(what.isEmpty() ? "" : "; ").append("can regain ").append(String.join(", ", Capabilities.names(regain)))
                    .append(" by exec (uid 0, no no_new_privs)");
        }
        if (!writable.isEmpty()) {
            what.append(what.isEmpty() ? "" : "; ").append("can write ").append(String.join(", ", writable));
        }
        String line = "dangerous privileges in agent cgroup " + root + ": " + p.getComm() + " (pid " + p.getPid()
                + ", uid " + c.euid() + ", cgroup " + p.getCgroupPath() + ") " + what;
        // capabilities and writable paths are counted apart: a process that exited before its
        // mounts were read says nothing about paths, and must not make its capabilities new again
        boolean newPrivileges = (held | regain) != 0 && shouldRaise(root + "|caps|" + held + "|" + regain);
        boolean newPaths = !writable.isEmpty() && shouldRaise(root + "|paths|" + writable);
        if (!newPrivileges && !newPaths) {
            return;
        }
        latestPerCgroup.put(root, line);
        Event evidence = Event.newBuilder().setTime(time).setMonotonicNs(monotonicNs).setProcess(p)
                .setPosture(PostureEvent.newBuilder().setSource(source).setAgentCgroup(root)
                        .addAllCapabilities(Capabilities.names(held)).addAllRegainableCapabilities(Capabilities.names(regain))
                        .setCapEffective(c.capEffective()).setCapPermitted(c.capPermitted()).setCapBounding(c.capBounding())
                        .setNoNewPrivs(c.noNewPrivs()).setEuid(c.euid()).addAllWritablePaths(writable))
                .build();
        Violation.Builder v = KernelFindings.violation(PRIVILEGES, line, evidence);
        if (exec != null) {
            v.addEvidence(exec);
        }
        findings.incrementAndGet();
        log.warn(line);
        violations.accept(v.build());
    }

    private synchronized boolean shouldRaise(String key) {
        long now = System.nanoTime();
        Long last = raised.get(key);
        if (last != null && now - last < settings.repeatAfterMs() * 1_000_000L) {
            suppressed.incrementAndGet();
            return false;
        }
        raised.put(key, now);
        return true;
    }

    private String rootOf(String cgroupPath) {
        for (AgentCgroups.Root r : cgroups.roots()) {
            if (cgroupPath.equals(r.relativePath()) || cgroupPath.startsWith(r.relativePath() + "/")) {
                return r.relativePath();
            }
        }
        return cgroupPath;
    }

    // ---- start, reload --------------------------------------------------------------------

    /** At start: the processes already in the agent cgroups are looked at (on the posture thread). */
    public void scanAtStart() {
        if (settings.check() && !jobs.offer(() -> scanExisting(PostureSource.POSTURE_SOURCE_START))) {
            dropped.incrementAndGet();
        }
    }

    /** Periodically (housekeeping): every process in the agent cgroups again, for those the exec look missed. */
    public void rescan() {
        if (settings.check() && !jobs.offer(() -> scanExisting(PostureSource.POSTURE_SOURCE_RESCAN))) {
            dropped.incrementAndGet();
        }
    }

    /**
     * Checks the guard's paths now (start, reload): logs each unsafe one at WARN, keeps the list
     * for status, raises one violation when there are any (again at each check: a reload is
     * when an operator looks); then looks again at the agents' processes, whose view of the new
     * paths may differ. Returns the unsafe paths.
     */
    public List<String> checkPaths(GuardPaths paths, String when) {
        return checkPaths(paths, when, true);
    }

    /** As {@link #checkPaths(GuardPaths, String)}; lookAgain false at start, where the start scan follows. */
    public List<String> checkPaths(GuardPaths paths, String when, boolean lookAgain) {
        this.guardPaths = paths;
        List<String> unsafe = paths.unsafe(io.agentguard.bpf.Libc.geteuid());
        unsafePaths = unsafe;
        pathsChecked = when;
        if (unsafe.isEmpty()) {
            log.info("paths: ok (" + when + ")");
        } else {
            for (String u : unsafe) {
                log.warn("unsafe guard path (" + when + "): " + u);
            }
            long nowMs = System.currentTimeMillis();
            Event evidence = Event.newBuilder()
                    .setTime(Timestamp.newBuilder().setSeconds(nowMs / 1000).setNanos((int) (nowMs % 1000) * 1_000_000))
                    .setPosture(PostureEvent.newBuilder().setSource(PostureSource.POSTURE_SOURCE_PATH_CHECK)
                            .addAllUnsafePaths(unsafe))
                    .build();
            findings.incrementAndGet();
            violations.accept(KernelFindings.violation(UNSAFE_PATHS, evidence).build());
        }
        if (lookAgain && settings.check() && !jobs.offer(() -> scanExisting(PostureSource.POSTURE_SOURCE_RESCAN))) {
            dropped.incrementAndGet();
        }
        return unsafe;
    }

    public PostureStatus status() {
        return PostureStatus.newBuilder().addAllUnsafePaths(unsafePaths).setPathsChecked(pathsChecked)
                .setFindingsTotal(findings.get()).setRepeatsSuppressedTotal(suppressed.get()).setDroppedTotal(dropped.get())
                .addAllAgentFindings(new ArrayList<>(new java.util.TreeMap<>(latestPerCgroup).values())).build();
    }

    public long findings() {
        return findings.get();
    }

    @Override
    public void close() {
        closed = true;
        thread.interrupt();
    }
}
