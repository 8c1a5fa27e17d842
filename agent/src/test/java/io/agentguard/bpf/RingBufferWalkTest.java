package io.agentguard.bpf;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The ring walk on ordinary memory, fed by a producer that writes as the kernel does. */
class RingBufferWalkTest {
    private static final long RING_BYTES = 256;

    private final Arena arena = Arena.ofConfined();
    private final PlainMemoryRing ring = new PlainMemoryRing(arena, RING_BYTES);
    private final RingBufferWalk walk = ring.walk();
    private final List<String> delivered = new ArrayList<>();
    /** Copies each record: the segment is only valid during the call. */
    private final RingBufferReader.RecordHandler collect = (data, offset, length) -> delivered.add(text(data, offset, length));

    @AfterEach
    void closeArena() {
        arena.close();
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    private static String text(MemorySegment data, long offset, int length) {
        return new String(data.asSlice(offset, length).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.US_ASCII);
    }

    @Test
    void deliversCommittedRecordsInOrderWithExactBytes() {
        ring.submit(bytes("a"));
        ring.submit(bytes("exactly8"));
        ring.submit(bytes("thirteen byte"));

        assertThat(walk.poll(collect, 100)).isEqualTo(3);
        assertThat(delivered).containsExactly("a", "exactly8", "thirteen byte");
        assertThat(ring.consumerPos()).isEqualTo(16 + 16 + 24).isEqualTo(ring.producerPos());
    }

    @Test
    void skipsDiscardedRecordsWithoutCountingThem() {
        ring.submit(bytes("first"));
        ring.discard(ring.reserve(20));
        ring.submit(bytes("third"));

        assertThat(walk.poll(collect, 2)).isEqualTo(2);
        assertThat(delivered).containsExactly("first", "third");
        assertThat(ring.consumerPos()).isEqualTo(ring.producerPos());
    }

    @Test
    void stopsAtBusyRecordAndResumesOnceCommitted() {
        long first = ring.submit(bytes("first"));
        long busy = ring.reserve(6);
        ring.submit(bytes("third"));

        assertThat(walk.poll(collect, 100)).isEqualTo(1);
        assertThat(delivered).containsExactly("first");
        assertThat(ring.consumerPos()).isEqualTo(busy).isEqualTo(first + PlainMemoryRing.recordBytes(5));
        assertThat(walk.poll(collect, 100)).isZero();
        assertThat(ring.consumerPos()).isEqualTo(busy);

        ring.commit(busy, bytes("second"));
        assertThat(walk.poll(collect, 100)).isEqualTo(2);
        assertThat(delivered).containsExactly("first", "second", "third");
        assertThat(ring.consumerPos()).isEqualTo(ring.producerPos());
    }

    @Test
    void recordWrappingTheEndOfTheDataAreaIsDeliveredContiguous() {
        for (int i = 0; i < 3; i++) {
            ring.submit(bytes("x".repeat(56)));        // 64 bytes each
        }
        walk.poll(collect, 100);
        delivered.clear();
        String wrapping = "0123456789".repeat(10);      // bytes 200..300 of a 256-byte ring
        long pos = ring.submit(bytes(wrapping));

        assertThat(pos % RING_BYTES + 8 + wrapping.length()).isGreaterThan(RING_BYTES);
        assertThat(walk.poll(collect, 100)).isEqualTo(1);
        assertThat(delivered).containsExactly(wrapping);
        assertThat(ring.consumerPos()).isEqualTo(ring.producerPos());
    }

    @Test
    void publishesConsumerPositionOncePerPollAfterTheLastRecord() {
        for (int i = 0; i < 5; i++) {
            ring.submit(bytes("record" + i));
        }
        long before = ring.consumerPos();
        List<Long> seenDuringPoll = new ArrayList<>();

        assertThat(walk.poll((data, offset, length) -> seenDuringPoll.add(ring.consumerPos()), 100)).isEqualTo(5);
        assertThat(seenDuringPoll).containsOnly(before).hasSize(5);
        assertThat(ring.consumerPos()).isEqualTo(ring.producerPos());
    }

    @Test
    void deliversAtMostMaxRecordsPerPoll() {
        for (int i = 0; i < 5; i++) {
            ring.submit(bytes("r" + i));
        }

        assertThat(walk.poll(collect, 2)).isEqualTo(2);
        assertThat(delivered).containsExactly("r0", "r1");
        assertThat(ring.consumerPos()).isEqualTo(2 * PlainMemoryRing.recordBytes(2));
        assertThat(walk.poll(collect, 2)).isEqualTo(2);
        assertThat(walk.poll(collect, 2)).isEqualTo(1);
        assertThat(walk.poll(collect, 2)).isZero();
        assertThat(delivered).containsExactly("r0", "r1", "r2", "r3", "r4");
    }

    @Test
    void handlerThrowingOnARecordConsumesItAndPropagates() {
        long[] ends = new long[5];
        for (int i = 0; i < 5; i++) {
            ends[i] = ring.submit(bytes("r" + i)) + PlainMemoryRing.recordBytes(2);
        }
        IllegalStateException poison = new IllegalStateException("poison r2");
        RingBufferReader.RecordHandler throwOnR2 = (data, offset, length) -> {
            collect.onRecord(data, offset, length);
            if (text(data, offset, length).equals("r2")) {
                throw poison;
            }
        };

        assertThatThrownBy(() -> walk.poll(throwOnR2, 100)).isSameAs(poison);
        assertThat(ring.consumerPos()).isEqualTo(ends[2]);
        assertThat(walk.poll(throwOnR2, 100)).isEqualTo(2);
        assertThat(delivered).containsExactly("r0", "r1", "r2", "r3", "r4");
        assertThat(ring.consumerPos()).isEqualTo(ring.producerPos());
    }

    @Test
    void recordRunningPastTheProducerPositionThrowsWithoutMoving() {
        ring.submit(bytes("good"));
        long bad = ring.reserve(8);
        ring.corruptLengthWord(bad, 100);               // 112 bytes where 16 were reserved
        ring.submit(bytes("after"));

        assertThatThrownBy(() -> walk.poll(collect, 100)).isInstanceOf(RingCorruptedException.class)
                .hasMessageContaining("position " + bad);
        assertThat(delivered).containsExactly("good");
        assertThat(ring.consumerPos()).isEqualTo(bad);
        assertThatThrownBy(() -> walk.poll(collect, 100)).isInstanceOf(IllegalStateException.class);
        assertThat(ring.consumerPos()).isEqualTo(bad);
    }

    @Test
    void afterCorruptionSkippingWhatIsPendingResumesWithTheNextRecord() {
        ring.submit(bytes("good"));
        long bad = ring.reserve(8);
        ring.corruptLengthWord(bad, 100);
        ring.submit(bytes("lost"));
        assertThatThrownBy(() -> walk.poll(collect, 100)).isInstanceOf(RingCorruptedException.class);

        assertThat(walk.skipPending()).isEqualTo(ring.producerPos() - bad);
        assertThat(ring.consumerPos()).isEqualTo(ring.producerPos());
        ring.submit(bytes("next"));
        assertThat(walk.poll(collect, 100)).isEqualTo(1);
        assertThat(delivered).containsExactly("good", "next");
    }

    @Test
    void producerPositionMoreThanARingAheadThrowsWithoutMoving() {
        ring.submit(bytes("only"));
        ring.corruptProducerPos(RING_BYTES + 8);

        assertThatThrownBy(() -> walk.poll(collect, 100)).isInstanceOf(RingCorruptedException.class)
                .hasMessageContaining("producer_pos " + (RING_BYTES + 8));
        assertThat(delivered).isEmpty();
        assertThat(ring.consumerPos()).isZero();
    }

    @Test
    void producerLappingTheConsumerDuringAPollThrowsBeforeReadingPastTheRing() {
        ring.submit(bytes("first"));
        RingBufferReader.RecordHandler lapping = (data, offset, length) -> {
            collect.onRecord(data, offset, length);
            ring.corruptProducerPos(RING_BYTES + 16);   // no kernel lets it pass the unpublished consumer_pos
        };

        assertThatThrownBy(() -> walk.poll(lapping, 100)).isInstanceOf(IllegalStateException.class);
        assertThat(delivered).containsExactly("first");
        assertThat(ring.consumerPos()).isEqualTo(16);
    }

    /** Someone with the map's fd (root with BPF rights) rewrote consumer_pos before this reader started. */
    @Test
    void aConsumerPositionWrittenAheadOfTheProducerReadsNothing() {
        ring.submit(bytes("pending"));
        ring.consumerPosition.set(java.lang.foreign.ValueLayout.JAVA_LONG, 0, 1L << 40);

        assertThat(ring.walk().poll(collect, 100)).isZero();
        assertThat(delivered).isEmpty();
    }

    @Test
    void aConsumerPositionWrittenMoreThanARingBehindIsRefusedAndSkippedPast() {
        ring.submit(bytes("a"));
        ring.submit(bytes("b"));
        ring.consumerPosition.set(java.lang.foreign.ValueLayout.JAVA_LONG, 0, ring.producerPos() - RING_BYTES - 8);
        RingBufferWalk tampered = ring.walk();

        assertThatThrownBy(() -> tampered.poll(collect, 100)).isInstanceOf(RingCorruptedException.class);
        assertThat(delivered).isEmpty();
        tampered.skipPending();
        ring.submit(bytes("c"));
        assertThat(tampered.poll(collect, 100)).isEqualTo(1);
        assertThat(delivered).containsExactly("c");
    }

    @Test
    void startsAtThePublishedConsumerPosition() {
        ring.submit(bytes("read by an earlier reader"));
        ring.submit(bytes("next"));
        ring.walk().poll(collect, 1);
        delivered.clear();

        assertThat(ring.walk().poll(collect, 100)).isEqualTo(1);
        assertThat(delivered).containsExactly("next");
    }

    @Test
    void pendingBytesCountsReservedRecordsNotYetConsumed() {
        ring.submit(bytes("first"));
        ring.reserve(30);

        assertThat(walk.pendingBytes()).isEqualTo(PlainMemoryRing.recordBytes(5) + PlainMemoryRing.recordBytes(30));
        walk.poll(collect, 100);
        assertThat(walk.pendingBytes()).isEqualTo(PlainMemoryRing.recordBytes(30));
    }

    @Test
    void positionsKeepGrowingPastTheRingSizeWithDiscardsOnTheWay() {
        for (int round = 0; round < 100; round++) {   // about 8 KiB in all: many laps of a 256-byte ring
            List<String> sent = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                sent.add(round + "." + i + "x".repeat(round % 7));
                ring.submit(bytes(sent.getLast()));
                if (i == 1) {
                    ring.discard(ring.reserve(round % 13));   // some of them across the end of the data area
                }
            }
            delivered.clear();
            assertThat(walk.poll(collect, 100)).isEqualTo(3);
            assertThat(delivered).isEqualTo(sent);
        }
        assertThat(ring.consumerPos()).isEqualTo(ring.producerPos()).isGreaterThan(20 * RING_BYTES);
    }
}
