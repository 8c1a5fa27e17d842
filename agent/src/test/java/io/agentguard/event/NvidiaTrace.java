package io.agentguard.event;

import io.agentguard.abi.KernelAbi.GpuIoctl;
import io.agentguard.abi.KernelAbi.Header;
import io.agentguard.abi.KernelAbi.NvIoctlXfer;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

import static io.agentguard.abi.KernelAbi.*;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

/**
 * The ioctl traces recorded on a real H200 with driver 580 (test resources,
 * fixtures/h200-580/README.md), and the record the kernel makes of each call when
 * nvreplay --trace replays it: the same role, cmd and copied parameter bytes, with RM_ALLOC's
 * pAllocParms pointing at nvreplay's zeroed scratch page.
 */
public final class NvidiaTrace {
    public static final String DIR = "/io/agentguard/fixtures/h200-580/";
    /** The traces, by the program that made them. */
    public static final List<String> NAMES = List.of("torch", "cupy", "spin", "smi");

    private NvidiaTrace() {
    }

    /** One recorded ioctl: PID FD MAJOR:MINOR REQUEST RET ERRNO HEX. */
    public record Call(int line, int pid, int fd, int major, int minor, int request, long ret, int errno, byte[] params) {
        /** enum ag_device_role of the node, as the agent's device table names it. */
        public int role() {
            if (major != NV_MAJOR) {
                return minor == NV_UVM_MINOR ? AG_DEV_UVM : AG_DEV_UVM_TOOLS;
            }
            return minor == NV_MINOR_CTL ? AG_DEV_CONTROL : minor == NV_MINOR_MODESET ? AG_DEV_MODESET : AG_DEV_GPU;
        }

        public boolean resourceManager() {
            return role() != AG_DEV_UVM && role() != AG_DEV_UVM_TOOLS && ((request >>> 8) & 0xff) == NV_IOCTL_MAGIC;
        }
    }

    /** The trace file itself (under target/test-classes), for nvreplay --trace. */
    public static Path file(String name) {
        try {
            return Path.of(NvidiaTrace.class.getResource(DIR + "trace-" + name + ".txt").toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    public static List<Call> load(String name) {
        String text;
        try (InputStream in = NvidiaTrace.class.getResourceAsStream(DIR + "trace-" + name + ".txt")) {
            if (in == null) {
                throw new IllegalArgumentException("no trace " + name + " in " + DIR);
            }
            text = new String(in.readAllBytes(), StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<Call> calls = new ArrayList<>();
        int line = 0;
        for (String l : text.split("\n")) {
            line++;
            if (l.isBlank()) {
                continue;
            }
            String[] f = l.trim().split(" ");
            if (f.length != 7) {
                throw new IllegalArgumentException(name + ":" + line + ": not 7 fields: " + l);
            }
            String[] dev = f[2].split(":");
            byte[] params = f[6].equals("-") ? new byte[0] : HexFormat.of().parseHex(f[6]);
            calls.add(new Call(line, Integer.parseInt(f[0]), Integer.parseInt(f[1]), Integer.parseInt(dev[0]),
                    Integer.parseInt(dev[1]), (int) Long.parseLong(f[3].substring(2), 16), Long.parseLong(f[4]),
                    Integer.parseInt(f[5]), params));
        }
        return calls;
    }

    /** A record buffer for {@link #write}. */
    public static GpuIoctlRecord newRecord() {
        return new GpuIoctlRecord().wrap(Arena.ofAuto().allocate(GpuIoctl.SIZEOF, 8), 0);
    }

    /**
     * Writes into r what gpu.bpf.c's read_ioctl_args makes of the replayed call: UVM calls copy
     * AG_UVM_ARG_BYTES, type-'F' calls their _IOC_SIZE (capped at AG_IOCTL_ARG_MAX) from
     * nvreplay's zeroed buffer holding the recorded bytes; RM_ALLOC with a pAllocParms reads the
     * scratch page (zeros) behind it; IOCTL_XFER_CMD is unwrapped onto the scratch page.
     */
    public static GpuIoctlRecord write(Call c, GpuIoctlRecord r) {
        MemorySegment s = r.buffer.asSlice(r.offset, GpuIoctl.SIZEOF);
        s.fill((byte) 0);
        s.set(JAVA_SHORT_UNALIGNED, Header.TYPE, (short) AG_REC_GPU_IOCTL);
        s.set(JAVA_SHORT_UNALIGNED, Header.SIZE, (short) GpuIoctl.SIZEOF);
        s.set(JAVA_INT_UNALIGNED, Header.PID, c.pid());
        s.set(JAVA_INT_UNALIGNED, Header.TID, c.pid());
        int role = c.role();
        s.set(JAVA_INT_UNALIGNED, GpuIoctl.FD, c.fd());
        s.set(JAVA_INT_UNALIGNED, GpuIoctl.CMD, c.request());
        s.set(JAVA_INT_UNALIGNED, GpuIoctl.MAJOR, c.major());
        s.set(JAVA_INT_UNALIGNED, GpuIoctl.MINOR, c.minor());
        s.set(JAVA_SHORT_UNALIGNED, GpuIoctl.ROLE, (short) role);
        s.set(JAVA_SHORT_UNALIGNED, GpuIoctl.INDEX, (short) (role == AG_DEV_GPU ? c.minor() : 0));
        s.set(JAVA_INT_UNALIGNED, GpuIoctl.INNER_CMD, c.request());
        int len;
        int flags = 0;
        byte[] bytes = c.params();
        if (role == AG_DEV_UVM || role == AG_DEV_UVM_TOOLS) {
            len = AG_UVM_ARG_BYTES;
        } else if (!c.resourceManager()) {
            len = 0;
        } else if ((c.request() & 0xff) == NV_ESC_IOCTL_XFER_CMD) {
            int inner = (int) u32(bytes, NvIoctlXfer.CMD);
            s.set(JAVA_INT_UNALIGNED, GpuIoctl.INNER_CMD, inner);
            flags |= AG_IOCTL_XFER_UNWRAPPED;
            len = (int) Math.min(u32(bytes, NvIoctlXfer.SIZE), AG_IOCTL_ARG_MAX);
            bytes = new byte[0];   // the wrapped struct is on the scratch page: zeros
        } else {
            len = Math.min((c.request() >>> 16) & 0x3fff, AG_IOCTL_ARG_MAX);
        }
        MemorySegment.copy(MemorySegment.ofArray(bytes), 0, s, GpuIoctl.ARG, Math.min(len, bytes.length));
        s.set(JAVA_SHORT_UNALIGNED, GpuIoctl.ARG_LEN, (short) len);
        if (c.resourceManager() && (c.request() & 0xff) == NV_ESC_RM_ALLOC && len >= 24
                && s.get(JAVA_LONG_UNALIGNED, GpuIoctl.ARG + 16) != 0) {
            flags |= AG_IOCTL_PARAMS_READ;   // aux0/aux1 stay 0: the scratch page
        }
        s.set(JAVA_SHORT_UNALIGNED, GpuIoctl.FLAGS, (short) flags);
        return r;
    }

    private static long u32(byte[] b, long at) {
        if (at + 4 > b.length) {
            return 0;
        }
        return MemorySegment.ofArray(b).get(JAVA_INT_UNALIGNED, at) & 0xffff_ffffL;
    }
}
