package io.agentguard.posture;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** What counts as a posture finding: capability sets, mounts, owners and modes. */
class PostureRulesTest {
    private static final long ALL = (1L << 41) - 1;

    private static Credentials creds(int uid, long eff, long prm, long bnd, boolean nnp) {
        return new Credentials(uid, uid, uid, uid, uid, new int[0], eff, prm, bnd, nnp);
    }

    @Test
    void heldMeansEffectiveOrPermittedAndRegainableMeansRootWithoutNoNewPrivs() {
        assertThat(Capabilities.names(creds(0, ALL, ALL, ALL, false).dangerousHeld())).containsExactly("dac_override",
                "net_admin", "net_raw", "sys_module", "sys_ptrace", "sys_admin", "perfmon", "bpf");
        // permitted only: raised to effective at will
        assertThat(creds(1000, 0, Capabilities.bit(Capabilities.BPF), 0, true).dangerousHeld())
                .isEqualTo(Capabilities.bit(Capabilities.BPF));
        // uid 0, nothing held, full bounding set, no no_new_privs: the next exec gives it all back
        assertThat(creds(0, 0, 0, ALL, false).dangerousRegainable()).isEqualTo(Capabilities.DANGEROUS);
        assertThat(creds(0, 0, 0, ALL, true).dangerousRegainable()).isZero();
        assertThat(creds(0, 0, 0, 0, false).dangerousRegainable()).isZero();
        // not root: only setuid or file-capability programs could, as for every login: not counted
        assertThat(creds(1000, 0, 0, ALL, false).dangerousRegainable()).isZero();
    }

    @Test
    void capabilityNamesParseInEitherSpellingAndUnknownOnesSayWhatWasMeant() {
        assertThat(Capabilities.parse("net_bind_service")).isEqualTo(10);
        assertThat(Capabilities.parse("CAP_NET_RAW")).isEqualTo(Capabilities.NET_RAW);
        assertThat(Capabilities.parse("21")).isEqualTo(Capabilities.SYS_ADMIN);
        assertThatThrownBy(() -> Capabilities.parse("sys_admn")).hasMessageContaining("unknown capability 'sys_admn'"
                + " (did you mean 'sys_admin'?)");
        assertThatThrownBy(() -> Capabilities.parse("99")).hasMessageContaining("unknown capability '99'");
    }

    @Test
    void aFileIsWritableOnlyThroughAVisibleReadWriteMount(@TempDir Path dir) throws Exception {
        Path host = dir.resolve("host");
        Files.writeString(host, """
                1 0 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
                2 1 0:30 / /sys/fs/cgroup rw,nosuid shared:2 - cgroup2 cgroup2 rw
                """);
        Path readOnly = dir.resolve("sandbox");
        Files.writeString(readOnly, """
                1 0 8:1 / / rw,relatime master:1 - ext4 /dev/sda1 rw
                2 1 0:30 / /sys/fs/cgroup rw,nosuid master:2 - cgroup2 cgroup2 rw
                3 2 0:30 / /sys/fs/cgroup ro,nosuid master:2 - cgroup2 cgroup2 rw
                4 1 8:1 /etc/agentguard /etc/agentguard ro,relatime master:1 - ext4 /dev/sda1 rw
                """);
        Path container = dir.resolve("container");
        Files.writeString(container, """
                1 0 0:50 / / rw,relatime - overlay overlay rw
                2 1 0:30 /agents/a1 /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw
                3 1 8:1 /srv/config /host/etc rw,relatime - ext4 /dev/sda1 rw
                """);
        MountTable h = MountTable.read(host);
        MountTable.FsLocation procs = h.locate(Path.of("/sys/fs/cgroup/cgroup.procs"));
        MountTable.FsLocation config = h.locate(Path.of("/etc/agentguard/agentguard.yaml"));
        assertThat(h.writableView(procs).path()).isEqualTo("/sys/fs/cgroup/cgroup.procs");
        // covered by a read-only mount at the same point or below: safe
        assertThat(MountTable.read(readOnly).writableView(procs)).isNull();
        assertThat(MountTable.read(readOnly).writableView(config)).isNull();
        // a cgroup namespace's view starts at its own subtree: the root's cgroup.procs is not there
        MountTable c = MountTable.read(container);
        assertThat(c.writableView(procs)).isNull();
        assertThat(c.writableView(h.locate(Path.of("/sys/fs/cgroup/agents/a1/cgroup.procs"))).path())
                .isEqualTo("/sys/fs/cgroup/cgroup.procs");
        // the host's /etc is not at /etc in the container; only what is bind-mounted counts, where it is
        assertThat(c.writableView(config)).isNull();
        assertThat(c.writableView(h.locate(Path.of("/srv/config/agentguard.yaml"))).path())
                .isEqualTo("/host/etc/agentguard.yaml");
    }

