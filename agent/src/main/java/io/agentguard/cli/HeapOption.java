package io.agentguard.cli;

import io.agentguard.config.AgentConfigLoader;
import io.agentguard.config.ConfigException;

import java.nio.file.Path;

/**
 * Run by the launcher before the daemon's JVM (the heap limit is fixed at JVM start): prints
 * {@code -Xmx<jvm.max_heap_mb>m} for {@code run [--config FILE]}, nothing for other commands.
 * A configuration with an error gets the default; the daemon then reports the error itself.
 */
public final class HeapOption {
    private HeapOption() {
    }

    public static void main(String[] args) {
        String option = option(args);
        if (!option.isEmpty()) {
            System.out.println(option);
        }
    }

    static String option(String... args) {
        if (args.length == 0 || !args[0].equals("run")) {
            return "";
        }
        Path config = null;
        for (int i = 1; i < args.length; i++) {
            if (args[i].equals("--")) {
                break;
            }
            if (args[i].equals("--config") && i + 1 < args.length) {
                config = Path.of(args[++i]);
            } else if (args[i].startsWith("--config=")) {
                config = Path.of(args[i].substring("--config=".length()));
            }
        }
        int mb;
        try {
            mb = AgentConfigLoader.maxHeapMb(config);
        } catch (ConfigException | java.io.UncheckedIOException e) {
            mb = AgentConfigLoader.DEFAULT_MAX_HEAP_MB;
        }
        return "-Xmx" + mb + "m";
    }
}
