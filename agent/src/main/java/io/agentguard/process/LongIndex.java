package io.agentguard.process;

import java.util.Arrays;

/**
 * Open-addressing map from a long key to an int slot, without boxing: lookups on the
 * consumer thread allocate nothing. Deletion uses backward shift, so no tombstones build
 * up. Single writer.
 */
public final class LongIndex {
    private static final long EMPTY = Long.MIN_VALUE;

    private final long[] keys;
    private final int[] values;
    private final int mask;
    private int size;

    public LongIndex(int capacity) {
        int n = Integer.highestOneBit(Math.max(4, capacity * 2 - 1)) << 1;
        keys = new long[n];
        values = new int[n];
        mask = n - 1;
        Arrays.fill(keys, EMPTY);
    }

    private static int hash(long key) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h ^ (h >>> 32));
    }

    /** The slot for key, or -1. */
    public int get(long key) {
        int i = hash(key) & mask;
        while (true) {
            long k = keys[i];
            if (k == key) {
                return values[i];
            }
            if (k == EMPTY) {
                return -1;
            }
            i = (i + 1) & mask;
        }
    }

    public void put(long key, int value) {
        int i = hash(key) & mask;
        while (true) {
            long k = keys[i];
            if (k == key) {
                values[i] = value;
                return;
            }
            if (k == EMPTY) {
                keys[i] = key;
                values[i] = value;
                size++;
                return;
            }
            i = (i + 1) & mask;
        }
    }

    public void remove(long key) {
        int i = hash(key) & mask;
        while (keys[i] != key) {
            if (keys[i] == EMPTY) {
                return;
            }
            i = (i + 1) & mask;
        }
        keys[i] = EMPTY;
        size--;
        // backward-shift the cluster that follows so lookups still find every key
        int j = i;
        while (true) {
            j = (j + 1) & mask;
            if (keys[j] == EMPTY) {
                return;
            }
            int home = hash(keys[j]) & mask;
            boolean between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
            if (!between) {
                keys[i] = keys[j];
                values[i] = values[j];
                keys[j] = EMPTY;
                i = j;
            }
        }
    }

    public int size() {
        return size;
    }

    public void clear() {
        Arrays.fill(keys, EMPTY);
        size = 0;
    }
}
