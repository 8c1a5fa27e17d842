package io.agentguard.process;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * What the agent knows about processes in agent cgroups (and their ancestors): pid to
 * executable, argv, parent, cgroup, start time, and the state rules use (GPU compute
 * context, GPU memory, distinct destinations in a time window), per process and per
 * cgroup. Followed from exec, fork and exit records; seeded from /proc at start.
 *
 * <p>Owned by the consumer thread: no locks. Struct-of-arrays with a pid index; bounded at
 * {@code capacity} processes, evicting the least recently seen of a small sample when full
 * (counted in {@link #evictions()}). Lookups allocate nothing; exec allocates the strings
 * it stores.
 */
public final class ProcessTable {
    public static final int MAX_ANCESTORS = 32;
    private static final int EVICTION_SAMPLE = 32;
    private static final int MAX_CGROUPS = 4096;

    private final int capacity;
    private final long windowNs;
    private final LongIndex byPid;
    private final int[] pid;
    private final int[] ppid;
    private final int[] uid;
    private final long[] cgroupId;
    private final long[] startNs;
    private final long[] lastSeenNs;
    private final String[] exe;
    private final String[] name;
    private final String[] comm;
    private final String[] cmdline;
    private final String[] args;
    private final boolean[] gpuCompute;
    /** Bit N: the process allocated a compute object on GPU N (gpu.compute_new). */
    private final long[] computeGpus;
    /** The process's last compute object was its first on that GPU. */
    private final boolean[] computeNew;
    private final long[] gpuMemBytes;
    // the executed file: kernel dev_t, inode, inode ctime (wall clock ns); 0 where unknown
    private final long[] exeDev;
    private final long[] exeIno;
    private final long[] exeCtimeNs;
    private final DestinationWindow[] destinations;
    private final int[] freeSlots;
    private int freeCount;
    private int evictCursor;
    private long evictions;

    private final LongIndex byCgroup = new LongIndex(MAX_CGROUPS);
    private final boolean[] cgroupCompute = new boolean[MAX_CGROUPS];
    private final long[] cgroupMemBytes = new long[MAX_CGROUPS];
    /** When the cgroup came to be (wall clock ns); 0: not looked up yet, -1: unknown. */
    private final long[] cgroupBirthNs = new long[MAX_CGROUPS];
    private final DestinationWindow[] cgroupDestinations = new DestinationWindow[MAX_CGROUPS];
    private int cgroupCount;
    private long cgroupResets;

    public ProcessTable(int capacity, long windowNs) {
        this.capacity = capacity;
        this.windowNs = windowNs;
        this.byPid = new LongIndex(capacity);
        pid = new int[capacity];
        ppid = new int[capacity];
        uid = new int[capacity];
        cgroupId = new long[capacity];
        startNs = new long[capacity];
        lastSeenNs = new long[capacity];
        exe = new String[capacity];
        name = new String[capacity];
        comm = new String[capacity];
        cmdline = new String[capacity];
        args = new String[capacity];
        gpuCompute = new boolean[capacity];
        computeGpus = new long[capacity];
        computeNew = new boolean[capacity];
        gpuMemBytes = new long[capacity];
        exeDev = new long[capacity];
        exeIno = new long[capacity];
        exeCtimeNs = new long[capacity];
        destinations = new DestinationWindow[capacity];
        freeSlots = new int[capacity];
        for (int i = 0; i < capacity; i++) {
            freeSlots[i] = capacity - 1 - i;
        }
        freeCount = capacity;
    }

    // ---- updates from records ------------------------------------------------------

    /** The slot of pid, creating a minimal entry (from a record header) if unknown. */
    public int ensure(int processId, int parentId, String taskComm, long cgroup, int userId, long nowNs) {
        int slot = byPid.get(processId);
        if (slot < 0) {
            slot = allocate(processId);
            ppid[slot] = parentId;
            comm[slot] = taskComm;
            name[slot] = taskComm;
            cgroupId[slot] = cgroup;
            uid[slot] = userId;
            startNs[slot] = nowNs;
        }
        lastSeenNs[slot] = nowNs;
        return slot;
    }

    /** A successful exec replaces the program; state that belongs to the process stays. */
    public int onExec(int processId, int parentId, long cgroup, int userId, String taskComm, String filename,
                      List<String> argv, long nowNs) {
        return onExec(processId, parentId, cgroup, userId, taskComm, filename, argv, nowNs, 0, 0, 0);
    }

    /**
     * With the executed file as the kernel saw it: its file system (kernel dev_t), inode and
     * inode ctime (wall clock ns), which proc.exe_program and proc.exe_created_in_cgroup read.
     */
    public int onExec(int processId, int parentId, long cgroup, int userId, String taskComm, String filename,
                      List<String> argv, long nowNs, long fileDev, long fileIno, long fileCtimeNs) {
        int slot = byPid.get(processId);
        long started = slot >= 0 ? startNs[slot] : nowNs;
        slot = put(processId, parentId, cgroup, userId, taskComm, filename, argv, started);
        lastSeenNs[slot] = nowNs;
        setFile(slot, fileDev, fileIno, fileCtimeNs);
        return slot;
    }

    /** The executed file of a slot (exec record, or /proc/PID/exe when seeding). */
    public void setFile(int slot, long fileDev, long fileIno, long fileCtimeNs) {
        exeDev[slot] = fileDev;
        exeIno[slot] = fileIno;
        exeCtimeNs[slot] = fileCtimeNs;
    }

    /** The child starts as a copy of its parent's program and cgroup. */
    public int onFork(int parentId, int childId, long nowNs) {
        int parentSlot = byPid.get(parentId);
        int slot = byPid.get(childId);
        if (slot < 0) {
            slot = allocate(childId);
        }
        parentSlot = byPid.get(parentId);   // allocate may have evicted the parent
        ppid[slot] = parentId;
        startNs[slot] = nowNs;
        lastSeenNs[slot] = nowNs;
        if (parentSlot >= 0) {
            exe[slot] = exe[parentSlot];
            name[slot] = name[parentSlot];
            comm[slot] = comm[parentSlot];
            cmdline[slot] = cmdline[parentSlot];
            args[slot] = args[parentSlot];
            cgroupId[slot] = cgroupId[parentSlot];
            uid[slot] = uid[parentSlot];
            exeDev[slot] = exeDev[parentSlot];
            exeIno[slot] = exeIno[parentSlot];
            exeCtimeNs[slot] = exeCtimeNs[parentSlot];
        }
        return slot;
    }

    public void onExit(int processId) {
        int slot = byPid.get(processId);
        if (slot >= 0) {
            release(slot);
        }
    }

    /** Installs a process as read from /proc (or built by tests). */
    public int put(int processId, int parentId, long cgroup, int userId, String taskComm, String filename,
                   List<String> argv, long startTimeNs) {
        int slot = byPid.get(processId);
        if (slot < 0) {
            slot = allocate(processId);
        }
        ppid[slot] = parentId;
        cgroupId[slot] = cgroup;
        uid[slot] = userId;
        comm[slot] = taskComm;
        startNs[slot] = startTimeNs;
        lastSeenNs[slot] = startTimeNs;
        setProgram(slot, filename, argv);
        return slot;
    }

    private void setProgram(int slot, String filename, List<String> argv) {
        exe[slot] = filename;
        int cut = filename.lastIndexOf('/');
        String base = cut >= 0 ? filename.substring(cut + 1) : filename;
        name[slot] = base.isEmpty() ? comm[slot] : base;
        cmdline[slot] = String.join(" ", argv);
        args[slot] = argv.size() <= 1 ? "" : String.join(" ", argv.subList(1, argv.size()));
    }

    // ---- rule state ------------------------------------------------------------------

    public void markGpuCompute(int slot) {
        markGpuCompute(slot, 0);
    }

    /**
     * A compute object allocated on GPU {@code gpuIndex} (mod 64; calls through the control
     * node, which do not name a GPU, count as GPU 0). Returns whether it is the process's
     * first there, which {@link #computeNew} then answers until the next compute object: a
     * CUDA context allocates one per channel, and gpu.compute_new fires once per process and GPU.
     */
    public boolean markGpuCompute(int slot, int gpuIndex) {
        gpuCompute[slot] = true;
        cgroupCompute[cgroupSlot(cgroupId[slot])] = true;
        long bit = 1L << (gpuIndex & 63);
        boolean first = (computeGpus[slot] & bit) == 0;
        computeGpus[slot] |= bit;
        computeNew[slot] = first;
        return first;
    }

    public void addGpuMemory(int slot, long bytes) {
        gpuMemBytes[slot] += bytes;
        cgroupMemBytes[cgroupSlot(cgroupId[slot])] += bytes;
    }

    /** Records a connect destination; returns the process's distinct count in the window. */
    public int recordDestination(int slot, long destinationHash, long nowNs) {
        DestinationWindow w = destinations[slot];
        if (w == null) {
            w = destinations[slot] = new DestinationWindow(DestinationWindow.PROCESS_CAPACITY);
        }
        int cg = cgroupSlot(cgroupId[slot]);
        DestinationWindow cw = cgroupDestinations[cg];
        if (cw == null) {
            cw = cgroupDestinations[cg] = new DestinationWindow(DestinationWindow.CGROUP_CAPACITY);
        }
        cw.record(destinationHash, nowNs, windowNs);
        return w.record(destinationHash, nowNs, windowNs);
    }

    public int distinctDestinations(int slot, long nowNs) {
        DestinationWindow w = destinations[slot];
        return w == null ? 0 : w.count(nowNs, windowNs);
    }

    public boolean cgroupGpuCompute(long cgroup) {
        int s = byCgroup.get(cgroup);
        return s >= 0 && cgroupCompute[s];
    }

    public long cgroupGpuMemBytes(long cgroup) {
        int s = byCgroup.get(cgroup);
        return s >= 0 ? cgroupMemBytes[s] : 0;
    }

    /** The cgroup's birth as last stored (wall clock ns); 0: never looked up, -1: could not be known. */
    public long cgroupBirthNs(long cgroup) {
        int s = byCgroup.get(cgroup);
        return s >= 0 ? cgroupBirthNs[s] : 0;
    }

    /** Stores a cgroup's birth (looked up once per cgroup by the rule fields). */
    public void cgroupBirthNs(long cgroup, long birthNs) {
        cgroupBirthNs[cgroupSlot(cgroup)] = birthNs;
    }

    public int cgroupDistinctDestinations(long cgroup, long nowNs) {
        int s = byCgroup.get(cgroup);
        return s >= 0 && cgroupDestinations[s] != null ? cgroupDestinations[s].count(nowNs, windowNs) : 0;
    }

    private int cgroupSlot(long cgroup) {
        int s = byCgroup.get(cgroup);
        if (s >= 0) {
            return s;
        }
        if (cgroupCount == MAX_CGROUPS) {
            // Bounded: forget all per-cgroup state at once (counted) rather than grow.
            for (int i = 0; i < MAX_CGROUPS; i++) {
                cgroupCompute[i] = false;
                cgroupMemBytes[i] = 0;
                cgroupBirthNs[i] = 0;
                if (cgroupDestinations[i] != null) {
                    cgroupDestinations[i].clear();
                }
            }
            byCgroup.clear();
            cgroupCount = 0;
            cgroupResets++;
        }
        s = cgroupCount++;
        byCgroup.put(cgroup, s);
        return s;
    }

    // ---- reads -----------------------------------------------------------------------

    /** Slot of pid, or -1. */
    public int slot(int processId) {
        return byPid.get(processId);
    }

    public int parentSlot(int slot) {
        return byPid.get(ppid[slot]);
    }

    public int pid(int slot) { return pid[slot]; }
    public int ppid(int slot) { return ppid[slot]; }
    public int uid(int slot) { return uid[slot]; }
    public long cgroupId(int slot) { return cgroupId[slot]; }
    public long startNs(int slot) { return startNs[slot]; }
    public String exe(int slot) { return exe[slot]; }
    public String name(int slot) { return name[slot]; }
    public String comm(int slot) { return comm[slot]; }
    public String cmdline(int slot) { return cmdline[slot]; }
    public String args(int slot) { return args[slot]; }
    public boolean gpuCompute(int slot) { return gpuCompute[slot]; }
    /** The last compute object of the process was its first on that GPU (see {@link #markGpuCompute(int, int)}). */
    public boolean computeNew(int slot) { return computeNew[slot]; }
    /** Kernel dev_t of the executed file's file system; 0 unknown. */
    public long exeDev(int slot) { return exeDev[slot]; }
    public long exeIno(int slot) { return exeIno[slot]; }
    /** The executed file's inode ctime, wall clock ns; 0 unknown. */
    public long exeCtimeNs(int slot) { return exeCtimeNs[slot]; }
    public long gpuMemBytes(int slot) { return gpuMemBytes[slot]; }

    public int size() {
        return capacity - freeCount;
    }

    public long evictions() {
        return evictions;
    }

    public long cgroupResets() {
        return cgroupResets;
    }

    // ---- slots -------------------------------------------------------------------------

    private int allocate(int processId) {
        if (freeCount == 0) {
            evictOne();
        }
        int slot = freeSlots[--freeCount];
        pid[slot] = processId;
        ppid[slot] = 0;
        uid[slot] = 0;
        cgroupId[slot] = 0;
        startNs[slot] = 0;
        lastSeenNs[slot] = 0;
        exe[slot] = null;
        name[slot] = null;
        comm[slot] = null;
        cmdline[slot] = null;
        args[slot] = null;
        gpuCompute[slot] = false;
        computeGpus[slot] = 0;
        computeNew[slot] = false;
        gpuMemBytes[slot] = 0;
        exeDev[slot] = 0;
        exeIno[slot] = 0;
        exeCtimeNs[slot] = 0;
        if (destinations[slot] != null) {
            destinations[slot].clear();
        }
        byPid.put(processId, slot);
        return slot;
    }

    private void release(int slot) {
        byPid.remove(pid[slot]);
        exe[slot] = name[slot] = comm[slot] = cmdline[slot] = args[slot] = null;
        freeSlots[freeCount++] = slot;
    }

    private void evictOne() {
        int victim = -1;
        long oldest = Long.MAX_VALUE;
        for (int i = 0; i < Math.min(EVICTION_SAMPLE, capacity); i++) {
            int s = (evictCursor + i) % capacity;
            if (lastSeenNs[s] < oldest) {
                oldest = lastSeenNs[s];
                victim = s;
            }
        }
        evictCursor = (evictCursor + EVICTION_SAMPLE) % capacity;
        release(victim);
        evictions++;
    }

    // ---- seeding from /proc ----------------------------------------------------------------

    /**
     * Installs the processes already running in the given cgroups (paths relative to the
     * cgroup2 mount, with descendants) and their ancestors. Returns how many were added.
     */
    public int seedFromProc(Path proc, Set<String> agentCgroupPaths, java.util.function.ToLongFunction<String> cgroupIds) {
        List<Integer> inScope = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(proc, p -> p.getFileName().toString().matches("[0-9]+"))) {
            for (Path p : entries) {
                String cg = cgroupOf(p);
                if (cg != null && within(cg, agentCgroupPaths)) {
                    inScope.add(Integer.parseInt(p.getFileName().toString()));
                }
            }
        } catch (IOException e) {
            return 0;
        }
        int added = 0;
        for (int processId : inScope) {
            int current = processId;
            for (int depth = 0; depth <= MAX_ANCESTORS && current > 0 && slot(current) < 0; depth++) {
                Path p = proc.resolve(Integer.toString(current));
                int parent = seedOne(p, current, cgroupIds);
                if (parent < 0) {
                    break;
                }
                added++;
                current = parent;
            }
        }
        return added;
    }

    private int seedOne(Path dir, int processId, java.util.function.ToLongFunction<String> cgroupIds) {
        try {
            String stat = Files.readString(dir.resolve("stat"));
            int open = stat.indexOf('(');
            int close = stat.lastIndexOf(')');
            String taskComm = stat.substring(open + 1, close);
            String[] rest = stat.substring(close + 2).split(" ");
            int parent = Integer.parseInt(rest[1]);
            long startTicks = Long.parseLong(rest[19]);
            byte[] raw = Files.readAllBytes(dir.resolve("cmdline"));
            List<String> argv = new ArrayList<>();
            int start = 0;
            for (int i = 0; i < raw.length; i++) {
                if (raw[i] == 0) {
                    argv.add(new String(raw, start, i - start, StandardCharsets.UTF_8));
                    start = i + 1;
                }
            }
            String filename;
            try {
                filename = Files.readSymbolicLink(dir.resolve("exe")).toString();
            } catch (IOException | UnsupportedOperationException e) {
                filename = argv.isEmpty() ? taskComm : argv.getFirst();   // kernel threads, gone processes
            }
            String cg = cgroupOf(dir);
            int userId = (Integer) Files.getAttribute(dir, "unix:uid");
            long startNanos = startTicks * 10_000_000L;   // USER_HZ = 100 on Linux
            int slot = put(processId, parent, cg == null ? 0 : cgroupIds.applyAsLong(cg), userId, taskComm, filename,
                    argv, startNanos);
            seedFile(slot, dir.resolve("exe"));
            return parent;
        } catch (IOException | RuntimeException e) {
            return -1;   // exited meanwhile
        }
    }

    /** The executed file of a process running before the agent started: what /proc/PID/exe is now. */
    private void seedFile(int slot, Path exeLink) {
        try {
            java.util.Map<String, Object> a = Files.readAttributes(exeLink, "unix:dev,ino,ctime");
            setFile(slot, io.agentguard.enforce.FileIdentity.kernelDev((Long) a.get("dev")), (Long) a.get("ino"),
                    ((java.nio.file.attribute.FileTime) a.get("ctime")).to(java.util.concurrent.TimeUnit.NANOSECONDS));
        } catch (IOException | RuntimeException e) {
            setFile(slot, 0, 0, 0);   // a kernel thread, or gone: unknown
        }
    }

    /** The cgroup v2 path ("0::/a/b" line of /proc/PID/cgroup) without the leading '/'. */
    static String cgroupOf(Path procDir) {
        try {
            for (String line : Files.readAllLines(procDir.resolve("cgroup"))) {
                if (line.startsWith("0::")) {
                    String path = line.substring(3);
                    return path.startsWith("/") ? path.substring(1) : path;
                }
            }
        } catch (IOException e) {
            return null;
        }
        return null;
    }

    private static boolean within(String cgroup, Set<String> roots) {
        for (String root : roots) {
            if (root.isEmpty() || cgroup.equals(root) || cgroup.startsWith(root + "/")) {
                return true;
            }
        }
        return false;
    }

    /** For tests and diagnostics: the ancestor slots of a slot, nearest first. */
    public int[] ancestors(int slot) {
        int[] out = new int[MAX_ANCESTORS];
        int n = 0;
        int s = parentSlot(slot);
        while (s >= 0 && n < MAX_ANCESTORS && s != slot) {
            out[n++] = s;
            int next = parentSlot(s);
            if (next == s) {
                break;
            }
            s = next;
        }
        return Arrays.copyOf(out, n);
    }
}
