package io.agentguard.bpf;

import io.agentguard.abi.KernelAbi.Maps;
import io.agentguard.abi.KernelAbi.Programs;

/**
 * Finds out, by loading the agent's own programs in throwaway objects, which hooks this
 * kernel accepts: LSM programs (refused on some kernels although the BPF LSM is active),
 * cgroup/connect_unix (kernel 6.7+) and the iter/unix iterator (5.17+, a tracing program
 * that some kernels refuse as they refuse fentry).
 */
public final class FeatureProbe {
    /** What the probe found, with the reason for each "no". */
    public record Result(boolean lsm, String lsmReason, boolean connectUnix, String connectUnixReason,
                         boolean unixIterator, String unixIteratorReason) {
    }

    private FeatureProbe() {
    }

    public static Result run(byte[] elf) {
        String lsmReason = tryLoad(elf, Programs.IOCTL_LSM, true);
        String unixReason = tryLoad(elf, Programs.CONNECT_UNIX, false);
        String iterReason = tryLoad(elf, Programs.UNIX_LISTENERS, false);
        return new Result(lsmReason == null, lsmReason, unixReason == null, unixReason, iterReason == null, iterReason);
    }

    /** Null when the program loads (and, if asked, attaches); else why not. */
    private static String tryLoad(byte[] elf, String program, boolean attach) {
        try (BpfObject object = BpfObject.open(elf)) {
            for (String name : object.programNames()) {
                object.program(name).autoload(name.equals(program));
            }
            if (program.equals(Programs.CONNECT_UNIX)) {
                object.program(program).type(BpfProgram.TYPE_CGROUP_SOCK_ADDR, BpfProgram.ATTACH_CGROUP_UNIX_CONNECT);
            }
            object.map(Maps.RING).maxEntries(4096);
            object.load();
            if (attach) {
                object.program(program).attach().close();
            }
            return null;
        } catch (BpfException e) {
            return e.function() + ": " + Errno.name(e.errno());
        }
    }
}
