package io.agentguard.cli;

import java.net.URISyntaxException;
import java.nio.file.Path;

/** Where the native tools (sandbox_exec, nvreplay, connector, demo_miner) are: next to the agent's jar, in native/. */
final class NativeTools {
    private NativeTools() {
    }

    static Path directory() {
        String configured = System.getProperty("agentguard.native.dir");
        if (configured != null) {
            return Path.of(configured);
        }
        try {
            Path jar = Path.of(NativeTools.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return jar.getParent().resolve("native");
        } catch (URISyntaxException | NullPointerException e) {
            return Path.of("native");
        }
    }
}
