package io.agentguard.bpf;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Receives libbpf's log through libbpf_set_print. libbpf logs on the calling thread, so
 * each thread keeps the lines of its own calls; a failing call attaches them to its
 * {@link BpfException}. The upcall never throws: an exception there would end the JVM.
 */
final class LibbpfLog {
    static final int LEVEL_WARN = 0;
    static final int LEVEL_INFO = 1;
    static final int LEVEL_DEBUG = 2;
    private static final int MAX_LINES = 400;

    private static final ThreadLocal<List<String>> LINES = ThreadLocal.withInitial(ArrayList::new);
    private static final ThreadLocal<MemorySegment> FORMAT_BUFFER =
            ThreadLocal.withInitial(() -> Arena.global().allocate(4096));
    private static volatile boolean echo;

    private LibbpfLog() {
    }

    static MemorySegment upcallStub() {
        try {
            var handle = MethodHandles.lookup().findStatic(LibbpfLog.class, "print",
                    MethodType.methodType(int.class, int.class, MemorySegment.class, MemorySegment.class));
            return Linker.nativeLinker().upcallStub(handle,
                    FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS), Arena.global());
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }

    @SuppressWarnings("unused") // called from libbpf
    private static int print(int level, MemorySegment format, MemorySegment vaList) {
        try {
            String text = Libc.vformat(format.reinterpret(Long.MAX_VALUE), vaList, FORMAT_BUFFER.get());
            List<String> lines = LINES.get();
            for (String line : text.split("\n")) {
                if (line.isBlank()) {
                    continue;
                }
                if (lines.size() >= MAX_LINES) {
                    lines.removeFirst();
                }
                lines.add(line);
                if (echo) {
                    System.err.println("libbpf: " + line);
                }
            }
        } catch (Throwable ignored) {
            // never propagate into native code
        }
        return 0;
    }

    /** Forget earlier lines of this thread: call before a call whose log may be needed. */
    static void mark() {
        LINES.get().clear();
    }

    static List<String> lines() {
        return List.copyOf(LINES.get());
    }

    static void setEcho(boolean on) {
        echo = on;
    }
}
