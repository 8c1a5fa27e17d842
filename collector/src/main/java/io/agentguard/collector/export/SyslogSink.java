package io.agentguard.collector.export;

import io.agentguard.proto.v1.Violation;
import io.agentguard.proto.v1.Workload;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.time.temporal.ChronoUnit;

/**
 * RFC 5424 syslog: over TCP with octet-counting framing (RFC 6587), over TLS (RFC 5425, same
 * framing, the server's certificate checked against ca_file and its name), or over UDP (RFC
 * 5426, one message per datagram: no confirmation, best effort). The message is the rule and
 * its output as text, or CEF for SIEMs; structured data [agentguard@32473 ...] carries node,
 * rule, priority and the workload. 32473 is the example enterprise number of RFC 5612.
 * <p>
 * TCP gives no application acknowledgement: a frame counts as delivered once written to a
 * connection that was alive just before (a receiver that closed its end is noticed before the
 * write, and the frame goes on a new connection). A receiver that dies with frames in its
 * socket buffer loses them: RELP would be needed for more.
 */
final class SyslogSink implements Sink {
    static final String SD_ID = "agentguard@32473";
    private static final int SD_VALUE_MAX = 256;

    private final ExportsConfig.Syslog config;
    private final SSLContext tls;
    private final String version;
    private Socket socket;
    private OutputStream out;
    private InputStream in;
    private DatagramSocket udp;

    SyslogSink(ExportsConfig.Syslog config) throws IOException, GeneralSecurityException {
        this.config = config;
        this.tls = config.transport() == ExportsConfig.Transport.TLS ? sslContext(config.caFile()) : null;
        String v = SyslogSink.class.getPackage().getImplementationVersion();
        this.version = v == null ? "dev" : v;
    }

    private static SSLContext sslContext(java.nio.file.Path caFile) throws IOException, GeneralSecurityException {
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        if (caFile == null) {
            tmf.init((KeyStore) null);
        } else {
            KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
            ks.load(null, null);
            int i = 0;
            try (InputStream pem = Files.newInputStream(caFile)) {
                for (var c : CertificateFactory.getInstance("X.509").generateCertificates(pem)) {
                    ks.setCertificateEntry("ca" + i++, (X509Certificate) c);
                }
            }
            if (i == 0) {
                throw new IOException(caFile + ": no certificate");
            }
            tmf.init(ks);
        }
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        return ctx;
    }

    @Override
    public void send(ExportStore.Row row) throws Transient, Rejected {
        byte[] message;
        try {
            message = format(row);
        } catch (RuntimeException e) {
            throw new Rejected("formatting: " + e);
        }
        try {
            if (config.transport() == ExportsConfig.Transport.UDP) {
                if (udp == null) {
                    udp = new DatagramSocket();
                    udp.connect(new InetSocketAddress(config.host(), config.port()));   // ICMP unreachable then surfaces
                }
                udp.send(new DatagramPacket(message, message.length));
                return;
            }
            if (socket != null && !alive()) {
                disconnect();
            }
            if (socket == null) {
                connect();
            }
            out.write((message.length + " ").getBytes(StandardCharsets.US_ASCII));
            out.write(message);
            out.flush();
        } catch (IOException e) {
            disconnect();
            throw new Transient(config.host() + ":" + config.port() + ": " + e, e);
        }
    }

    private void connect() throws IOException {
        Socket s = new Socket();
        s.connect(new InetSocketAddress(config.host(), config.port()), (int) config.timeout().toMillis());
        if (tls != null) {
            SSLSocket ssl = (SSLSocket) tls.getSocketFactory().createSocket(s, config.host(), config.port(), true);
            SSLParameters p = ssl.getSSLParameters();
            p.setEndpointIdentificationAlgorithm("HTTPS");   // the certificate must name the host
            ssl.setSSLParameters(p);
            ssl.setSoTimeout((int) config.timeout().toMillis());
            ssl.startHandshake();
            s = ssl;
        }
        s.setSoTimeout(1);
        socket = s;
        out = new java.io.BufferedOutputStream(s.getOutputStream(), 16 * 1024);
        in = s.getInputStream();
    }

