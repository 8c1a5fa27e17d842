package io.agentguard.daemon;

import io.agentguard.config.AgentConfigLoader;
import io.agentguard.enforce.ExecLoaders;
import io.agentguard.enforce.FileIdentity;
import io.agentguard.process.HostRoot;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.ExecDenyMatch;
import io.agentguard.proto.v1.ExecEvent;
import io.agentguard.proto.v1.Verdict;
import io.agentguard.proto.v1.Violation;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The daemon in a container sees the image as "/" and the host through /proc/1/root
 * (host_root). Here the "host" is a directory laid out as Debian lays out a root (merged
 * /usr, /lib64/ld-linux-x86-64.so.2 an absolute symlink) whose files are copies, so each has
 * an identity of its own that the real root's files do not share. An agent runs the host's
 * programs by their real paths under that directory, as a process on the host runs
 * /usr/local/bin/miner: the exec deny path, the dynamic loader and "the host's ssh" must be the
 * files under host_root, not the files at the same paths in the daemon's own root.
 */
class HostRootKernelTest {
    static final Path HOST;
    static final Path MINER;       // the host's /usr/local/bin/agtest-miner: the real root has no such file
    static final Path LOADER;      // the host's ld.so, a copy: another identity than the real root's
    static final Path SSH;         // the host's /usr/bin/ssh, a copy of true
    static final int KILLED = 128 + 9;

    static {
        try {
            HOST = Files.createTempDirectory("agentguard-host-root");
            Files.createDirectories(HOST.resolve("usr/local/bin"));
            Files.createDirectories(HOST.resolve("usr/lib/x86_64-linux-gnu"));
            Files.createDirectories(HOST.resolve("lib64"));
            Files.createSymbolicLink(HOST.resolve("bin"), Path.of("usr/bin"));
            Files.createSymbolicLink(HOST.resolve("lib"), Path.of("usr/lib"));
            MINER = Files.copy(Path.of("/usr/bin/sleep"), HOST.resolve("usr/local/bin/agtest-miner"));
            LOADER = Files.copy(Path.of("/lib64/ld-linux-x86-64.so.2"), HOST.resolve("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"));
            // absolute, as Debian ships it: resolved against the daemon's own root it is the real root's loader
            Files.createSymbolicLink(HOST.resolve("lib64/ld-linux-x86-64.so.2"), Path.of("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"));
            Files.createDirectories(HOST.resolve("usr/bin"));
            SSH = Files.copy(Path.of("/usr/bin/true"), HOST.resolve("usr/bin/ssh"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @RegisterExtension
    static final KernelAgentExtension KERNEL = new KernelAgentExtension(4096).configure(b -> b.enforce(true)
            .hostRoot(HostRoot.of(HOST.toString()))
            .defaultPolicy(AgentConfigLoader.parse("test", """
                    agent_cgroups: [x]
                    policies:
                      default:
                        exec: {deny: [/usr/local/bin/agtest-miner]}
                    """).defaultPolicy()));

    private static ExecEvent exec(Path cg, String filename) throws InterruptedException {
        List<Event> found = KERNEL.await(e -> e.hasExec() && e.getProcess().getCgroupId() == KERNEL.cgroupId(cg)
                && e.getExec().getFilename().equals(filename), 1, Duration.ofSeconds(10));
        assertThat(found).as("exec event of " + filename).isNotEmpty();
        return found.getFirst().getExec();
    }

    @Test
    void aDeniedHostPathIsDeniedByTheIdentityOfTheFileUnderTheHostRoot() throws Exception {
        Path cg = KERNEL.newCgroup("miner");
        FileIdentity miner = FileIdentity.of(MINER);
        // the agent runs the host's /usr/local/bin/agtest-miner (the daemon's root has none)
        assertThat(KERNEL.runIn(cg, MINER.toString(), "0").exitStatus()).isEqualTo(KILLED);
        ExecEvent x = exec(cg, MINER.toString());
        assertThat(x.getVerdict()).isEqualTo(Verdict.VERDICT_DENIED);
        assertThat(x.getDenyMatch()).isEqualTo(ExecDenyMatch.EXEC_DENY_MATCH_IDENTITY);
        assertThat(x.getInode()).isEqualTo(miner.ino());

        // an upgrade on the host (a new inode at the denied path) is denied after the recheck
        Files.delete(MINER);
        Files.copy(Path.of("/usr/bin/sleep"), MINER);
        FileIdentity upgraded = FileIdentity.of(MINER);
        KERNEL.agent().policies().recheckExecFiles();
        assertThat(KERNEL.runIn(cg, MINER.toString(), "0").exitStatus()).isEqualTo(KILLED);
        List<Event> again = KERNEL.await(e -> e.hasExec() && e.getProcess().getCgroupId() == KERNEL.cgroupId(cg)
                && e.getExec().getInode() == upgraded.ino(), 1, Duration.ofSeconds(10));
        assertThat(again).isNotEmpty();
        assertThat(again.getFirst().getExec().getDenyMatch()).isEqualTo(ExecDenyMatch.EXEC_DENY_MATCH_IDENTITY);
    }

    @Test
    void theHostsLoaderIsFoundUnderTheHostRootWithAbsoluteSymlinksResolvedThereAndRunningTheMinerThroughItIsKilled()
            throws Exception {
        FileIdentity hostLoader = FileIdentity.of(LOADER);
        FileIdentity ownLoader = FileIdentity.of(Path.of("/lib64/ld-linux-x86-64.so.2"));
        List<ExecLoaders.Found> loaders = KERNEL.agent().policies().loaders();
        assertThat(loaders).extracting(f -> f.id().dev() + ":" + f.id().ino())
                .containsExactly(hostLoader.dev() + ":" + hostLoader.ino())
                .doesNotContain(ownLoader.dev() + ":" + ownLoader.ino());
        // shown as the host names them
        assertThat(loaders).extracting(f -> f.path().toString()).containsExactly("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");

        Path cg = KERNEL.newCgroup("loader");
        Path miner = HOST.resolve("usr/local/bin/agtest-miner");
        // without the loader recognised, this sleeps 30 s and exits 0
        assertThat(KERNEL.runIn(cg, LOADER.toString(), "--inhibit-cache", miner.toString(), "30").exitStatus())
                .isEqualTo(KILLED);
        assertThat(exec(cg, LOADER.toString()).getLoader()).isTrue();
        List<Violation> v = KERNEL.awaitViolations(x -> x.getRule().equals("agentguard: exec killed by policy after it started")
                && x.getEvidence(0).getExec().getLoader(), 1, Duration.ofSeconds(10));
        assertThat(v).isNotEmpty();
        assertThat(v.getFirst().getEvidence(0).getExec().getDenyMatch()).isEqualTo(ExecDenyMatch.EXEC_DENY_MATCH_IDENTITY);
    }

    @Test
    void theHostsSshIsTheFileUnderTheHostRootNotTheDaemonsOwn() {
        FileIdentity hostSsh = FileIdentity.of(SSH);
        FileIdentity ownSsh = FileIdentity.of(Path.of("/usr/bin/ssh"));
        var programs = KERNEL.agent().policies().view().programs();
        assertThat(programs.name(hostSsh.dev(), hostSsh.ino())).isEqualTo("ssh");
        assertThat(ownSsh).as("this machine has /usr/bin/ssh (openssh-server)").isNotNull();
        assertThat(programs.name(ownSsh.dev(), ownSsh.ino())).isEmpty();
    }
}
