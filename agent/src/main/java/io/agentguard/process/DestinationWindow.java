package io.agentguard.process;

/**
 * Distinct destinations seen within a sliding time window, for one process or cgroup:
 * a small set of destination hashes with their last-seen time, scanned linearly (it is
 * small, and the scan expires old entries as it goes). Counts saturate at the capacity:
 * enough to tell a scan from normal work.
 */
final class DestinationWindow {
    static final int PROCESS_CAPACITY = 64;
    static final int CGROUP_CAPACITY = 256;

    private final int capacity;
    private final int slots;
    private final long[] hashes;
    private final long[] seenNs;
    private int used;

    DestinationWindow(int capacity) {
        this.capacity = capacity;
        this.slots = capacity * 2;
        this.hashes = new long[slots];
        this.seenNs = new long[slots];
    }

    void clear() {
        java.util.Arrays.fill(hashes, 0);
        java.util.Arrays.fill(seenNs, 0);
        used = 0;
    }

    /** Records a destination at nowNs and returns the distinct count within windowNs. */
    int record(long destinationHash, long nowNs, long windowNs) {
        long h = destinationHash == 0 ? 1 : destinationHash;
        long oldest = nowNs - windowNs;
        int count = 0;
        int free = -1;
        boolean found = false;
        for (int i = 0; i < slots; i++) {
            if (hashes[i] == 0 || seenNs[i] < oldest) {
                if (hashes[i] != 0) {
                    hashes[i] = 0;   // expired
                    used--;
                }
                if (free < 0) {
                    free = i;
                }
                continue;
            }
            if (hashes[i] == h) {
                seenNs[i] = nowNs;
                found = true;
            }
            count++;
        }
        if (!found) {
            if (free >= 0 && used < capacity) {
                hashes[free] = h;
                seenNs[free] = nowNs;
                used++;
            }
            count++;
        }
        return Math.min(count, capacity);
    }

    /** Distinct count within windowNs of nowNs, without recording. */
    int count(long nowNs, long windowNs) {
        long oldest = nowNs - windowNs;
        int count = 0;
        for (int i = 0; i < slots; i++) {
            if (hashes[i] != 0 && seenNs[i] >= oldest) {
                count++;
            }
        }
        return count;
    }
}
