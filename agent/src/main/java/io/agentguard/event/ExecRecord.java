package io.agentguard.event;

import java.util.ArrayList;
import java.util.List;

import static io.agentguard.event.RecordLayout.*;

/** Flyweight over struct ag_exec (layout in {@link RecordLayout}). */
public final class ExecRecord extends RecordFlyweight<ExecRecord> {
    public int oldPid() { return i32(EXEC_OLD_PID); }
    public int filenameLength() { return Math.min(u16(EXEC_FILENAME_LEN), PATH_MAX - 1); }
    public int argsLength() { return u16(EXEC_ARGS_LEN); }
    public long argsTotalLength() { return Integer.toUnsignedLong(i32(EXEC_ARGS_TOTAL_LEN)); }
    public int flags() { return u16(EXEC_FLAGS); }
    public int error() { return u16(EXEC_ERROR); }
    public boolean failed() { return (flags() & EXEC_FAILED) != 0; }
    /** enum ag_verdict of the exec policy. */
    public int verdict() {
        return (flags() & EXEC_DENIED) != 0 ? VERDICT_DENIED : (flags() & EXEC_WOULD_BLOCK) != 0 ? VERDICT_WOULD_BLOCK
                : VERDICT_ALLOWED;
    }
    public String filename() { return string(EXEC_FILENAME, filenameLength()); }

    /** argv split at NULs; a last argument cut by truncation is kept as far as it goes. */
    public List<String> args() {
        int length = Math.min(argsLength(), size() - (int) EXEC_ARGS);
        List<String> args = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < length; i++) {
            if (i8(EXEC_ARGS + i) == 0) {
                args.add(string(EXEC_ARGS + start, i - start));
                start = i + 1;
            }
        }
        if (start < length) {
            args.add(string(EXEC_ARGS + start, length - start));
        }
        return args;
    }
}