    @Test
    void aMountPointThatIsNotUtf8DoesNotHideTheOthers(@TempDir Path dir) throws Exception {
        // an agent can mount in a user namespace of its own, under any name: the rest of its table still counts
        Path table = dir.resolve("mountinfo");
        Files.write(table, ("1 0 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n"
                + "2 1 0:31 / /tmp/\377x rw - tmpfs x rw\n"
                + "3 1 0:32 / /tmp/caf\303\251\\040y rw - tmpfs y rw\n").getBytes(StandardCharsets.ISO_8859_1));
        MountTable t = MountTable.read(table);
        assertThat(t.writableView(new MountTable.FsLocation("8:1", "/etc/agentguard/agentguard.yaml")).path())
                .isEqualTo("/etc/agentguard/agentguard.yaml");
        assertThat(t.mountOf("/tmp/caf\u00e9 y/z").point()).isEqualTo("/tmp/caf\u00e9 y");
    }

    @Test
    void unsafePathsAreGroupOrOtherWritableOnesAndTheirDirectoriesButNotStickyOnes(@TempDir Path dir) throws Exception {
        Path conf = dir.resolve("conf");
        Files.createDirectories(conf);
        Path file = conf.resolve("agentguard.yaml");
        Files.writeString(file, "x");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        GuardPaths paths = new GuardPaths(List.of(new GuardPaths.Guarded("configuration", file)));
        assertThat(paths.unsafe(0)).isEmpty();
        Files.setPosixFilePermissions(conf, PosixFilePermissions.fromString("rwxrwxr-x"));
        assertThat(paths.unsafe(0)).singleElement().asString().contains("configuration " + file + ": directory " + conf
                + " is writable by group");
        Files.setPosixFilePermissions(conf, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-rw-rw-"));
        assertThat(paths.unsafe(0)).containsExactly("configuration " + file + ": is writable by others (mode 0666)");
        // the temp directory's parents (/tmp: sticky, 1777) are not reported
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        assertThat(paths.unsafe(0)).isEmpty();
    }

    @Test
    void uidZeroWithoutCapabilitiesStillWritesRootOwnedFilesAndOthersDoNot() {
        assertThat(creds(0, 0, 0, 0, true).mayWrite(0, 0, 0644)).isTrue();
        assertThat(creds(65534, 0, 0, 0, true).mayWrite(0, 0, 0644)).isFalse();
        assertThat(creds(65534, Capabilities.bit(Capabilities.DAC_OVERRIDE), 0, 0, true).mayWrite(0, 0, 0600)).isTrue();
        assertThat(creds(65534, 0, 0, 0, true).mayWrite(0, 0, 0666)).isTrue();
    }

    @Test
    void fownerChownAndSetuidGetPastFilePermissionsAsTheSandboxLauncherCountsThem() {
        // fowner: chmod the file, then write it; chown: make it its own; setuid: setuid(0), its owner
        for (int cap : new int[] {Capabilities.FOWNER, Capabilities.CHOWN, Capabilities.SETUID}) {
            assertThat(creds(65534, 0, Capabilities.bit(cap), 0, true).mayWrite(0, 0, 0444)).as(Capabilities.name(cap))
                    .isTrue();
        }
        assertThat(creds(65534, Capabilities.bit(5) /* kill */, 0, 0, true).mayWrite(0, 0, 0444)).isFalse();
    }

    @Test
    void holdingSetuidWithoutNoNewPrivsRegainsTheBoundingSetLikeUidZero() {
        // setuid(0) needs no exec: then the next exec of anything as uid 0 gets the bounding set back
        long setuid = Capabilities.bit(Capabilities.SETUID);
        assertThat(creds(1000, 0, setuid, ALL, false).dangerousRegainable()).isEqualTo(Capabilities.DANGEROUS);
        assertThat(creds(1000, 0, setuid, ALL, true).dangerousRegainable()).isZero();
    }

    @Test
    void capabilitiesInANestedUserNamespaceDoNotCount() {
        long all = (1L << 41) - 1;
        Credentials nested = new Credentials(0, 0, 0, 0, 0, new int[0], all, all, all, false, true);
        assertThat(nested.dangerousHeld()).isZero();
        assertThat(nested.dangerousRegainable()).isZero();
        assertThat(nested.mayWrite(0, 0, 0644)).as("uid 0 as seen from the host still owns root's files")
                .isTrue();
        Credentials nestedUser = new Credentials(65534, 65534, 65534, 65534, 65534, new int[0], all, all, all, false, true);
        assertThat(nestedUser.mayWrite(0, 0, 0644)).isFalse();
        assertThat(nestedUser.uidRootAtWill()).isFalse();
        Credentials host = new Credentials(65534, 65534, 65534, 65534, 65534, new int[0], all, all, all, false, false);
        assertThat(host.dangerousHeld()).isNotZero();
        assertThat(host.mayWrite(0, 0, 0644)).isTrue();
    }
}
