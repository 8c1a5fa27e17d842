package io.agentguard.config;

/** A configuration error people read: "file:line:col: what is wrong". */
public final class ConfigException extends RuntimeException {
    public ConfigException(String message) {
        super(message);
    }
}
