package io.agentguard.config;

import java.util.Locale;

/** report.tls: server-authenticated TLS, mutual TLS, or plaintext (loopback and tests). */
public enum TlsMode {
    TLS, MTLS, PLAINTEXT;

    public String text() {
        return name().toLowerCase(Locale.ROOT);
    }
}
