package io.agentguard.config;

/** report.tls: server-authenticated TLS, mutual TLS, or plaintext (loopback and tests). */
public enum TlsMode {
    TLS, MTLS, PLAINTEXT
}
