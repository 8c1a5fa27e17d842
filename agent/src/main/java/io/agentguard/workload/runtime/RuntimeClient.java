package io.agentguard.workload.runtime;

import io.agentguard.workload.RuntimeNames;
import java.io.IOException;
import java.nio.file.Path;

/**
 * One container runtime's local API, asked on the runtime's own worker thread (never on the ring
 * consumer). Timeouts are {@link java.io.InterruptedIOException}s (SocketTimeoutException).
 */
interface RuntimeClient extends AutoCloseable {
    /** The Unix socket it talks to. */
    Path socket();

    /**
     * The names and labels of a container (id: lower-case hex), or null when the runtime does not
     * know it (removed already, a pod sandbox, another runtime's).
     */
    RuntimeNames lookup(String containerId, String podUid, RuntimeNamesBuilder into) throws IOException;

    @Override
    void close();
}
