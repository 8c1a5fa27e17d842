package io.agentguard.collector;

import com.google.protobuf.Timestamp;
import io.agentguard.collector.store.JdbcStore;
import io.agentguard.proto.v1.AgentHello;
import io.agentguard.proto.v1.Event;
import io.agentguard.proto.v1.Priority;
import io.agentguard.proto.v1.Record;
import io.agentguard.proto.v1.Violation;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** What every store must do: the same tests run on SQLite and on a real PostgreSQL. */
abstract class StoreContract {
    static final String E = "00112233445566778899aabbccddeeff";

    abstract JdbcStore store() throws Exception;

    static Record violation(long seq, String rule, Priority p, long timeSeconds) {
        return Record.newBuilder().setSequence(seq).setViolation(Violation.newBuilder().setRule(rule).setPriority(p)
                .setTime(Timestamp.newBuilder().setSeconds(timeSeconds)).setOutput("v" + seq)).build();
    }

    @Test
    void eachNodeSequenceIsStoredOnceAndTheLastSequenceIsKept() throws Exception {
        try (JdbcStore s = store()) {
            s.hello("n1", E, AgentHello.newBuilder().setNode("n1").setAgentVersion("1").build());
            long now = Instant.now().getEpochSecond();
            assertThat(s.append("n1", E, List.of(violation(1, "a", Priority.PRIORITY_CRITICAL, now),
                    violation(2, "b", Priority.PRIORITY_WARNING, now)), "t").stored()).isEqualTo(2);
            // resent after a reconnect: nothing stored twice
            var resent = s.append("n1", E, List.of(violation(2, "b", Priority.PRIORITY_WARNING, now),
                    violation(3, "a", Priority.PRIORITY_NOTICE, now)), "t");
            assertThat(resent.stored()).isEqualTo(1);
            assertThat(resent.duplicates()).isEqualTo(1);
            assertThat(resent.conflicts()).isEmpty();
            assertThat(s.append("n2", E, List.of(violation(1, "a", Priority.PRIORITY_CRITICAL, now)), "t").stored())
                    .isEqualTo(1);
            assertThat(s.append("n1", E, List.of(Record.newBuilder().setSequence(4).setEvent(Event.newBuilder()
                    .setTime(Timestamp.newBuilder().setSeconds(now))).build()), "t").stored()).isEqualTo(1);
            assertThat(s.lastSequence("n1", E)).isEqualTo(4);
            assertThat(s.lastSequence("n2", E)).isEqualTo(1);
            assertThat(s.lastSequence("n3", E)).isZero();
            assertThat(s.lastSequence("n1", "another")).isZero();
            assertThat(s.sequences("n1", "violations")).containsExactly(1L, 2L, 3L);
            assertThat(s.sequences("n1", "events")).containsExactly(4L);
        }
    }

    @Test
    void queriesFilterByNodeRulePriorityAndTimeAndFollowFromAnId() throws Exception {
        try (JdbcStore s = store()) {
            long now = Instant.now().getEpochSecond();
            s.append("n1", E, List.of(violation(1, "a", Priority.PRIORITY_CRITICAL, now),
                    violation(2, "b", Priority.PRIORITY_WARNING, now), violation(3, "a", Priority.PRIORITY_DEBUG, now - 7200)),
                    "t");
            s.append("n2", E, List.of(violation(1, "a", Priority.PRIORITY_ALERT, now)), "t");
            assertThat(s.query(new JdbcStore.Filter(null, "n1", null, null, 0, 100))).hasSize(3);
            assertThat(s.query(new JdbcStore.Filter(null, null, "a", null, 0, 100))).hasSize(3);
            assertThat(s.query(new JdbcStore.Filter(null, null, null, Priority.PRIORITY_WARNING_VALUE, 0, 100)))
                    .extracting(v -> v.violation().getRule() + "@" + v.node()).containsExactly("a@n1", "b@n1", "a@n2");
            assertThat(s.query(new JdbcStore.Filter(Instant.now().minusSeconds(3600), null, null, null, 0, 100))).hasSize(3);
            var firstTwo = s.query(new JdbcStore.Filter(null, null, null, null, 0, 2));
            assertThat(firstTwo).hasSize(2);
            var rest = s.query(new JdbcStore.Filter(null, null, null, null, s.lastQueryMaxId(), 100));
            assertThat(rest).extracting(JdbcStore.StoredViolation::sequence).containsExactly(3L, 1L);
            assertThat(s.deleteOlderThan(Instant.now().minusSeconds(3600))).isEqualTo(1);
            assertThat(s.sequences("n1", "violations")).containsExactly(1L, 2L);
        }
    }
}
