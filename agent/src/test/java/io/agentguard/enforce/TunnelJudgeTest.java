package io.agentguard.enforce;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** How the tunnel judge reads ssh command lines and configuration files, as ssh would. */
class TunnelJudgeTest {
    private static boolean forwarding(String... argv) {
        return TunnelJudge.SshCommandLine.parse(List.of(argv)).forwarding();
    }

    @Test
    void forwardingFlagsInEverySpellingAreSeen() {
        assertThat(forwarding("ssh", "-fNR", "8080:127.0.0.1:22", "evil")).isTrue();
        assertThat(forwarding("ssh", "-f", "-N", "-R", "8080:127.0.0.1:22", "evil")).isTrue();
        assertThat(forwarding("ssh", "-R8080:127.0.0.1:22", "evil")).isTrue();
        assertThat(forwarding("ssh", "-D", "1080", "evil")).isTrue();
        assertThat(forwarding("ssh", "-L", "1:h:2", "evil")).isTrue();
        assertThat(forwarding("ssh", "-w", "0:0", "evil")).isTrue();
        assertThat(forwarding("ssh", "-J", "jump", "evil")).isTrue();
        assertThat(forwarding("ssh", "-W", "h:22", "evil")).isTrue();
        assertThat(forwarding("ssh", "-M", "-S", "/tmp/c", "evil")).isTrue();
        assertThat(forwarding("ssh", "-o", "RemoteForward=8080 127.0.0.1:22", "evil")).isTrue();
        assertThat(forwarding("ssh", "-oRemoteForward=8080 127.0.0.1:22", "evil")).isTrue();
        assertThat(forwarding("ssh", "-o", "remoteforward 8080 127.0.0.1:22", "evil")).isTrue();
        assertThat(forwarding("ssh", "-o", "ProxyCommand=nc %h %p", "evil")).isTrue();
        assertThat(forwarding("ssh", "-o", "Tunnel=yes", "evil")).isTrue();
    }

    @Test
    void optionsAfterTheDestinationCountButTheRemoteCommandDoesNot() {
        assertThat(forwarding("ssh", "evil", "-R", "8080:127.0.0.1:22")).isTrue();   // ssh re-parses options there
        assertThat(forwarding("ssh", "evil", "echo", "-R", "8080:x:1")).isFalse();    // the command's arguments
        assertThat(forwarding("ssh", "--", "evil", "-R", "1:x:2")).isFalse();
    }

    @Test
    void plainSshAndOffValuesAreNotForwarding() {
        assertThat(forwarding("ssh", "-i", "/k", "-p", "22", "-o", "BatchMode=yes", "host", "true")).isFalse();
        assertThat(forwarding("ssh", "-o", "ProxyCommand=none", "-o", "Tunnel=no", "-o", "ControlMaster=no", "h")).isFalse();
        assertThat(forwarding("ssh", "-l", "-R", "host")).isFalse();   // -l takes "-R" as its argument
        // scp/sftp run ssh with ClearAllForwardings=yes: config-file forwards are cleared
        assertThat(forwarding("ssh", "-x", "-oClearAllForwardings=yes", "-R", "1:x:2", "h")).isFalse();
        assertThat(forwarding("ssh", "-oClearAllForwardings=yes", "-J", "jump", "h")).isTrue();   // not a forward
    }

    @Test
    void configFileIsTakenFromDashF() {
        assertThat(TunnelJudge.SshCommandLine.parse(List.of("ssh", "-F", "/tmp/x", "h")).configFile()).isEqualTo("/tmp/x");
        assertThat(TunnelJudge.SshCommandLine.parse(List.of("ssh", "-F/tmp/y", "h")).configFile()).isEqualTo("/tmp/y");
        assertThat(TunnelJudge.SshCommandLine.parse(List.of("ssh", "h")).configFile()).isNull();
    }

