package io.agentguard.enforce;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class ExecIdentityTest {
    /** The kernel's s_dev of a mount is what /proc/self/mountinfo prints as major:minor; FileIdentity must agree. */
    @Test
    void kernelDeviceNumbersAgreeWithMountinfo() throws Exception {
        int checked = 0;
        for (String path : List.of("/", "/proc", "/tmp", "/sys/fs/cgroup", "/sys/fs/cgroup/unified", "/dev")) {
            Path p = Path.of(path);
            if (!Files.exists(p)) {
                continue;
            }
            FileIdentity id = FileIdentity.of(p);
            String real = p.toRealPath().toString();
            String mountinfoDev = Files.readAllLines(Path.of("/proc/self/mountinfo")).stream()
                    .map(l -> l.split(" ")).filter(f -> f[4].equals(real)).reduce((a, b) -> b)
                    .map(f -> f[2]).orElse(null);
            if (mountinfoDev == null) {
                continue;   // not a mount point here
            }
            assertThat(id.major() + ":" + id.minor()).as(path).isEqualTo(mountinfoDev);
            checked++;
        }
        assertThat(checked).isGreaterThanOrEqualTo(2);
    }

    @Test
    void largeMajorAndMinorNumbersSurviveTheGlibcToKernelConversion() {
        // glibc makedev(0x1234, 0x56789): minor bits 0..7 | 12..31 major bits 8..19 | 32..63
        long major = 0x1234;
        long minor = 0x56789;
        long stDev = (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xffL) << 12) | ((major & ~0xfffL) << 32);
        assertThat(FileIdentity.kernelDev(stDev)).isEqualTo(major << 20 | minor);
    }

    @Test
    void theLoadersProgramIsTheFirstArgumentAfterItsOptions() {
        assertThat(ExecFileChecker.loaderProgram(List.of("ld.so", "./xmrig", "-o", "pool"))).isEqualTo("./xmrig");
        assertThat(ExecFileChecker.loaderProgram(List.of("ld.so", "--library-path", "/x", "--inhibit-cache",
                "--argv0", "bash", "/tmp/m"))).isEqualTo("/tmp/m");
        assertThat(ExecFileChecker.loaderProgram(List.of("ld.so", "--verify", "/tmp/m"))).isNull();
        assertThat(ExecFileChecker.loaderProgram(List.of("ld.so", "--list", "/tmp/m"))).isNull();
        assertThat(ExecFileChecker.loaderProgram(List.of("ld.so"))).isNull();
    }

    @Test
    void theHostsDynamicLoaderIsFoundOnceWhateverItsLinks() {
        List<ExecLoaders.Found> found = ExecLoaders.find();
        assertThat(found).isNotEmpty();   // every glibc or musl host has one
        for (ExecLoaders.Found f : found) {
            assertThat(found).filteredOn(g -> g.id().sameFile(f.id().dev(), f.id().ino())).hasSize(1);
        }
        assertThat(ExecLoaders.isLoaderName("ld-linux-x86-64.so.2")).isTrue();
        assertThat(ExecLoaders.isLoaderName("ld-musl-x86_64.so.1")).isTrue();
        assertThat(ExecLoaders.isLoaderName("ld.so.conf")).isFalse();
        assertThat(ExecLoaders.isLoaderName("libc.so.6")).isFalse();
    }
}
