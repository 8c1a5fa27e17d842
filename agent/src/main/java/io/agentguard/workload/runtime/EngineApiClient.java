package io.agentguard.workload.runtime;

import io.agentguard.workload.RuntimeNames;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.config.ConnectionConfig;
import org.apache.hc.client5.http.config.RequestConfig;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.DnsResolver;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManager;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManagerBuilder;
import org.apache.hc.core5.http.HttpEntity;
import org.apache.hc.core5.util.Timeout;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * Podman's libpod API and Docker's Engine API (which Podman's compat layer also serves): HTTP/1.1
 * over the runtime's Unix socket, with Apache HttpClient 5 (5.6 connects to Unix sockets through
 * the JDK's own support). GET /containers/ID/json gives Name and Config.Labels; a libpod container
 * in a pod names the pod's id (Pod), whose name is one more GET /libpod/pods/ID/json.
 *
 * <p>The answer is read as a stream, fields it does not need skipped, at most
 * {@link #MAX_RESPONSE_BYTES}, within a deadline of 2 × the lookup timeout.
 */
final class EngineApiClient implements RuntimeClient {
    /** An inspect answer is a few KiB; labels are bounded besides (RuntimeNames). */
    static final int MAX_RESPONSE_BYTES = 1 << 20;
    /** libpod's versioned prefix: v4 routes are served by Podman 4 and 5. */
    static final String LIBPOD_PREFIX = "/v4.0.0/libpod";

    enum Api { LIBPOD, DOCKER }

    private final Path socket;
    private final Api api;
    private final long timeoutMs;
    private final CloseableHttpClient http;
    private final RequestConfig requestConfig;

    EngineApiClient(Path socket, Api api, long timeoutMs) {
        this.socket = socket;
        this.api = api;
        this.timeoutMs = timeoutMs;
        Timeout timeout = Timeout.ofMilliseconds(timeoutMs);
        // the pooling manager routes by RequestConfig's Unix socket (5.6's basic manager connects to the TCP
        // host instead); and no host name ever resolves, so that nothing can go to a TCP port by mistake
        PoolingHttpClientConnectionManager connections = PoolingHttpClientConnectionManagerBuilder.create()
                .setDefaultConnectionConfig(ConnectionConfig.custom()
                        .setConnectTimeout(timeout)
                        .setSocketTimeout(timeout)
                        .build())
                .setDnsResolver(new NoDns())
                .setMaxConnTotal(1)
                .setMaxConnPerRoute(1)
                .build();
        this.http = HttpClients.custom()
                .setConnectionManager(connections)
                .disableAutomaticRetries()
                .disableRedirectHandling()
                .disableCookieManagement()
                .disableAuthCaching()
                .disableContentCompression()
                .build();
        this.requestConfig = RequestConfig.custom()
                .setUnixDomainSocket(socket)
                .setConnectionRequestTimeout(timeout)
                .setResponseTimeout(timeout)
                .build();
    }

    @Override
    public Path socket() {
        return socket;
    }

    @Override
    public RuntimeNames lookup(String containerId, String podUid, RuntimeNamesBuilder into) throws IOException {
        long deadlineNs = System.nanoTime() + 2_000_000L * timeoutMs;
        String path = api == Api.LIBPOD ? LIBPOD_PREFIX + "/containers/" + containerId + "/json"
                : "/containers/" + containerId + "/json";
        byte[] body = get(path, deadlineNs);
        if (body == null) {
            return null;
        }
        String podId = readContainer(body, into);
        if (api == Api.LIBPOD && !podId.isEmpty() && podId.matches("[0-9a-f]{1,64}")) {
            byte[] pod = get(LIBPOD_PREFIX + "/pods/" + podId + "/json", deadlineNs);
            if (pod != null) {
                into.podName(readPodName(pod));
            }
        }
        return into.build();
    }

    /** The body of a 200 answer, null for 404; anything else is an IOException. */
    private byte[] get(String path, long deadlineNs) throws IOException {
        HttpGet get = new HttpGet("http://localhost" + path);
        get.setConfig(requestConfig);
        return http.execute(get, response -> {
            int code = response.getCode();
            if (code == 404) {
                return null;
            }
            if (code != 200) {
                throw new IOException(socket + ": GET " + path + ": HTTP " + code);
            }
            HttpEntity entity = response.getEntity();
            if (entity == null) {
                throw new IOException(socket + ": GET " + path + ": no body");
            }
            try (InputStream in = entity.getContent()) {
                return readBounded(in, deadlineNs, path);
            }
        });
    }

    private byte[] readBounded(InputStream in, long deadlineNs, String path) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream(8192);
        byte[] buffer = new byte[8192];
        for (int n; (n = in.read(buffer)) >= 0; ) {
            out.write(buffer, 0, n);
            if (out.size() > MAX_RESPONSE_BYTES) {
                throw new IOException(socket + ": GET " + path + ": answer larger than " + MAX_RESPONSE_BYTES + " bytes");
            }
            if (System.nanoTime() - deadlineNs > 0) {
                throw new SocketTimeoutException(socket + ": GET " + path + ": answer still coming after " + 2 * timeoutMs + " ms");
            }
        }
        return out.toByteArray();
    }

    /** Name and Config.Labels into the builder; returns Pod ("" if none). */
    private String readContainer(byte[] body, RuntimeNamesBuilder into) throws IOException {
        String pod = "";
        try (JsonReader json = reader(body)) {
            json.beginObject();
            while (json.hasNext()) {
                switch (json.nextName()) {
                    case "Name" -> {
                        String name = string(json);
                        // the Engine API names containers "/NAME" (a path in the legacy link tree)
                        into.containerName(api == Api.DOCKER && name.startsWith("/") ? name.substring(1) : name);
                    }
                    case "Pod" -> pod = string(json);
                    case "Config" -> readConfig(json, into);
                    default -> json.skipValue();
                }
            }
        }
        return pod;
    }

    private static void readConfig(JsonReader json, RuntimeNamesBuilder into) throws IOException {
        if (json.peek() != JsonToken.BEGIN_OBJECT) {
            json.skipValue();
            return;
        }
        json.beginObject();
        while (json.hasNext()) {
            if (json.nextName().equals("Labels") && json.peek() == JsonToken.BEGIN_OBJECT) {
                json.beginObject();
                while (json.hasNext()) {
                    String key = json.nextName();
                    into.label(key, string(json));
                }
                json.endObject();
            } else {
                json.skipValue();
            }
        }
        json.endObject();
    }

    private static String readPodName(byte[] body) throws IOException {
        String name = "";
        try (JsonReader json = reader(body)) {
            json.beginObject();
            while (json.hasNext()) {
                if (json.nextName().equals("Name")) {
                    name = string(json);
                } else {
                    json.skipValue();
                }
            }
        }
        return name;
    }

    /** A string value; null and other types as "". */
    private static String string(JsonReader json) throws IOException {
        if (json.peek() == JsonToken.STRING) {
            return json.nextString();
        }
        json.skipValue();
        return "";
    }

    private static JsonReader reader(byte[] body) {
        JsonReader json = new JsonReader(new InputStreamReader(new ByteArrayInputStream(body), StandardCharsets.UTF_8));
        json.setStrictness(com.google.gson.Strictness.STRICT);
        return json;
    }

    /** Resolves nothing: the client only ever talks to a Unix socket. */
    private static final class NoDns implements DnsResolver {
        @Override
        public java.net.InetAddress[] resolve(String host) throws java.net.UnknownHostException {
            throw new java.net.UnknownHostException(host + ": the runtime client connects to Unix sockets only");
        }

        @Override
        public String resolveCanonicalHostname(String host) throws java.net.UnknownHostException {
            throw new java.net.UnknownHostException(host + ": the runtime client connects to Unix sockets only");
        }
    }

    @Override
    public void close() {
        http.close(org.apache.hc.core5.io.CloseMode.IMMEDIATE);
    }
}
