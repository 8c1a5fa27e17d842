package io.agentguard.scope;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class AgentCgroupsTest {
    @TempDir
    Path mount;

    private Path cgroup(String relative) throws Exception {
        Path dir = mount.resolve(relative);
        Files.createDirectories(dir);
        Files.createFile(dir.resolve("cgroup.procs"));
        return dir;
    }

    @Test
    void missingCgroupErrorNamesPathAndMount() {
        assertThatThrownBy(() -> AgentCgroups.resolve(mount, List.of("agents.slice"), false))
                .hasMessage("cgroup 'agents.slice' not found under the cgroup2 mount " + mount
                        + ": create it (mkdir " + mount.resolve("agents.slice") + ") or fix the agent cgroup setting");
    }

    @Test
    void rootsInsideOtherRootsAreDroppedAndLevelsMasked() throws Exception {
        cgroup("a");
        cgroup("a/b");
        cgroup("x/y/z");
        AgentCgroups c = AgentCgroups.resolve(mount, List.of("/a/b/", "a", "x/y/z"), false);
        assertThat(c.roots()).extracting(AgentCgroups.Root::relativePath).containsExactly("a", "x/y/z");
        assertThat(c.levelMask()).isEqualTo((1L << 1) | (1L << 3));
        assertThat(c.roots().getFirst().id()).isEqualTo(AgentCgroups.inode(mount.resolve("a")));
    }

    @Test
    void dotDotIsRefused() {
        assertThatThrownBy(() -> AgentCgroups.resolve(mount, List.of("../etc"), true))
                .hasMessageContaining("must not contain '..'");
    }

    @Test
    void cgroup2MountIsFoundInProcMountsWithEscapes() throws Exception {
        Path mounts = mount.resolve("mounts");
        Files.writeString(mounts, "proc /proc proc rw 0 0\ncgroup2 /sys/fs/cgroup/my\\040dir cgroup2 rw 0 0\n");
        assertThat(Cgroup2Mount.find(mounts)).isEqualTo(Path.of("/sys/fs/cgroup/my dir"));
        Files.writeString(mounts, "proc /proc proc rw 0 0\n");
        assertThatThrownBy(() -> Cgroup2Mount.find(mounts)).hasMessageStartingWith("no cgroup2 filesystem in");
    }
}
