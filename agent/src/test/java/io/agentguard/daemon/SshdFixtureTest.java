package io.agentguard.daemon;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The sshd fixture without any agent: a key login runs a command, and a remote forward gets
 * bound. The tunnel tests' "with the agent the forward is never bound" means something only
 * because this one shows that without the agent it is.
 */
class SshdFixtureTest {
    @BeforeAll
    static void root() {
        KernelAgentExtension.requireRoot();
    }

    @Test
    void keyLoginRunsACommand() throws Exception {
        try (SshdFixture sshd = SshdFixture.start()) {
            List<String> argv = new ArrayList<>(List.of("ssh"));
            argv.addAll(sshd.clientArgs());
            argv.addAll(List.of(sshd.destination(), "echo", "hello-from-sshd"));
            Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).as(out + sshd.log()).isZero();
            assertThat(out).contains("hello-from-sshd");
        }
        assertThat(SshdFixture.isListening(SshdFixture.DEFAULT_HOST, 22)).isFalse();
    }

    @Test
    void remoteForwardIsBoundWithoutAnAgent() throws Exception {
        try (SshdFixture sshd = SshdFixture.start()) {
            int forward = freeLoopbackPort();
            assertThat(SshdFixture.isListening("127.0.0.1", forward)).isFalse();
            List<String> argv = new ArrayList<>(List.of("ssh", "-N", "-o", "ExitOnForwardFailure=yes",
                    "-R", forward + ":127.0.0.1:9"));
            argv.addAll(sshd.clientArgs());
            argv.add(sshd.destination());
            Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
            try {
                boolean bound = false;
                for (int i = 0; i < 400 && !bound && p.isAlive(); i++) {
                    bound = SshdFixture.isListening("127.0.0.1", forward);
                    Thread.sleep(25);
                }
                assertThat(bound).as("remote forward on 127.0.0.1:%d; sshd log:%n%s", forward, sshd.log()).isTrue();
            } finally {
                p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
        }
    }

    private static int freeLoopbackPort() throws Exception {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0));
            return s.getLocalPort();
        }
    }
}
