package io.agentguard.collector.export;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import io.agentguard.proto.v1.Violation;
import io.agentguard.proto.v1.Workload;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.GeneralSecurityException;
import java.util.HexFormat;
import java.util.Map;

/**
 * HTTP POST of one violation per request. Templates: generic ({"id", "node", "violation": the
 * violation in protobuf's JSON mapping}) and slack ({"text", "blocks"}). With a secret, the
 * request carries X-Agentguard-Timestamp (Unix seconds) and X-Agentguard-Signature:
 * sha256=hex(HMAC-SHA256(secret, timestamp + "." + body)); X-Agentguard-Delivery names the
 * violation (export:id) so that a receiver can drop an at-least-once resend.
 */
final class WebhookSink implements Sink {
    static final String SIGNATURE = "X-Agentguard-Signature";
    static final String TIMESTAMP = "X-Agentguard-Timestamp";
    static final String DELIVERY = "X-Agentguard-Delivery";
    private static final int SLACK_TEXT_MAX = 3000;   // a Slack section block's text limit

    private final ExportsConfig.Webhook config;
    private final HttpClient client;
    private final URI uri;
    private final byte[] secret;
    private final JsonFormat.Printer printer = JsonFormat.printer().omittingInsignificantWhitespace();

    WebhookSink(ExportsConfig.Webhook config) throws IOException {
        this.config = config;
        this.uri = URI.create(config.url());
        this.client = HttpClient.newBuilder().connectTimeout(config.timeout()).followRedirects(HttpClient.Redirect.NEVER)
                .build();
        if (config.secretFile() != null) {
            String s = Files.readString(config.secretFile()).strip();
            if (s.isEmpty()) {
                throw new IOException(config.secretFile() + ": the webhook secret file is empty");
            }
            this.secret = s.getBytes(StandardCharsets.UTF_8);
        } else {
            this.secret = null;
        }
    }

    @Override
    public void send(ExportStore.Row row) throws Transient, Rejected {
        String body;
        try {
            body = config.template() == ExportsConfig.Template.SLACK ? slack(row) : generic(row);
        } catch (InvalidProtocolBufferException | RuntimeException e) {
            throw new Rejected("formatting: " + e);
        }
        HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(config.timeout())
                .header("Content-Type", "application/json")
                .header(DELIVERY, row.id() + "")
                .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
        for (Map.Entry<String, String> h : config.headers().entrySet()) {
            b.header(h.getKey(), h.getValue());
        }
        if (secret != null) {
            String ts = Long.toString(System.currentTimeMillis() / 1000);
            b.header(TIMESTAMP, ts).header(SIGNATURE, "sha256=" + sign(secret, ts, body));
        }
        HttpResponse<Void> response;
        try {
            response = client.send(b.build(), HttpResponse.BodyHandlers.discarding());
        } catch (IOException e) {
            throw new Transient(uri.getHost() + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Transient("interrupted", e);
        }
        int code = response.statusCode();
        if (code >= 200 && code < 300) {
            return;
        }
        if (code == 429 || code == 408 || code >= 500 || code < 200 || code >= 300 && code < 400) {
            throw new Transient("HTTP " + code);
        }
        throw new Rejected("HTTP " + code);
    }

    /** hex HMAC-SHA256 over timestamp "." body: what a receiver recomputes to check a request. */
    static String sign(byte[] secret, String timestamp, String body) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret, "HmacSHA256"));
            mac.update(timestamp.getBytes(StandardCharsets.UTF_8));
            mac.update((byte) '.');
            return HexFormat.of().formatHex(mac.doFinal(body.getBytes(StandardCharsets.UTF_8)));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    String generic(ExportStore.Row row) throws InvalidProtocolBufferException {
        JsonObject o = new JsonObject();
        o.addProperty("id", row.id());
        o.addProperty("node", row.node());
        o.add("violation", JsonParser.parseString(printer.print(row.violation())));
        return o.toString();
    }

    static String slack(ExportStore.Row row) {
        Violation v = row.violation();
        String priority = Formats.priority(v).toUpperCase(java.util.Locale.ROOT);
        String process = v.getProcess().getExe().isEmpty() ? v.getProcess().getComm() : v.getProcess().getExe();
        Workload w = Formats.workload(v);
        String where = !w.getPodName().isEmpty() ? "pod " + w.getPodNamespace() + "/" + w.getPodName()
                : !w.getContainerId().isEmpty() ? "container " + (w.getContainerName().isEmpty()
                        ? w.getContainerId().substring(0, Math.min(12, w.getContainerId().length())) : w.getContainerName())
                : !w.getJobId().isEmpty() ? "job " + w.getJobId() : "";
        String text = "[" + priority + "] " + v.getRule() + " on " + row.node() + ": " + v.getOutput();
        JsonObject o = new JsonObject();
        o.addProperty("text", Formats.bound(text, SLACK_TEXT_MAX));   // the notification and fallback text
        JsonArray blocks = new JsonArray();
        JsonObject section = new JsonObject();
        section.addProperty("type", "section");
        JsonObject md = new JsonObject();
        md.addProperty("type", "mrkdwn");
        md.addProperty("text", Formats.bound("*" + mrkdwn(v.getRule()) + "* (" + priority + ")\n" + mrkdwn(v.getOutput()),
                SLACK_TEXT_MAX));
        section.add("text", md);
        JsonArray fields = new JsonArray();
        field(fields, "Node", row.node());
        field(fields, "Process", process + " (pid " + v.getProcess().getPid() + ")");
        if (!where.isEmpty()) {
            field(fields, "Workload", where);
        }
        if (v.getTagsCount() > 0) {
            field(fields, "Tags", String.join(", ", v.getTagsList()));
        }
        section.add("fields", fields);
        blocks.add(section);
        o.add("blocks", blocks);
        return o.toString();
    }

    private static void field(JsonArray fields, String name, String value) {
        JsonObject f = new JsonObject();
        f.addProperty("type", "mrkdwn");
        f.addProperty("text", Formats.bound("*" + name + "*\n" + mrkdwn(value), 2000));
        fields.add(f);
    }

    /** Slack's mrkdwn escapes: &, <, > (a process's argv must not become a link or a mention). */
    static String mrkdwn(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }
}
