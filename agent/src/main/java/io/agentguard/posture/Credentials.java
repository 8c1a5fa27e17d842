package io.agentguard.posture;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * What a process may do, as /proc/PID/status says: its uids, groups, capability sets and
 * no_new_privs. Read off the hot path (the posture thread, the start scan).
 *
 * @param nestedUserNs the process is in a user namespace below the host's (rootless containers,
 *                     bwrap, `unshare -U`): its capabilities act only on what that namespace
 *                     owns, never on the host's cgroups, bpffs or root's files, so none counts
 */
public record Credentials(int uid, int euid, int suid, int fsuid, int fsgid, int[] groups, long capEffective,
                          long capPermitted, long capBounding, boolean noNewPrivs, boolean nestedUserNs) {

    /** In the host's user namespace. */
    public Credentials(int uid, int euid, int suid, int fsuid, int fsgid, int[] groups, long capEffective,
                       long capPermitted, long capBounding, boolean noNewPrivs) {
        this(uid, euid, suid, fsuid, fsgid, groups, capEffective, capPermitted, capBounding, noNewPrivs, false);
    }

    /** The credentials of a running process; IOException when it is gone. */
    public static Credentials read(Path procPid) throws IOException {
        int[] uids = {0, 0, 0, 0};
        int[] gids = {0, 0, 0, 0};
        int[] groups = {};
        long eff = 0;
        long prm = 0;
        long bnd = 0;
        boolean nnp = false;
        for (String line : Files.readAllLines(procPid.resolve("status"))) {
            int colon = line.indexOf(':');
            if (colon < 0) {
                continue;
            }
            String value = line.substring(colon + 1).trim();
            switch (line.substring(0, colon)) {
                case "Uid" -> uids = ints(value);
                case "Gid" -> gids = ints(value);
                case "Groups" -> groups = ints(value);
                case "CapEff" -> eff = Long.parseUnsignedLong(value, 16);
                case "CapPrm" -> prm = Long.parseUnsignedLong(value, 16);
                case "CapBnd" -> bnd = Long.parseUnsignedLong(value, 16);
                case "NoNewPrivs" -> nnp = value.equals("1");
                default -> {
                }
            }
        }
        return new Credentials(uids[0], uids[1], uids[2], uids[3], gids[3], groups, eff, prm, bnd, nnp,
                nestedUserNs(procPid));
    }

    /** Whether the process's user namespace is another than the daemon's (the daemon runs in the host's). */
    static boolean nestedUserNs(Path procPid) {
        try {
            return !Files.readSymbolicLink(procPid.resolve("ns/user"))
                    .equals(Files.readSymbolicLink(Path.of("/proc/self/ns/user")));
        } catch (IOException | UnsupportedOperationException e) {
            return false;   // unknown: judged as the host's, the stricter reading
        }
    }

    private static int[] ints(String value) {
        return value.isEmpty() ? new int[0] : Arrays.stream(value.split("\\s+")).mapToInt(Integer::parseUnsignedInt).toArray();
    }

    /** Any of real, effective or saved uid is 0: an exec without no_new_privs gets the bounding set back. */
    public boolean uidRoot() {
        return uid == 0 || euid == 0 || suid == 0;
    }

    /** uid 0 now, or at will: setuid(0) is a system call, which no_new_privs does not stop. */
    public boolean uidRootAtWill() {
        return uidRoot() || (!nestedUserNs && ((capEffective | capPermitted) & Capabilities.bit(Capabilities.SETUID)) != 0);
    }

    /** Dangerous capabilities held now: effective, or permitted (raised to effective at will). */
    public long dangerousHeld() {
        return nestedUserNs ? 0 : (capEffective | capPermitted) & Capabilities.DANGEROUS;
    }

    /**
     * Dangerous capabilities an exec gives back (uid 0, or setuid held, without no_new_privs),
     * beyond those held.
     */
    public long dangerousRegainable() {
        return uidRootAtWill() && !noNewPrivs && !nestedUserNs ? capBounding & Capabilities.DANGEROUS & ~dangerousHeld() : 0;
    }

    /**
     * May these credentials write a file of this owner and mode, as the kernel's DAC check decides?
     * dac_override writes it; fowner chmods it first, chown makes it its own, setuid becomes its
     * owner (the sandbox launcher counts the same four as getting past file permissions).
     */
    public boolean mayWrite(int ownerUid, int ownerGid, int mode) {
        long pastPermissions = Capabilities.bit(Capabilities.DAC_OVERRIDE) | Capabilities.bit(Capabilities.FOWNER)
                | Capabilities.bit(Capabilities.CHOWN) | Capabilities.bit(Capabilities.SETUID);
        if (!nestedUserNs && ((capEffective | capPermitted) & pastPermissions) != 0) {
            return true;
        }
        if (fsuid == ownerUid) {
            return (mode & 0200) != 0;
        }
        boolean inGroup = fsgid == ownerGid;
        for (int g : groups) {
            inGroup |= g == ownerGid;
        }
        return inGroup ? (mode & 0020) != 0 : (mode & 0002) != 0;
    }
}
