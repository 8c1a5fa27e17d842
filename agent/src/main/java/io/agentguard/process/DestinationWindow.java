package io.agentguard.process;

/**
 * Distinct destinations within a sliding time window, for one process or cgroup, in O(1)
 * amortized per connect: a FIFO of (destination, time) and an index from destination to
 * its latest FIFO position. Expiring the FIFO's head drops a destination only if that
 * position is still its latest. The count saturates at the FIFO's capacity (a full FIFO
 * expires its head early): enough to tell a scan from normal work.
 */
final class DestinationWindow {
    static final int PROCESS_CAPACITY = 64;
    static final int CGROUP_CAPACITY = 1024;

    private final int capacity;
    private final long[] fifoHash;
    private final long[] fifoTimeNs;
    private final LongIndex latest;
    private long head;   // positions grow forever; index = position % capacity
    private long tail;

    DestinationWindow(int capacity) {
        this.capacity = capacity;
        this.fifoHash = new long[capacity];
        this.fifoTimeNs = new long[capacity];
        this.latest = new LongIndex(capacity);
    }

    void clear() {
        head = tail = 0;
        latest.clear();
    }

    /** Records a destination at nowNs and returns the distinct count within windowNs. */
    int record(long destinationHash, long nowNs, long windowNs) {
        expire(nowNs - windowNs);
        if (tail - head == capacity) {
            dropHead();
        }
        int at = (int) (tail % capacity);
        fifoHash[at] = destinationHash;
        fifoTimeNs[at] = nowNs;
        latest.put(destinationHash, at);
        tail++;
        return latest.size();
    }

    /** Distinct count within windowNs of nowNs. */
    int count(long nowNs, long windowNs) {
        expire(nowNs - windowNs);
        return latest.size();
    }

    private void expire(long oldestNs) {
        while (head < tail && fifoTimeNs[(int) (head % capacity)] < oldestNs) {
            dropHead();
        }
    }

    private void dropHead() {
        int at = (int) (head % capacity);
        long hash = fifoHash[at];
        if (latest.get(hash) == at) {
            latest.remove(hash);
        }
        head++;
    }
}
