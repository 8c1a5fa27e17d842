package io.agentguard.scope;

import io.agentguard.abi.KernelAbi.TaskScope;
import io.agentguard.bpf.BpfException;
import io.agentguard.bpf.BpfMap;
import io.agentguard.bpf.Errno;
import io.agentguard.bpf.Libc;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Seeds ag_tasks, the kernel's per-task record of who is watched, with the tasks that were in
 * the agent cgroups before the agent started: the kernel marks the others itself (at exec,
 * fork and moves into scope). Without this, a task already running could leave its cgroup
 * unseen. Task storage is keyed by pidfd from user space; a pidfd for a thread needs
 * PIDFD_THREAD (Linux 6.9), older kernels mark the thread-group leader only.
 */
public final class WatchedTasks {
    private WatchedTasks() {
    }

    /** What a seeding did: tasks marked, and tasks gone or refused meanwhile. */
    public record Seeded(int marked, int skipped) {
    }

    public static Seeded seed(BpfMap tasks, AgentCgroups cgroups) {
        int marked = 0;
        int skipped = 0;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment key = arena.allocate(4, 4);
            MemorySegment value = arena.allocate(TaskScope.SIZEOF, 8);
            for (AgentCgroups.Root root : cgroups.roots()) {
                List<Path> dirs;
                try (Stream<Path> walk = Files.walk(root.directory())) {
                    dirs = walk.filter(Files::isDirectory).toList();
                } catch (IOException | RuntimeException e) {
                    continue;   // the cgroup went away: nothing to seed
                }
                for (Path dir : dirs) {
                    long cgroupId;
                    List<String> tids;
                    try {
                        cgroupId = AgentCgroups.inode(dir);
                        tids = Files.readAllLines(dir.resolve("cgroup.threads"));
                    } catch (IOException | RuntimeException e) {
                        continue;
                    }
                    for (String line : tids) {
                        if (line.isBlank()) {
                            continue;
                        }
                        if (mark(tasks, key, value, Integer.parseInt(line.trim()), cgroupId)) {
                            marked++;
                        } else {
                            skipped++;
                        }
                    }
                }
            }
        }
        return new Seeded(marked, skipped);
    }

    private static boolean mark(BpfMap tasks, MemorySegment key, MemorySegment value, int tid, long cgroupId) {
        int fd = Libc.pidfdOpen(tid, Libc.PIDFD_THREAD);
        if (fd == -Errno.EINVAL) {
            fd = Libc.pidfdOpen(tid, 0);   // before 6.9: leaders only (a thread's tid gives EINVAL again)
        }
        if (fd < 0) {
            return false;   // exited meanwhile
        }
        try {
            key.set(JAVA_INT, 0, fd);
            value.fill((byte) 0);
            value.set(JAVA_LONG, TaskScope.ORIGIN_CGROUP_ID, cgroupId);
            tasks.update(key, value);
            return true;
        } catch (BpfException e) {
            return false;   // the task exited between pidfd_open and the update
        } finally {
            Libc.close(fd);
        }
    }
}