    /** A syslog receiver sends nothing: end of stream or an error here means it closed the connection. */
    private boolean alive() {
        try {
            return in.read() != -1;
        } catch (SocketTimeoutException e) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private void disconnect() {
        if (socket != null) {
            try {
                socket.close();
            } catch (IOException ignored) {
                // already broken
            }
        }
        socket = null;
        out = null;
        in = null;
    }

    @Override
    public void close() {
        disconnect();
        if (udp != null) {
            udp.close();
        }
    }

    /** The RFC 5424 message, at most max_message_bytes (the free text is cut first). */
    byte[] format(ExportStore.Row row) {
        Violation v = row.violation();
        int severity = Math.max(0, Math.min(7, v.getPriorityValue() == 0 ? 5 : v.getPriorityValue() - 1));
        Instant time = v.hasTime() ? Instant.ofEpochSecond(v.getTime().getSeconds(), v.getTime().getNanos())
                : Instant.now();
        StringBuilder h = new StringBuilder(256);
        h.append('<').append(config.facility() * 8 + severity).append(">1 ")
                .append(time.truncatedTo(ChronoUnit.MICROS)).append(' ')
                .append(headerField(row.node(), 255)).append(' ')
                .append(config.appName()).append(' ')
                .append(v.getProcess().getPid() == 0 ? "-" : Integer.toUnsignedString(v.getProcess().getPid())).append(' ')
                .append("violation ");
        h.append('[').append(SD_ID);
        param(h, "id", Long.toString(row.id()));
        param(h, "node", row.node());
        param(h, "rule", v.getRule());
        param(h, "priority", Formats.priority(v));
        if (v.getTagsCount() > 0) {
            param(h, "tags", String.join(",", v.getTagsList()));
        }
        String cgroup = Formats.cgroup(v);
        if (!cgroup.isEmpty()) {
            param(h, "cgroup", cgroup);
        }
        Workload w = Formats.workload(v);
        param(h, "container_id", w.getContainerId());
        param(h, "container_name", w.getContainerName());
        param(h, "pod_uid", w.getPodUid());
        param(h, "pod_name", w.getPodName());
        param(h, "pod_namespace", w.getPodNamespace());
        param(h, "job_id", w.getJobId());
        param(h, "unit", w.getUnit());
        h.append("] ");
        byte[] head = h.toString().getBytes(StandardCharsets.UTF_8);
        String msg = config.format() == ExportsConfig.Format.CEF ? cef(row, version)
                : (v.getRule() + ": " + v.getOutput()).replace('\r', ' ').replace('\n', ' ');
        byte[] body = msg.getBytes(StandardCharsets.UTF_8);
        int room = config.maxMessageBytes() - head.length;
        if (room < 0) {
            throw new IllegalArgumentException("header and structured data exceed max_message_bytes");
        }
        int n = utf8Prefix(body, room);
        byte[] all = new byte[head.length + n];
        System.arraycopy(head, 0, all, 0, head.length);
        System.arraycopy(body, 0, all, head.length, n);
        return all;
    }

    /** The longest prefix of at most max bytes that ends on a character boundary. */
    static int utf8Prefix(byte[] b, int max) {
        if (b.length <= max) {
            return b.length;
        }
        int n = max;
        while (n > 0 && (b[n] & 0xC0) == 0x80) {
            n--;
        }
        return n;
    }

    /** HOSTNAME and similar: printable ASCII without spaces, bounded; "-" if empty. */
    static String headerField(String s, int max) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length() && b.length() < max; i++) {
            char c = s.charAt(i);
            b.append(c > 32 && c < 127 ? c : '_');
        }
        return b.isEmpty() ? "-" : b.toString();
    }

    /** An SD-PARAM; empty values are left out; '"', '\' and ']' escaped (RFC 5424 6.3.3). */
    private static void param(StringBuilder h, String name, String value) {
        if (value.isEmpty()) {
            return;
        }
        h.append(' ').append(name).append("=\"");
        String bounded = Formats.bound(value, SD_VALUE_MAX);
        for (int i = 0; i < bounded.length(); i++) {
            char c = bounded.charAt(i);
            if (c == '"' || c == '\\' || c == ']') {
                h.append('\\');
            }
            h.append(c);
        }
        h.append('"');
    }

    /** CEF severity 0-10 from Falco's priority. */
    static int cefSeverity(Violation v) {
        return switch (v.getPriority()) {
            case PRIORITY_EMERGENCY, PRIORITY_ALERT -> 10;
            case PRIORITY_CRITICAL -> 9;
            case PRIORITY_ERROR -> 7;
            case PRIORITY_WARNING -> 5;
            case PRIORITY_NOTICE -> 3;
            case PRIORITY_INFORMATIONAL -> 1;
            default -> 0;
        };
    }

    /**
     * CEF:0|agentguard|agentguard|version|rule|name|severity|extension. Header fields escape
     * '\' and '|'; extension values escape '\' and '=' and write newlines as \n, \r.
     */
    static String cef(ExportStore.Row row, String version) {
        Violation v = row.violation();
        String name = v.getDescription().isEmpty() ? v.getRule() : v.getDescription();
        StringBuilder b = new StringBuilder(512).append("CEF:0|agentguard|agentguard|").append(cefHeader(version, 63))
                .append('|').append(cefHeader(v.getRule(), 1023)).append('|').append(cefHeader(name, 512))
                .append('|').append(cefSeverity(v)).append('|');
        long rt = v.hasTime() ? v.getTime().getSeconds() * 1000 + v.getTime().getNanos() / 1_000_000 : System.currentTimeMillis();
        ext(b, "rt", Long.toString(rt));
        ext(b, "externalId", Long.toString(row.id()));
        ext(b, "dvchost", row.node());
        ext(b, "msg", v.getOutput());
        if (v.getProcess().getPid() != 0) {
            ext(b, "spid", Integer.toUnsignedString(v.getProcess().getPid()));
            ext(b, "suid", Integer.toUnsignedString(v.getProcess().getUid()));
        }
        ext(b, "sproc", v.getProcess().getComm());
        ext(b, "filePath", v.getProcess().getExe());
        ext(b, "cs1Label", "priority");
        ext(b, "cs1", Formats.priority(v));
        if (v.getTagsCount() > 0) {
            ext(b, "cs2Label", "tags");
            ext(b, "cs2", String.join(",", v.getTagsList()));
        }
        String cgroup = Formats.cgroup(v);
        if (!cgroup.isEmpty()) {
            ext(b, "cs3Label", "cgroup");
            ext(b, "cs3", cgroup);
        }
        Workload w = Formats.workload(v);
        if (!w.getContainerId().isEmpty()) {
            ext(b, "cs4Label", "container");
            ext(b, "cs4", w.getContainerId());
        }
        if (!w.getPodName().isEmpty() || !w.getPodUid().isEmpty()) {
            ext(b, "cs5Label", "pod");
            ext(b, "cs5", w.getPodName().isEmpty() ? w.getPodUid() : w.getPodNamespace() + "/" + w.getPodName());
        }
        if (!v.getProcess().getCmdline().isEmpty()) {
            ext(b, "cs6Label", "cmdline");
            ext(b, "cs6", v.getProcess().getCmdline());
        }
        return b.toString().stripTrailing();
    }

    static String cefHeader(String s, int max) {
        return Formats.bound(s, max).replace("\\", "\\\\").replace("|", "\\|").replace('\r', ' ').replace('\n', ' ');
    }

    private static void ext(StringBuilder b, String key, String value) {
        if (value.isEmpty()) {
            return;
        }
        b.append(key).append('=').append(Formats.bound(value, 4000).replace("\\", "\\\\").replace("=", "\\=")
                .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\r")).append(' ');
    }
}