    @Test
    void configFilesAndTheirIncludesAreRead(@TempDir Path root) throws Exception {
        Path home = root.resolve("home/u");
        Files.createDirectories(home.resolve(".ssh/d"));
        Path config = home.resolve(".ssh/config");
        Files.writeString(config, "Host *\n  ServerAliveInterval 30\n  Include d/*.conf\n");
        assertThat(TunnelJudge.configForwards(config, root, "/home/u", true, false, 0)).isFalse();
        Files.writeString(home.resolve(".ssh/d/x.conf"), "Match host evil\n\tDynamicForward = 1080\n");
        assertThat(TunnelJudge.configForwards(config, root, "/home/u", true, false, 0)).isTrue();
        assertThat(TunnelJudge.configForwards(config, root, "/home/u", true, true, 0))
                .as("ClearAllForwardings on the command line").isFalse();
        Files.writeString(home.resolve(".ssh/d/x.conf"), "# RemoteForward 1 x:2\nProxyJump none\n");
        assertThat(TunnelJudge.configForwards(config, root, "/home/u", true, false, 0)).isFalse();
    }

    @Test
    void includeLoopsStopAtTheDepthLimit(@TempDir Path root) throws Exception {
        Path etc = Files.createDirectories(root.resolve("etc/ssh"));
        Files.writeString(etc.resolve("ssh_config"), "Include ssh_config\n");
        assertThat(TunnelJudge.configForwards(etc.resolve("ssh_config"), root, null, false, false, 0)).isFalse();
    }

    @Test
    void aFifoIsNotReadAsAConfigFile(@TempDir Path root) throws Exception {
        Path fifo = root.resolve("fifo");
        new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor();
        assertThat(TunnelJudge.read(fifo, 1024)).isEmpty();   // opening it would block the judge
    }

    @Test
    void aConfigTheJudgeCannotReadIsJudgedForwarding(@TempDir Path root) throws Exception {
        // red team: ssh -F FIFO with the forward written into it by a background job was judged PLAIN
        Path fifo = root.resolve("fwd.fifo");
        new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor();
        assertThat(TunnelJudge.configForwards(fifo, root, null, true, false, 0)).isTrue();
        Path etc = Files.createDirectories(root.resolve("etc/ssh"));
        Files.writeString(etc.resolve("ssh_config"), "Host *\n  Include /fwd.fifo\n");   // paths are in the process's root
        assertThat(TunnelJudge.configForwards(etc.resolve("ssh_config"), root, null, false, false, 0)).isTrue();
        // /dev/null is empty, a regular file is read
        assertThat(TunnelJudge.configForwards(Path.of("/dev/null"), root, null, true, false, 0)).isFalse();
        Files.writeString(root.resolve("plain.conf"), "Host x\n  User u\n");
        assertThat(TunnelJudge.configForwards(root.resolve("plain.conf"), root, null, true, false, 0)).isFalse();
        // -F /dev/stdin and descriptors are the process's own streams
        assertThat(TunnelJudge.readsAnotherProcessesStream("/dev/stdin")).isTrue();
        assertThat(TunnelJudge.readsAnotherProcessesStream("/dev/fd/3")).isTrue();
        assertThat(TunnelJudge.readsAnotherProcessesStream("/proc/self/fd/0")).isTrue();
        assertThat(TunnelJudge.readsAnotherProcessesStream("/proc/4242/fd/0")).isTrue();
        assertThat(TunnelJudge.readsAnotherProcessesStream("/home/u/.ssh/config")).isFalse();
    }

    @Test
    void matchExecIsJudgedForwardingWhereverItStands(@TempDir Path root) throws Exception {
        // red team: Match exec wrote the RemoteForward into a file Included after it, after the judge read
        Path config = root.resolve("match.conf");
        Files.writeString(config, "Match exec \"printf 'RemoteForward 1:127.0.0.1:22' > /tmp/x\"\nInclude /tmp/x\n");
        assertThat(TunnelJudge.configForwards(config, root, null, true, false, 0)).isTrue();
        Files.writeString(config, "Match host x !exec \"true\"\n  User u\n");
        assertThat(TunnelJudge.configForwards(config, root, null, true, false, 0)).isTrue();
        Files.writeString(config, "Match host exec.example.com\n  User u\n");
        assertThat(TunnelJudge.configForwards(config, root, null, true, false, 0)).isFalse();
    }
}
