package io.agentguard.config;

/** output.format: JSON lines in the protobuf JSON mapping, or text for people. */
public enum OutputFormat {
    JSON, TEXT
}
