package io.agentguard.config;

import java.util.Locale;

/** output.format: JSON lines in the protobuf JSON mapping, or text for people. */
public enum OutputFormat {
    JSON, TEXT;

    public String text() {
        return name().toLowerCase(Locale.ROOT);
    }
}
