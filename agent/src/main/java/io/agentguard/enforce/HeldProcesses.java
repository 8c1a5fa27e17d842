package io.agentguard.enforce;

import io.agentguard.bpf.BpfMap;
import io.agentguard.bpf.Libbpf;
import io.agentguard.bpf.Libc;
import io.agentguard.log.Log;
import io.agentguard.process.KnownPrograms;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import static io.agentguard.abi.KernelAbi.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The kernel side of the tunnel hold (docs/ENFORCEMENT.md, "Tunnels"): which programs the exec
 * hook holds (ag_exec_hold by identity, ag_exec_hold_names by comm, from tunnels.programs), the
 * verdicts (ag_tunnel_pids) and the processes stopped at exec (ag_held, pinned).
 *
 * <p>The daemon never leaves a process stopped: a verdict resumes it ({@link #settle}); a hold
 * older than tunnels.hold_timeout_ms is resumed by {@link #sweep} (it stays marked PENDING, which
 * the connect hooks treat as a tunnel: fail closed on egress, open on liveness); a daemon that
 * starts resumes what a previous run left (pinned ag_held), and one that stops resumes what it
 * holds. While no daemon runs, the exec hook marks and does not stop (ag_daemon_alive).
 *
 * <p>Thread-safe: the judge's thread settles, the housekeeping thread sweeps, the consumer thread
 * asks {@link #isTunnel}; each call is a few map syscalls.
 */
public final class HeldProcesses implements AutoCloseable {
    private static final int SIGKILL = 9;
    private static final int SIGCONT = 18;

    private final BpfMap held;
    private final BpfMap tunnels;
    private final BpfMap holdExes;
    private final BpfMap holdNames;
    private final long timeoutNs;
    private final Log log;
    /** Program files the hold knows by identity -> program name ("ssh" for every file that is ssh). */
    private volatile Map<FileIdentity, String> programs = Map.of();
    /** The names of tunnels.programs (file names, at most 15 bytes as the kernel compares comm). */
    private volatile java.util.Set<String> programNames = java.util.Set.of();
    private final AtomicLong resumedByTimeout = new AtomicLong();
    private final AtomicLong resumedAtStart = new AtomicLong();
    private final AtomicLong judged = new AtomicLong();
    private final AtomicLong killed = new AtomicLong();

    public HeldProcesses(BpfMap held, BpfMap tunnels, BpfMap holdExes, BpfMap holdNames, long holdTimeoutMs, Log log) {
        this.held = held;
        this.tunnels = tunnels;
        this.holdExes = holdExes;
        this.holdNames = holdNames;
        this.timeoutNs = holdTimeoutMs * 1_000_000L;
        this.log = log;
    }

    /**
     * Resumes every process a previous run left stopped (the pinned ag_held); call once at start,
     * before this run's holds begin (its holds are judged: they are younger than startNs).
     */
    public int resumeLeftOver(long startNs) {
        int[] n = {0};
        held.forEachKey(4, key -> {
            long since = heldSince(key);
            if (since >= 0 && since < startNs) {
                resume(key.get(JAVA_INT, 0));
                held.delete(key);
                n[0]++;
            }
        });
        resumedAtStart.addAndGet(n[0]);
        if (n[0] > 0) {
            log.warn(n[0] + " process(es) stopped at exec by a previous run were resumed (still marked tunnels)");
        }
        return n[0];
    }

    /**
     * Fills the hold maps from tunnels.programs: each name as comm, and the file each name is on
     * PATH (and each path) by identity, symlinks followed; a hard link or bind mount of a program
     * under another name is held by identity. Entries no longer named are removed.
     */
    public synchronized void programs(List<String> names) {
        programs(io.agentguard.process.HostRoot.SLASH, names);
    }

    /** As above, paths and PATH directories of the host under host_root. */
    public synchronized void programs(io.agentguard.process.HostRoot host, List<String> names) {
        Map<FileIdentity, String> byIdentity = new HashMap<>();
        try (Arena arena = Arena.ofConfined()) {
            holdNames.forEachKey(CommKey.SIZEOF, holdNames::delete);
            holdExes.forEachKey(FileId.SIZEOF, holdExes::delete);
            MemorySegment one = arena.allocate(1);
            one.set(JAVA_BYTE, 0, (byte) 1);
            for (String p : names) {
                String name = p.substring(p.lastIndexOf('/') + 1);
                byte[] b = name.getBytes(StandardCharsets.UTF_8);
                MemorySegment comm = arena.allocate(CommKey.SIZEOF, 1);
                MemorySegment.copy(b, 0, comm, JAVA_BYTE, CommKey.NAME, Math.min(b.length, AG_COMM_LEN - 1));
                holdNames.update(comm, one);
                List<Path> files = p.contains("/") ? List.of(host.resolve(p))
                        : KnownPrograms.PATH_DIRS.stream().map(d -> host.resolve(d.resolve(p))).toList();
                for (Path f : files) {
                    FileIdentity id = FileIdentity.of(f);
                    if (id == null || !Files.isRegularFile(f)) {
                        continue;
                    }
                    byIdentity.putIfAbsent(new FileIdentity(id.dev(), id.ino(), 0, 0), name);
                    MemorySegment key = arena.allocate(FileId.SIZEOF, 8);
                    key.set(JAVA_LONG, FileId.DEV, id.dev());
                    key.set(JAVA_LONG, FileId.INO, id.ino());
                    holdExes.update(key, one);
                }
            }
        }
        programs = Map.copyOf(byIdentity);
        programNames = names.stream().map(p -> p.substring(p.lastIndexOf('/') + 1)).collect(
                java.util.stream.Collectors.toUnmodifiableSet());
    }

    /** Whether a file name is one of tunnels.programs (a program run through the loader, say). */
    public boolean isProgramName(String fileName) {
        return programNames.contains(fileName);
    }

    /** The tunnels.programs name of a program file known by identity (kernel dev, inode); null if none. */
    public String programOf(long dev, long ino) {
        return programs.get(new FileIdentity(dev, ino, 0, 0));
    }

    /**
     * Writes the judge's verdict, then resumes the process if it was held. A process the kernel
     * marked (enforce: PENDING, or a mark inherited from a tunnel parent) keeps a mark: PLAIN
     * removes only PENDING. In monitor mode nothing was marked: FORWARDING/TOOL are written if the
     * process still runs the judged file.
     *
     * @param verdict AG_TUNNEL_NONE (plain), AG_TUNNEL_FORWARDING or AG_TUNNEL_TOOL
     */
    public void settle(int pid, int verdict, boolean wasHeld, long dev, long ino, Path proc) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment key = arena.allocate(4, 4);
            key.set(JAVA_INT, 0, pid);
            MemorySegment value = arena.allocate(1);
            boolean marked = tunnels.lookup(key, value);
            if (verdict == AG_TUNNEL_NONE) {
                if (marked && value.get(JAVA_BYTE, 0) == AG_TUNNEL_PENDING) {
                    tunnels.delete(key);
                }
            } else if (marked) {
                value.set(JAVA_BYTE, 0, (byte) verdict);
                // BPF_EXIST: the exit hook deletes the entry; a process gone since is not marked again
                Libbpf.mapUpdateElem(tunnels.fd(), key, value, 2 /* BPF_EXIST */);
            } else if (!wasHeld && sameExe(proc, pid, dev, ino)) {
                value.set(JAVA_BYTE, 0, (byte) verdict);
                Libbpf.mapUpdateElem(tunnels.fd(), key, value, 1 /* BPF_NOEXIST */);
                if (!sameExe(proc, pid, dev, ino)) {
                    tunnels.delete(key);   // exited (or exec'd) while we wrote: its pid may be reused
                }
            }
            judged.incrementAndGet();
            if (wasHeld) {
                resume(pid);
                held.delete(key);
            }
        }
    }

    /** Resumes holds older than tunnels.hold_timeout_ms (housekeeping; the judge is late or lost the record). */
    public void sweep() {
        long now = System.nanoTime();   // CLOCK_MONOTONIC, as bpf_ktime_get_ns()
        held.forEachKey(4, key -> {
            long since = heldSince(key);
            if (since >= 0 && now - since > timeoutNs) {
                int pid = key.get(JAVA_INT, 0);
                resume(pid);
                held.delete(key);
                resumedByTimeout.incrementAndGet();
                log.warn("tunnel hold of pid " + pid
                        + " timed out: resumed as a tunnel (its connects need an explicit allow)");
            }
        });
    }

    /** Whether the kernel counts pid as a tunnel now (the exit hook removes the mark: a pid reused since is not). */
    public boolean isTunnel(int pid) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment key = arena.allocate(4, 4);
            key.set(JAVA_INT, 0, pid);
            MemorySegment value = arena.allocate(1);
            return tunnels.lookup(key, value) && value.get(JAVA_BYTE, 0) != AG_TUNNEL_NONE;
        }
    }

    /**
     * A tunnel's connect was denied: it dies, so that it cannot try another way (another address,
     * a proxy, a different port). Only while the kernel still marks it a tunnel.
     */
    public boolean killDeniedTunnel(int pid) {
        if (!isTunnel(pid)) {
            return false;
        }
        boolean done = Libc.kill(pid, SIGKILL) == 0;
        if (done) {
            killed.incrementAndGet();
        }
        return done;
    }

    /** Enters pid in ag_held as if the exec hook had stopped it at sinceNs (tests: a judge that never came). */
    public void recordHoldForTest(int pid, long sinceNs) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment key = arena.allocate(4, 4);
            key.set(JAVA_INT, 0, pid);
            MemorySegment value = arena.allocate(8, 8);
            value.set(JAVA_LONG, 0, sinceNs);
            held.update(key, value);
        }
    }

    public long resumedByTimeout() {
        return resumedByTimeout.get();
    }

    public long resumedAtStart() {
        return resumedAtStart.get();
    }

    public long judged() {
        return judged.get();
    }

    public long killed() {
        return killed.get();
    }

    /** A clean stop resumes every hold: nobody would judge them. */
    @Override
    public void close() {
        try {
            resumeLeftOver(Long.MAX_VALUE);
        } catch (RuntimeException e) {
            log.warn("could not resume held processes at stop: " + e.getMessage());
        }
    }

    private long heldSince(MemorySegment key) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment value = arena.allocate(8, 8);
            return held.lookup(key, value) ? value.get(JAVA_LONG, 0) : -1;
        }
    }

    private static void resume(int pid) {
        Libc.kill(pid, SIGCONT);   // a pid reused since gets a SIGCONT it does not notice
    }

    private static boolean sameExe(Path proc, int pid, long dev, long ino) {
        FileIdentity id = FileIdentity.of(proc.resolve(String.valueOf(pid)).resolve("exe"));
        return id != null && id.sameFile(dev, ino);
    }
}
