package io.agentguard.collector.export;

import io.agentguard.collector.TestPki;
import io.agentguard.proto.v1.Priority;
import io.agentguard.proto.v1.Violation;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

class SyslogExportTest {
    @TempDir
    Path dir;

    ExportFixture fixture;
    final List<AutoCloseable> closers = new CopyOnWriteArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        if (fixture != null) {
            fixture.close();
        }
        for (AutoCloseable c : closers) {
            c.close();
        }
    }

    /** A syslog receiver over TCP or TLS: reads octet-counted frames (RFC 6587) and keeps them; can be taken down. */
    final class Listener {
        final List<String> frames = new CopyOnWriteArrayList<>();
        final SSLContext tls;
        final List<Socket> connections = new CopyOnWriteArrayList<>();
        ServerSocket server;
        int port;

        Listener(SSLContext tls) throws IOException {
            this.tls = tls;
            start(0);
        }

        void start(int wanted) throws IOException {
            server = tls == null ? new ServerSocket() : tls.getServerSocketFactory().createServerSocket();
            server.setReuseAddress(true);
            server.bind(new InetSocketAddress("127.0.0.1", wanted));
            port = server.getLocalPort();
            ServerSocket s = server;
            Thread.ofPlatform().daemon().start(() -> {
                while (!s.isClosed()) {
                    try {
                        Socket c = s.accept();
                        connections.add(c);
                        Thread.ofPlatform().daemon().start(() -> read(c));
                    } catch (IOException e) {
                        return;
                    }
                }
            });
            closers.add(this::stop);
        }

        void read(Socket c) {
            try (DataInputStream in = new DataInputStream(c.getInputStream())) {
                while (true) {
                    int length = 0;
                    int b;
                    while ((b = in.read()) != ' ') {
                        if (b < '0' || b > '9') {
                            return;   // end of stream (or not octet counting: the assertions will show it)
                        }
                        length = length * 10 + (b - '0');
                    }
                    byte[] frame = new byte[length];
                    in.readFully(frame);
                    frames.add(new String(frame, StandardCharsets.UTF_8));
                }
            } catch (IOException e) {
                // taken down
            }
        }

        /** Down: no listener, and the open connections closed (the exporter must notice and reconnect). */
        void stop() throws IOException {
            server.close();
            for (Socket c : connections) {
                c.close();
            }
            connections.clear();
        }
    }

    private static final Pattern RFC5424 = Pattern.compile(
            "<(\\d+)>1 (\\S+) (\\S+) (\\S+) (\\S+) (\\S+) \\[agentguard@32473((?: [a-z_]+=\"(?:[^\"\\\\\\]]|\\\\.)*\")*)\\] (.*)",
            Pattern.DOTALL);
    private static final Pattern SD_PARAM = Pattern.compile(" ([a-z_]+)=\"((?:[^\"\\\\\\]]|\\\\.)*)\"");

    /** Parses one RFC 5424 message as this export writes it: header fields, SD params (unescaped), message. */
    static Map<String, String> parse(String frame) {
        Matcher m = RFC5424.matcher(frame);
        assertThat(m.matches()).as("RFC 5424 message: %s", frame).isTrue();
        Map<String, String> f = new ConcurrentHashMap<>();
        f.put("pri", m.group(1));
        f.put("timestamp", m.group(2));
        f.put("hostname", m.group(3));
        f.put("app", m.group(4));
        f.put("procid", m.group(5));
        f.put("msgid", m.group(6));
        Matcher p = SD_PARAM.matcher(m.group(7));
        while (p.find()) {
            f.put("sd." + p.group(1), p.group(2).replaceAll("\\\\(.)", "$1"));
        }
        f.put("msg", m.group(8));
        return f;
    }

    static List<Long> ids(List<String> frames) {
        List<Long> out = new ArrayList<>();
        for (String fr : frames) {
            out.add(Long.parseLong(parse(fr).get("sd.id")));
        }
        return out;
    }

    @Test
    void tcpSyslogDeliversEveryViolationAcrossTheListenerGoingAwayAndComingBack() throws Exception {
        fixture = new ExportFixture(dir);
        Listener listener = new Listener(null);
        fixture.store("node-a", 15);
        fixture.start(syslogConfig("tcp", listener.port, "text", ""));
        ExportFixture.await("the first 15", () -> listener.frames.size() >= 15);

        listener.stop();                                                 // the SIEM's listener restarts
        fixture.store("node-a", 15);
        ExportFixture.await("failed attempts", () ->
                fixture.metric("agentguard_collector_export_failed_attempts_total", "siem") >= 2);
        listener.start(listener.port);
        ExportFixture.await("all 30", () -> new java.util.HashSet<>(ids(listener.frames)).size() == 30);

        List<Long> got = ids(listener.frames);
        assertThat(new java.util.TreeSet<>(got)).containsExactlyElementsOf(WebhookExportTest.ids(30));
        assertThat(got.size() - 30).as("resends (at-least-once)").isLessThanOrEqualTo(1);
        Map<String, String> f = parse(listener.frames.getFirst());
        assertThat(f.get("pri")).isEqualTo(Integer.toString(17 * 8 + 2));   // local1, critical
        assertThat(f.get("timestamp")).isEqualTo("2023-11-14T22:13:20.005Z");
        assertThat(f.get("hostname")).isEqualTo("node-a");
        assertThat(f.get("app")).isEqualTo("agentguard");
        assertThat(f.get("procid")).isEqualTo("4242");
        assertThat(f.get("msgid")).isEqualTo("violation");
        assertThat(f.get("sd.node")).isEqualTo("node-a");
        assertThat(f.get("sd.rule")).isEqualTo("Shell in container");
        assertThat(f.get("sd.priority")).isEqualTo("critical");
        assertThat(f.get("sd.pod_name")).isEqualTo("web-1");
        assertThat(f.get("msg")).isEqualTo("Shell in container: v1");
    }

    String syslogConfig(String transport, int port, String format, String extra) {
        return """
                exports:
                  - name: siem
                    type: syslog
                    address: 127.0.0.1:%d
                    transport: %s
                    facility: local1
                    format: %s
                    retry: {initial_backoff: 20ms, max_backoff: 200ms}
                %s""".formatted(port, transport, format, extra);
    }

    @Test
    void tlsSyslogChecksTheServerCertificateAndCarriesCefWithEscaping() throws Exception {
        TestPki pki = new TestPki(Files.createDirectories(dir.resolve("pki")));
        pki.issue("syslog", "localhost");
        Listener listener = new Listener(serverTls(pki));
        fixture = new ExportFixture(dir);
        Violation tricky = ExportFixture.violation("Pipe|rule\\x", Priority.PRIORITY_WARNING, "a=b\nline2 | c\\d");
        fixture.store("gpu-1", tricky);
        fixture.start(syslogConfig("tls", listener.port, "cef", "    ca_file: " + pki.caFile() + "\n"));
        ExportFixture.await("one CEF message", () -> listener.frames.size() >= 1);

        String msg = parse(listener.frames.getFirst()).get("msg");
        assertThat(msg).startsWith("CEF:0|agentguard|agentguard|");
        List<String> header = cefHeader(msg);
        assertThat(header.subList(4, 7)).containsExactly("Pipe|rule\\x", "Pipe|rule\\x", "5");
        Map<String, String> ext = cefExtension(msg);
        assertThat(ext).containsEntry("msg", "a=b\nline2 | c\\d").containsEntry("dvchost", "gpu-1")
                .containsEntry("spid", "4242").containsEntry("cs1", "warning").containsEntry("cs1Label", "priority")
                .containsEntry("cs5", "shop/web-1").containsEntry("externalId", "1").containsEntry("rt", "1700000000005");
        assertThat(msg).doesNotContain("\n");
    }

    @Test
    void udpSyslogSendsOneMessagePerDatagram() throws Exception {
        DatagramSocket udp = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        closers.add(udp::close);
        fixture = new ExportFixture(dir);
        fixture.store("node-u", 3);
        fixture.start(syslogConfig("udp", udp.getLocalPort(), "text", ""));
        List<Long> got = new ArrayList<>();
        byte[] buf = new byte[4096];
        while (got.size() < 3) {
            DatagramPacket p = new DatagramPacket(buf, buf.length);
            udp.receive(p);
            got.add(Long.parseLong(parse(new String(p.getData(), 0, p.getLength(), StandardCharsets.UTF_8)).get("sd.id")));
        }
        assertThat(got).containsExactly(1L, 2L, 3L);
    }

    /** The 7 header fields, unescaped; the extension is the rest. */
    static List<String> cefHeader(String cef) {
        List<String> fields = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        int i = 0;
        for (; i < cef.length() && fields.size() < 7; i++) {
            char c = cef.charAt(i);
            if (c == '\\' && i + 1 < cef.length()) {
                cur.append(cef.charAt(++i));
            } else if (c == '|') {
                fields.add(cur.toString());
                cur.setLength(0);
            } else {
                cur.append(c);
            }
        }
        return fields;
    }

    /** key=value pairs after the 7th unescaped '|'; values unescape \\ \= \n \r. */
    static Map<String, String> cefExtension(String cef) {
        int bars = 0;
        int i = 0;
        for (; i < cef.length() && bars < 7; i++) {
            if (cef.charAt(i) == '\\') {
                i++;
            } else if (cef.charAt(i) == '|') {
                bars++;
            }
        }
        String ext = cef.substring(i);
        Map<String, String> out = new java.util.LinkedHashMap<>();
        Matcher m = Pattern.compile("([A-Za-z0-9]+)=((?:[^\\\\=]|\\\\.)*?)(?= [A-Za-z0-9]+=|$)").matcher(ext);
        while (m.find()) {
            String v = m.group(2).replaceAll("\\\\n", "\n").replaceAll("\\\\r", "\r").replaceAll("\\\\([\\\\=])", "$1");
            out.put(m.group(1), v);
        }
        return out;
    }

    static SSLContext serverTls(TestPki pki) throws Exception {
        Certificate cert;
        try (InputStream in = Files.newInputStream(pki.cert("syslog").toPath())) {
            cert = CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
        String pem = Files.readString(pki.key("syslog").toPath()).replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
        var key = KeyFactory.getInstance("EC").generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(pem)));
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("syslog", key, new char[0], new Certificate[] {cert});
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, new char[0]);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), null, null);
        return ctx;
    }
}
