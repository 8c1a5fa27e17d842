package io.agentguard.workload;

import io.agentguard.proto.v1.Workload;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import static org.assertj.core.api.Assertions.assertThat;

/** Identity is parsed once per cgroup, the runtime is asked once, and its names join the message when they come. */
class WorkloadCacheTest {
    static final String ID = CgroupWorkloadParserTest.ID;
    static final String PATH = "system.slice/docker-" + ID + ".scope";

    /** A stand-in for a runtime socket client: questions recorded, answers given by the test. */
    static final class FakeNames implements WorkloadNames {
        final List<Long> asked = new ArrayList<>();
        final Map<String, RuntimeNames> answers = new ConcurrentHashMap<>();

        @Override
        public void lookup(WorkloadIdentity id, long cgroupId) {
            asked.add(cgroupId);
        }

        @Override
        public RuntimeNames names(WorkloadIdentity id) {
            return answers.get(id.containerId());
        }
    }

    @Test
    void manyEventsOfOneCgroupParseItsPathOnceAndShareOneMessage() {
        FakeNames names = new FakeNames();
        WorkloadCache cache = new WorkloadCache(names, 16);
        Workload first = cache.proto(7, PATH);
        for (int i = 0; i < 1000; i++) {
            assertThat(cache.proto(7, new String(PATH))).isSameAs(first);   // equal path, another String: still cached
        }
        assertThat(cache.parses()).isEqualTo(1);
        assertThat(names.asked).containsExactly(7L);
        assertThat(first.getContainerId()).isEqualTo(ID);
        assertThat(first.getContainerName()).isEmpty();

        names.answers.put(ID, new RuntimeNames("trainer", "", "", Map.of("team", "ml")));
        Workload named = cache.proto(7, PATH);
        assertThat(named.getContainerName()).isEqualTo("trainer");
        assertThat(named.getLabelsMap()).containsEntry("team", "ml");
        assertThat(cache.proto(7, PATH)).isSameAs(named);
        assertThat(cache.names(7, PATH).containerName()).isEqualTo("trainer");
    }

    @Test
    void anUnknownPathIsNotCachedAndAPathThatChangesIsParsedAgain() {
        WorkloadCache cache = new WorkloadCache(WorkloadNames.NONE, 4);
        assertThat(cache.proto(9, "")).isNull();
        assertThat(cache.proto(9, null)).isNull();
        assertThat(cache.parses()).isZero();
        assertThat(cache.identity(9, "system.slice/sshd.service").unit()).isEqualTo("sshd.service");
        assertThat(cache.identity(9, PATH).containerId()).isEqualTo(ID);
        assertThat(cache.proto(10, "agentguard/sandbox")).isNull();   // no layout: no message, nothing set on events
        for (long id = 100; id < 120; id++) {   // more cgroups than capacity: cleared, still answers
            assertThat(cache.identity(id, PATH).containerId()).isEqualTo(ID);
        }
    }
}
