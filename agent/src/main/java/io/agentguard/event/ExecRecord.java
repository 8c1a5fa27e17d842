package io.agentguard.event;

import io.agentguard.abi.KernelAbi.Exec;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.ExecEvent;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static io.agentguard.abi.KernelAbi.*;

/** Flyweight over struct ag_exec: a successful exec (sched_process_exec) or, flagged, a failed one. */
public final class ExecRecord extends RecordFlyweight<ExecRecord> {
    public int oldPid() { return i32(Exec.OLD_PID); }
    public int filenameLength() { return Math.min(u16(Exec.FILENAME_LEN), AG_PATH_MAX - 1); }
    public int argsLength() { return u16(Exec.ARGS_LEN); }
    public long argsTotalLength() { return Integer.toUnsignedLong(i32(Exec.ARGS_TOTAL_LEN)); }
    /** AG_EXEC_* */
    public int flags() { return u16(Exec.FLAGS); }
    public int error() { return u16(Exec.ERROR); }
    public boolean failed() { return (flags() & AG_EXEC_FAILED) != 0; }
    /** enum ag_exec_match: the deny entry behind DENIED / WOULD_BLOCK. */
    public int match() { return u16(Exec.MATCH); }
    public int nlink() { return i32(Exec.NLINK); }
    /** Kernel dev_t (major << 20 | minor) of the executed file's file system; 0 for a failed exec. */
    public long dev() { return i64(Exec.DEV); }
    public long ino() { return i64(Exec.INO); }
    /** The program's capability sets (bit N = capability N), as it runs; the caller's for a failed exec. */
    public long capEffective() { return i64(Exec.CAP_EFFECTIVE); }
    public long capPermitted() { return i64(Exec.CAP_PERMITTED); }
    public long capBounding() { return i64(Exec.CAP_BSET); }
    public int euid() { return i32(Exec.EUID); }
    /** AG_CRED_* */
    public int credFlags() { return i32(Exec.CRED_FLAGS); }
    /** The executed file's inode ctime, wall-clock ns: when it was written or last changed. */
    public long exeCtimeNs() { return i64(Exec.EXE_CTIME_NS); }
    public int exeUid() { return i32(Exec.EXE_UID); }
    /** A tunnel program stopped at exec until the daemon judges it. */
    public boolean held() { return (flags() & AG_EXEC_HELD) != 0; }
    /** A tunnel program under egress.tunnels: deny: the tunnel judge reads its command line (held or not). */
    public boolean tunnelJudge() { return (flags() & AG_EXEC_TUNNEL_JUDGE) != 0; }
    /** stdin or stdout is an inet socket. */
    public boolean stdioSocket() { return (flags() & AG_EXEC_STDIO_SOCKET) != 0; }
    /** memfd, deleted file, or run through a descriptor: no name to judge it by. */
    public boolean fileless() { return (flags() & AG_EXEC_FILELESS) != 0; }
    public boolean loader() { return (flags() & AG_EXEC_LOADER) != 0; }

    /** enum ag_verdict of the exec policy. */
    public int verdict() {
        return (flags() & AG_EXEC_DENIED) != 0 ? AG_VERDICT_DENIED
                : (flags() & AG_EXEC_WOULD_BLOCK) != 0 ? AG_VERDICT_WOULD_BLOCK : AG_VERDICT_ALLOWED;
    }

    public String filename() { return string(Exec.FILENAME, filenameLength()); }

    /** argv split at NULs; a last argument cut by truncation is kept as far as it goes. */
    public List<String> args() {
        int length = Math.min(argsLength(), size() - (int) Exec.ARGS);
        List<String> args = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < length; i++) {
            if (i8(Exec.ARGS + i) == 0) {
                args.add(string(Exec.ARGS + start, i - start));
                start = i + 1;
            }
        }
        if (start < length) {
            args.add(string(Exec.ARGS + start, length - start));
        }
        return args;
    }

    /** Writes the record of a recorded exec event; returns its length (variable: argv bytes used). */
    public int write(Event e) {
        ExecEvent x = e.getExec();
        StringBuilder joined = new StringBuilder();
        for (String a : x.getArgsList()) {
            joined.append(a).append('\0');
        }
        byte[] args = joined.toString().getBytes(StandardCharsets.UTF_8);
        int argsLen = Math.min(args.length, AG_ARGS_MAX);
        long size = Exec.ARGS + argsLen;
        writeHeader(e, AG_REC_EXEC, size);
        putI32(Exec.OLD_PID, x.getOldPid() != 0 ? x.getOldPid() : e.getProcess().getPid());
        putU16(Exec.FILENAME_LEN, putString(Exec.FILENAME, x.getFilename(), AG_PATH_MAX - 1));
        putU16(Exec.ARGS_LEN, argsLen);
        putI32(Exec.ARGS_TOTAL_LEN, Math.max(x.getArgsTotalBytes(), args.length));
        putU16(Exec.FLAGS, (x.getArgsTruncated() ? AG_EXEC_ARGS_TRUNCATED : 0)
                | (x.getFilenameTruncated() ? AG_EXEC_FILENAME_TRUNCATED : 0)
                | (x.getArgsUnreadable() ? AG_EXEC_ARGS_UNREADABLE : 0) | (!x.getSuccess() ? AG_EXEC_FAILED : 0)
                | (x.getUnlinked() ? AG_EXEC_UNLINKED : 0) | (x.getMemfd() ? AG_EXEC_MEMFD : 0)
                | (x.getByFd() ? AG_EXEC_BY_FD : 0) | (x.getLoader() ? AG_EXEC_LOADER : 0)
                | (x.getHeld() ? AG_EXEC_HELD : 0) | (x.getStdioSocket() ? AG_EXEC_STDIO_SOCKET : 0)
                | switch (Verdicts.toKernel(x.getVerdict())) {
                    case AG_VERDICT_DENIED -> AG_EXEC_DENIED;
                    case AG_VERDICT_WOULD_BLOCK -> AG_EXEC_WOULD_BLOCK;
                    default -> 0;
                });
        putU16(Exec.ERROR, x.getErrorNumber());
        putU16(Exec.MATCH, x.getAfterStart() ? 0 : x.getDenyMatchValue());
        putU16(Exec.RESERVED, 0);
        putI32(Exec.NLINK, x.getNlink());
        putI64(Exec.DEV, ((long) x.getDevMajor() << 20) | x.getDevMinor());
        putI64(Exec.INO, x.getInode());
        putI64(Exec.EXE_CTIME_NS, x.getExeCtimeNs());
        putI32(Exec.EXE_UID, x.getExeUid());
        putBytes(Exec.ARGS, args, argsLen);
        return (int) size;
    }
}
