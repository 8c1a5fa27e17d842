package io.agentguard.enforce;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * A file as the kernel names it: its file system's device number and its inode. What an exec
 * policy denies is this, not a spelling of a path: symlinks, hard links, `//` or `/./` reach
 * the same pair.
 *
 * <p>The device numbers differ in encoding: stat's {@code st_dev} is glibc's
 * {@code makedev} (major bits 8..19 and 32..63, minor bits 0..7 and 12..31, what the JDK's
 * {@code unix:dev} returns), the kernel's {@code super_block.s_dev} is {@code MKDEV}
 * ({@code major << 20 | minor}), which is what the BPF programs read.
 *
 * @param dev  kernel dev_t (MKDEV)
 * @param ino  inode number
 * @param size bytes, at the time it was resolved
 * @param mtimeNs modification time, at the time it was resolved (with size: a cache key for digests)
 */
public record FileIdentity(long dev, long ino, long size, long mtimeNs) {
    /** The file a path names now, symlinks followed; null where it does not exist or cannot be read. */
    public static FileIdentity of(Path file) {
        try {
            Map<String, Object> a = Files.readAttributes(file, "unix:dev,ino,size,lastModifiedTime");
            java.nio.file.attribute.FileTime mtime = (java.nio.file.attribute.FileTime) a.get("lastModifiedTime");
            return new FileIdentity(kernelDev((Long) a.get("dev")), (Long) a.get("ino"), (Long) a.get("size"),
                    mtime.to(java.util.concurrent.TimeUnit.NANOSECONDS));
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** glibc's st_dev (gnu_dev_makedev) to the kernel's MKDEV(major, minor). */
    public static long kernelDev(long stDev) {
        long major = ((stDev >>> 8) & 0xfff) | ((stDev >>> 32) & ~0xfffL);
        long minor = (stDev & 0xff) | ((stDev >>> 12) & ~0xffL);
        return (major << 20) | (minor & 0xfffff);
    }

    public int major() {
        return (int) (dev >>> 20);
    }

    public int minor() {
        return (int) (dev & 0xfffff);
    }

    /** Same file (device and inode), whatever its size and time. */
    public boolean sameFile(long kernelDev, long inode) {
        return dev == kernelDev && ino == inode;
    }
}
