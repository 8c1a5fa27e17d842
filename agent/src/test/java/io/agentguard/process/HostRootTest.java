package io.agentguard.process;

import io.agentguard.config.AgentConfig;
import io.agentguard.config.AgentConfigLoader;
import io.agentguard.config.ConfigException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** host_root: host paths looked up under another root, with the host's symlinks meaning what they mean on the host. */
class HostRootTest {
    @TempDir
    Path host;

    @Test
    void anAbsoluteSymlinkOnTheHostPointsInsideTheHostRootNotIntoTheDaemonsOwnRoot() throws Exception {
        Files.createDirectories(host.resolve("usr/lib/x86_64-linux-gnu"));
        Files.writeString(host.resolve("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"), "host loader");
        Files.createSymbolicLink(host.resolve("lib"), Path.of("usr/lib"));
        Files.createDirectories(host.resolve("lib64"));
        Files.createSymbolicLink(host.resolve("lib64/ld-linux-x86-64.so.2"), Path.of("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"));
        HostRoot root = HostRoot.of(host.toString());
        Path local = root.resolve("/lib64/ld-linux-x86-64.so.2");
        assertThat(local).isEqualTo(host.resolve("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"));
        assertThat(Files.readString(local)).isEqualTo("host loader");
        assertThat(root.hostPath(local)).isEqualTo(Path.of("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"));
    }

    @Test
    void dotDotAndSymlinkLoopsStayInsideTheHostRoot() throws Exception {
        Files.createDirectories(host.resolve("etc"));
        HostRoot root = HostRoot.of(host.toString());
        assertThat(root.resolve("/../../etc/passwd")).isEqualTo(host.resolve("etc/passwd"));
        Files.createSymbolicLink(host.resolve("etc/up"), Path.of("../../../.."));
        assertThat(root.resolve("/etc/up/etc")).isEqualTo(host.resolve("etc"));
        Files.createSymbolicLink(host.resolve("a"), Path.of("/b"));
        Files.createSymbolicLink(host.resolve("b"), Path.of("/a"));
        assertThat(root.resolve("/a/x").startsWith(host)).isTrue();
    }

    @Test
    void slashIsTheDaemonsOwnRootAsBefore() {
        assertThat(HostRoot.of("/").isSlash()).isTrue();
        assertThat(HostRoot.SLASH.resolve("/lib64/ld-linux-x86-64.so.2")).isEqualTo(Path.of("/lib64/ld-linux-x86-64.so.2"));
        assertThat(AgentConfigLoader.embeddedDefault().hostRoot()).isEqualTo(HostRoot.SLASH);
    }

    @Test
    void hostRootIsReadFromTheConfigurationAndMustBeADirectory() throws Exception {
        AgentConfig c = AgentConfigLoader.parse("a.yaml", "agent_cgroups: [x]\nhost_root: " + host + "\n");
        assertThat(c.hostRoot().root()).isEqualTo(host);
        Files.writeString(host.resolve("file"), "");
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml", "agent_cgroups: [x]\nhost_root: " + host.resolve("file") + "\n"))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("a.yaml:2:12: host_root:")
                .hasMessageContaining("is not a directory");
        assertThatThrownBy(() -> AgentConfigLoader.parse("a.yaml", "agent_cgroups: [x]\nhost_root: proc/1/root\n"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("host_root: 'proc/1/root' is not an absolute path");
    }

    @Test
    void computeExecutablesAreCheckedUnderTheHostRoot() throws Exception {
        Files.createDirectories(host.resolve("opt/cuda/bin"));
        Files.writeString(host.resolve("opt/cuda/bin/trainer-only-on-the-host"), "");
        String yaml = """
                agent_cgroups: [x]
                host_root: %s
                policies:
                  default:
                    gpu: {compute: false, compute_executables: [/opt/cuda/bin/trainer-only-on-the-host]}
                """.formatted(host);
        assertThat(AgentConfigLoader.parse("a.yaml", yaml).defaultPolicy().computeExecutables())
                .containsExactly("/opt/cuda/bin/trainer-only-on-the-host");
    }
}
