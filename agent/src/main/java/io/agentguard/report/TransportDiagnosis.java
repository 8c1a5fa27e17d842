package io.agentguard.report;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.security.cert.X509Certificate;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Turns a failed connection into a cause an operator can act on. gRPC reports both halves of
 * a TLS/plaintext mismatch as "UNAVAILABLE: io exception" or "Network closed for unknown
 * reason"; here the TLS side is recognised from its exception and the plaintext side by
 * asking the collector, once per failure, whether it answers a TLS ClientHello.
 */
final class TransportDiagnosis {
    private static final int PROBE_TIMEOUT_MS = 2000;

    private TransportDiagnosis() {
    }

    /** {@code tlsName}: the value of report.tls ("tls", "mtls", "plaintext"). */
    static String explain(String target, boolean plaintext, String tlsName, Throwable failure) {
        String message = String.valueOf(failure.getMessage());
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t.getClass().getSimpleName().equals("NotSslRecordException")) {
                return "the collector at " + target + " speaks plaintext (it answered the TLS handshake with non-TLS"
                        + " bytes) but report.tls is " + tlsName + ": set report.tls: plaintext only for a loopback"
                        + " collector, or start the collector with TLS";
            }
            if (t instanceof SSLException ssl) {
                return "TLS handshake with the collector at " + target + " failed: " + ssl.getMessage()
                        + " (report.tls: " + tlsName + ")";
            }
        }
        if (plaintext && failure.toString().contains("UNAVAILABLE") && speaksTls(target)) {
            return "the collector at " + target + " speaks TLS but report.tls is plaintext: set report.tls to tls or"
                    + " mtls with its ca (" + message + ")";
        }
        return message;
    }

    /** Whether the peer at host:port answers a TLS ClientHello with a certificate (no trust decided here). */
    static boolean speaksTls(String target) {
        int colon = target.lastIndexOf(':');
        if (colon < 0) {
            return false;
        }
        String host = target.substring(0, colon).replace("[", "").replace("]", "");
        int port;
        try {
            port = Integer.parseInt(target.substring(colon + 1));
        } catch (NumberFormatException e) {
            return false;
        }
        AtomicBoolean certificateSeen = new AtomicBoolean();
        TrustManager recordOnly = new X509TrustManager() {
            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType) {
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType) throws java.security.cert.CertificateException {
                certificateSeen.set(true);
                throw new java.security.cert.CertificateException("probe only");   // never trusted: nothing is sent
            }

            @Override
            public X509Certificate[] getAcceptedIssuers() {
                return new X509Certificate[0];
            }
        };
        try (Socket raw = new Socket()) {
            raw.connect(new InetSocketAddress(host, port), PROBE_TIMEOUT_MS);
            raw.setSoTimeout(PROBE_TIMEOUT_MS);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, new TrustManager[] {recordOnly}, null);
            try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(raw, host, port, false)) {
                s.startHandshake();
            }
        } catch (Exception e) {
            // expected: the probe refuses every certificate
        }
        return certificateSeen.get();
    }
}
