package io.agentguard.daemon;

import io.agentguard.abi.KernelAbi.UnixKey;
import io.agentguard.abi.KernelAbi.UnixListener;
import io.agentguard.abi.KernelAbi.UnixOwner;
import io.agentguard.bpf.BpfLink;
import io.agentguard.bpf.BpfMap;
import io.agentguard.enforce.FileIdentity;
import io.agentguard.log.Log;
import io.agentguard.pipeline.KernelFindings;
import io.agentguard.proto.v1.ConnectEvent;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.Violation;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

import static io.agentguard.abi.KernelAbi.AG_COMM_LEN;
import static io.agentguard.abi.KernelAbi.AG_UNIX_PATH_MAX;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * Who owns the Unix sockets that agent tasks connect to, when the owner is outside the agent
 * cgroups (a proxy there can carry traffic that the egress policy denies the agent).
 *
 * <p>The kernel's connect_unix hook sees only the address. So this thread runs the
 * {@code ag_unix_listeners} iterator (iter/unix: every named listening or bound datagram
 * Unix socket whose socket cgroup is outside the agent subtrees, with the listen()er's pid,
 * uid, comm and cgroup) and writes the addresses into {@code ag_unix_outside}, where the hook
 * finds them synchronously: such a connect carries the owner in its record and is denied under
 * {@code egress.unix_outside: deny}. It runs at start, every {@link #REFRESH_MS}, and for each
 * Unix connect the kernel did not match ({@link #offer}, from the consumer thread): after a
 * fresh iteration, a listener the connect reached (same spelling, or for a path the same inode
 * as seen from the process's root or working directory) makes a violation "found after" the
 * connect, and the spelling joins the map so that the next connect is decided in the kernel.
 */
final class UnixOwners implements AutoCloseable {
    static final long REFRESH_MS = 5000;
    private static final int QUEUE = 4096;

    /** One listener outside: its map key and value as the iterator wrote them, and its identity. */
    private record Listener(byte[] key, byte[] owner, String text, long dev, long ino, int pid, int uid, String comm,
                            long cgroupId) {
    }

    private final BpfLink iterator;
    private final BpfMap outside;
    private final Consumer<Violation> violations;
    private final Log log;
    private final ArrayBlockingQueue<Event> pending = new ArrayBlockingQueue<>(QUEUE);
    private final AtomicLong dropped = new AtomicLong();
    private final AtomicLong found = new AtomicLong();
    /** Outside cgroup id -> path, for events the consumer decodes (read by it, written here). */
    private final Map<Long, String> cgroupPaths = new ConcurrentHashMap<>();
    private final Thread thread;
    /** Other spellings of a path listener's address, learned from connects: key bytes -> listener (dev, ino). */
    private final Map<ByteBuffer, long[]> spellings = new HashMap<>();
    private volatile Map<String, Listener> byText = Map.of();
    private Map<List<Long>, Listener> byInode = Map.of();
    private Set<ByteBuffer> written = new HashSet<>();
    private long refreshedMonotonicNs;
    private volatile boolean closed;

    UnixOwners(BpfLink iterator, BpfMap outside, Consumer<Violation> violations, Log log) {
        this.iterator = iterator;
        this.outside = outside;
        this.violations = violations;
        this.log = log;
        refresh();   // before the consumer starts: listeners that exist now are decided in the kernel
        this.thread = new Thread(this::run, "agentguard-unix-owners");
        thread.setDaemon(true);
        thread.start();
    }

    /** A Unix connect the kernel did not match; never blocks (a full queue drops it and counts). */
    void offer(Event connect) {
        if (!pending.offer(connect)) {
            dropped.incrementAndGet();
        }
    }

    /** Path of an outside cgroup a listener sits in, or "". */
    String cgroupPath(long id) {
        return cgroupPaths.getOrDefault(id, "");
    }

    /** Named listeners outside the agent cgroups at the last look. */
    long listeners() {
        return byText.size();
    }

    long dropped() {
        return dropped.get();
    }

    /** Connects the kernel did not match at the time, found to reach an outside owner afterwards. */
    long foundAfter() {
        return found.get();
    }

    private void run() {
        List<Event> batch = new ArrayList<>();
        while (!closed) {
            try {
                Event first = pending.poll(REFRESH_MS, TimeUnit.MILLISECONDS);
                if (first == null) {
                    refresh();
                    continue;
                }
                batch.add(first);
                pending.drainTo(batch);
                long newest = batch.stream().mapToLong(Event::getMonotonicNs).max().orElse(0);
                if (newest >= refreshedMonotonicNs) {
                    refresh();   // listeners that existed when these connects were made are in the view
                }
                for (Event e : batch) {
                    resolve(e);
                }
                batch.clear();
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                batch.clear();
                if (!closed) {
                    log.warn("unix owner resolver: " + e.getMessage());
                }
            }
        }
    }

    /** Synchronized with {@link #refresh}, which tests also call from their own thread. */
    private synchronized void resolve(Event e) {
        ConnectEvent c = e.getConnect();
        String text = c.getUnixPath();
        Listener l = byText.get(text);
        if (l == null && !text.startsWith("@") && !text.isEmpty()) {
            // another spelling of a path: the same inode as the process sees it
            Path base = Path.of("/proc", Integer.toString(e.getProcess().getPid()), text.startsWith("/") ? "root" : "cwd");
            FileIdentity id = FileIdentity.of(Path.of(base + "/" + text));
            if (id == null && text.startsWith("/") && !Files.exists(base)) {
                id = FileIdentity.of(Path.of(text));   // the process is gone: the agent's own view of the path
            }
            if (id != null) {
                l = byInode.get(List.of(id.dev(), id.ino()));
                if (l != null && text.startsWith("/") && text.length() < AG_UNIX_PATH_MAX) {
                    byte[] key = new byte[(int) UnixKey.SIZEOF];
                    ByteBuffer b = ByteBuffer.wrap(key).order(ByteOrder.nativeOrder());
                    byte[] name = text.getBytes(StandardCharsets.UTF_8);
                    b.putInt((int) UnixKey.LEN, name.length);
                    System.arraycopy(name, 0, key, (int) UnixKey.NAME, Math.min(name.length, AG_UNIX_PATH_MAX));
                    spellings.put(ByteBuffer.wrap(key), new long[] {l.dev(), l.ino()});
                    put(key, l.owner());
                    written.add(ByteBuffer.wrap(key));
                }
            }
        }
        if (l == null) {
            return;
        }
        found.incrementAndGet();
        Event evidence = e.toBuilder().setConnect(c.toBuilder().setUnixOutsideOwner(io.agentguard.proto.v1.UnixOwner
                .newBuilder().setPid(l.pid()).setUid(l.uid()).setComm(l.comm()).setCgroupId(l.cgroupId())
                .setCgroupPath(cgroupPath(l.cgroupId())).setFoundAfter(true))).build();
        violations.accept(KernelFindings.violation(KernelFindings.UNIX_OUTSIDE, evidence).build());
    }

    /** Runs the iterator and makes ag_unix_outside say exactly what it found (plus learned spellings). */
    synchronized void refresh() {
        refreshedMonotonicNs = monotonicNowNs();
        byte[] out = iterator.readIterator();
        int size = (int) UnixListener.SIZEOF;
        Map<String, Listener> text = new HashMap<>();
        Map<List<Long>, Listener> inode = new HashMap<>();
        ByteBuffer b = ByteBuffer.wrap(out).order(ByteOrder.nativeOrder());
        for (int at = 0; at + size <= out.length; at += size) {
            byte[] key = Arrays.copyOfRange(out, at, at + (int) UnixKey.SIZEOF);
            long ownerAt = at + UnixListener.OWNER;
            byte[] owner = Arrays.copyOfRange(out, (int) ownerAt, (int) (ownerAt + UnixOwner.SIZEOF));
            int len = Math.min(b.getInt(at + (int) UnixKey.LEN), AG_UNIX_PATH_MAX);
            byte[] name = Arrays.copyOfRange(out, at + (int) UnixKey.NAME, at + (int) UnixKey.NAME + len);
            String t = name.length > 0 && name[0] == 0 ? "@" + new String(name, 1, name.length - 1, StandardCharsets.UTF_8)
                    : new String(name, StandardCharsets.UTF_8);
            int commAt = (int) (ownerAt + UnixOwner.COMM);
            int commEnd = commAt;
            while (commEnd < commAt + AG_COMM_LEN && out[commEnd] != 0) {
                commEnd++;
            }
            int pid = b.getInt((int) ownerAt + (int) UnixOwner.PID);
            String comm = new String(out, commAt, commEnd - commAt, StandardCharsets.UTF_8);
            if (pid == 0) {
                // a bound datagram socket has no listen()er: the process that holds it, from /proc
                if (holders.size() > 16384) {
                    holders.clear();   // not inside computeIfAbsent's function: that would be a concurrent change
                }
                int[] holder = holders.computeIfAbsent(b.getLong(at + (int) UnixListener.SOCK_INO), this::holder);
                if (holder[0] > 0) {
                    pid = holder[0];
                    comm = procComm(pid);
                    ByteBuffer ob = ByteBuffer.wrap(owner).order(ByteOrder.nativeOrder());
                    ob.putInt((int) UnixOwner.PID, pid);
                    byte[] c = Arrays.copyOf(comm.getBytes(StandardCharsets.UTF_8), AG_COMM_LEN - 1);
                    System.arraycopy(c, 0, owner, (int) UnixOwner.COMM, c.length);
                }
            }
            Listener l = new Listener(key, owner, t, b.getLong(at + (int) UnixListener.DEV),
                    b.getLong(at + (int) UnixListener.INO), pid, b.getInt((int) ownerAt + (int) UnixOwner.UID), comm,
                    b.getLong((int) ownerAt + (int) UnixOwner.CGROUP_ID));
            text.put(t, l);
            if (l.ino() != 0) {
                inode.put(List.of(l.dev(), l.ino()), l);
            }
            if (l.pid() > 0 && !cgroupPaths.containsKey(l.cgroupId())) {
                cgroupPaths.put(l.cgroupId(), procCgroup(l.pid()));
            }
        }
        Set<ByteBuffer> now = new HashSet<>();
        for (Listener l : text.values()) {
            put(l.key(), l.owner());
            now.add(ByteBuffer.wrap(l.key()));
        }
        spellings.entrySet().removeIf(s -> !inode.containsKey(List.of(s.getValue()[0], s.getValue()[1])));
        for (Map.Entry<ByteBuffer, long[]> s : spellings.entrySet()) {
            Listener l = inode.get(List.of(s.getValue()[0], s.getValue()[1]));
            put(s.getKey().array(), l.owner());
            now.add(s.getKey());
        }
        for (ByteBuffer gone : written) {
            if (!now.contains(gone)) {
                delete(gone.array());
            }
        }
        written = now;
        byText = text;
        byInode = inode;
    }

    private void put(byte[] key, byte[] value) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment k = arena.allocate(key.length, 8);
            MemorySegment.copy(key, 0, k, JAVA_BYTE, 0, key.length);
            MemorySegment v = arena.allocate(value.length, 8);
            MemorySegment.copy(value, 0, v, JAVA_BYTE, 0, value.length);
            outside.update(k, v);
        }
    }

    private void delete(byte[] key) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment k = arena.allocate(key.length, 8);
            MemorySegment.copy(key, 0, k, JAVA_BYTE, 0, key.length);
            outside.delete(k);
        }
    }

    /** Socket inode -> {pid} of a process holding it (0: none found); cleared when it grows past 16 384. */
    private final Map<Long, int[]> holders = new HashMap<>();

    /**
     * A process holding socket inode ino, by its /proc/PID/fd links: one walk of every
     * process's descriptors, so done once per datagram socket (cached), on this thread.
     */
    private int[] holder(long ino) {
        String link = "socket:[" + ino + "]";
        try (var procs = Files.newDirectoryStream(Path.of("/proc"), p -> p.getFileName().toString().matches("\\d+"))) {
            for (Path proc : procs) {
                try (var fds = Files.newDirectoryStream(proc.resolve("fd"))) {
                    for (Path fd : fds) {
                        if (link.equals(Files.readSymbolicLink(fd).toString())) {
                            return new int[] {Integer.parseInt(proc.getFileName().toString())};
                        }
                    }
                } catch (IOException | RuntimeException e) {
                    // gone, or not ours to read: next
                }
            }
        } catch (IOException e) {
            // no /proc: unknown
        }
        return new int[] {0};
    }

    private static String procComm(int pid) {
        try {
            return Files.readString(Path.of("/proc", Integer.toString(pid), "comm")).strip();
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    /** The cgroup v2 path of a process ("0::/a/b" in /proc/PID/cgroup), relative to the mount; "" if gone. */
    private static String procCgroup(int pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Integer.toString(pid), "cgroup"))) {
                if (line.startsWith("0::")) {
                    return line.substring(3).replaceAll("^/+", "");
                }
            }
        } catch (IOException | RuntimeException e) {
            // the listener exited: its cgroup path stays unknown (the id is in the event)
        }
        return "";
    }

    /** CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns() (HotSpot's nanoTime on Linux). */
    private static long monotonicNowNs() {
        return System.nanoTime();
    }

    @Override
    public void close() {
        closed = true;
        thread.interrupt();
        try {
            thread.join(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
