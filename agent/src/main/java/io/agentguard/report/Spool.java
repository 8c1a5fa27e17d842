package io.agentguard.report;

import com.google.protobuf.InvalidProtocolBufferException;
import io.agentguard.proto.v1.Record;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.zip.CRC32C;

/**
 * The agent's disk spool: what it must deliver, in append-only segment files, so nothing
 * is lost while collectors are away or the agent restarts.
 * <pre>
 *   DIR/seg-&lt;first sequence, 20 digits&gt;.log   frames: magic u32 'AGSP' | length u32 | crc32c u32 | Record
 *   DIR/acked                                   the last sequence a collector acknowledged
 *   DIR/epoch                                   this spool's epoch: 16 random bytes, hex, chosen at creation
 * </pre>
 * Sequences are assigned here, ascending from 1, continuing across restarts. The epoch
 * names this spool's sequence space: a spool created anew (deleted, lost, a new disk) gets
 * a new one, so its sequences, which restart at 1, never meet the old ones at a collector;
 * every record carries it. A damaged
 * frame (bad magic, length or checksum) is skipped by scanning to the next magic: the
 * records after it are still delivered, and the loss is counted. Segments wholly
 * acknowledged are deleted. One writer thread appends; one sender thread reads.
 */
public final class Spool implements AutoCloseable {
    static final int MAGIC = 0x41475350;   // "AGSP"
    static final int FRAME_HEADER = 12;
    static final int MAX_RECORD_BYTES = 4 << 20;
    static final int EPOCH_BYTES = 16;

    private final Path dir;
    private final long segmentBytes;
    private final long maxBytes;
    private final TreeMap<Long, Path> segments = new TreeMap<>();   // first sequence -> file
    private FileChannel current;
    private long currentSize;
    private long nextSequence = 1;
    private volatile long acked;
    private volatile long corruptFrames;
    private volatile long droppedFull;
    private volatile long oversized;
    private volatile long totalBytes;
    private final com.google.protobuf.ByteString epoch;
    /** Violations carry command lines (tokens, passwords): the spool is the daemon's alone, whatever the umask. */
    private static final java.nio.file.attribute.FileAttribute<?> DIR_0700 = java.nio.file.attribute.PosixFilePermissions
            .asFileAttribute(java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
    private static final java.nio.file.attribute.FileAttribute<?> FILE_0600 = java.nio.file.attribute.PosixFilePermissions
            .asFileAttribute(java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));

    public Spool(Path dir, long segmentBytes, long maxBytes) {
        this.dir = dir;
        this.segmentBytes = segmentBytes;
        this.maxBytes = maxBytes;
        try {
            Files.createDirectories(dir, DIR_0700);   // every directory it creates; an existing one is left as it is
            epoch = loadOrCreateEpoch(dir);
            Path ackFile = dir.resolve("acked");
            if (Files.exists(ackFile)) {
                acked = Long.parseLong(Files.readString(ackFile).trim());
            }
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "seg-*.log")) {
                for (Path p : ds) {
                    String n = p.getFileName().toString();
                    segments.put(Long.parseLong(n.substring(4, n.length() - 4)), p);
                    totalBytes += Files.size(p);
                }
            }
        } catch (IOException | NumberFormatException e) {
            throw new IllegalStateException("spool " + dir + " is unusable: " + e.getMessage(), e);
        }
        // the next sequence follows the last record that can be read back
        if (!segments.isEmpty()) {
            long last = 0;
            for (Record r : readSegment(segments.lastEntry().getValue(), 0, Integer.MAX_VALUE, false)) {
                last = Math.max(last, r.getSequence());
            }
            nextSequence = Math.max(Math.max(last, segments.lastKey() - 1), acked) + 1;
        } else {
            nextSequence = acked + 1;
        }
    }

    /**
     * The epoch in DIR/epoch, or a new random one written there (before any segment, so no
     * record is ever spooled under an epoch the next start would not read back). An unreadable
     * file also gets a new epoch: the records still here are then delivered under it, which
     * at worst stores some a second time under the new epoch, never hides one.
     */
    private static com.google.protobuf.ByteString loadOrCreateEpoch(Path dir) throws IOException {
        Path file = dir.resolve("epoch");
        if (Files.exists(file)) {
            try {
                byte[] b = java.util.HexFormat.of().parseHex(Files.readString(file).trim());
                if (b.length == EPOCH_BYTES) {
                    return com.google.protobuf.ByteString.copyFrom(b);
                }
            } catch (IllegalArgumentException e) {
                // damaged: a new epoch below
            }
        }
        byte[] fresh = new byte[EPOCH_BYTES];
        new java.security.SecureRandom().nextBytes(fresh);
        Path tmp = dir.resolve("epoch.tmp");
        Files.deleteIfExists(tmp);   // a leftover keeps its mode: created afresh, 0600
        try (FileChannel ch = FileChannel.open(tmp, java.util.Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
                FILE_0600)) {
            ch.write(ByteBuffer.wrap((java.util.HexFormat.of().formatHex(fresh) + "\n").getBytes(
                    java.nio.charset.StandardCharsets.US_ASCII)));
            ch.force(true);
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        return com.google.protobuf.ByteString.copyFrom(fresh);
    }

    /** This spool's epoch (16 bytes): in the hello and in every record. */
    public com.google.protobuf.ByteString epoch() {
        return epoch;
    }

    /** The epoch as hex, as the collector and status show it. */
    public String epochHex() {
        return java.util.HexFormat.of().formatHex(epoch.toByteArray());
    }

    /**
     * Appends records (writer thread only), assigning sequences; returns the last one, or -1 if
     * none fit. They are in the file, readable by the sender at once, but not yet forced to disk:
     * {@link #force} does that, so that a slow disk does not hold up sending (a record sent and
     * acknowledged before its fsync is safe at the collector; one lost to a host crash before
     * its fsync would have been lost before it reached the spool just the same).
     */
    public synchronized long write(List<Record.Builder> records) throws IOException {
        long last = -1;
        for (Record.Builder b : records) {
            if (totalBytes >= maxBytes) {
                droppedFull++;
                continue;
            }
            byte[] payload = b.setSequence(nextSequence).setEpoch(epoch).build().toByteArray();
            if (payload.length > MAX_RECORD_BYTES) {
                // a frame this long would read back as damage: the record goes in shrunk to fit, counted
                payload = RecordLimits.fit(b.build(), MAX_RECORD_BYTES).toByteArray();
                oversized++;
            }
            if (current == null || currentSize >= segmentBytes) {
                roll();
            }
            CRC32C crc = new CRC32C();
            crc.update(payload);
            ByteBuffer frame = ByteBuffer.allocate(FRAME_HEADER + payload.length).order(ByteOrder.LITTLE_ENDIAN);
            frame.putInt(MAGIC).putInt(payload.length).putInt((int) crc.getValue()).put(payload).flip();
            while (frame.hasRemaining()) {
                current.write(frame);
            }
            currentSize += FRAME_HEADER + payload.length;
            totalBytes += FRAME_HEADER + payload.length;
            last = nextSequence++;
        }
        return last;
    }

    /** Forces what {@link #write} wrote (writer thread only), outside the lock: the sender reads meanwhile. */
    public void force() throws IOException {
        FileChannel channel;
        synchronized (this) {
            channel = current;
        }
        if (channel != null) {
            channel.force(false);
        }
    }

    private void roll() throws IOException {
        if (current != null) {
            current.force(false);   // its tail may not be forced yet (write, then force)
            current.close();
        }
        Path p = dir.resolve(String.format("seg-%020d.log", nextSequence));
        current = FileChannel.open(p, java.util.Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.APPEND), FILE_0600);
        currentSize = Files.size(p);
        segments.put(nextSequence, p);
    }

    /** A reading position: the sender keeps one per connection, so each byte is read once. */
    public static final class Cursor {
        private long segmentFirst;
        private long offset;
        private final long from;
        private long lastSequence;

        private Cursor(long segmentFirst, long from) {
            this.segmentFirst = segmentFirst;
            this.from = from;
            this.lastSequence = from - 1;
        }
    }

    /** A cursor at the first record with sequence >= from. */
    public synchronized Cursor cursor(long from) {
        Long floor = segments.floorKey(from);
        return new Cursor(floor != null ? floor : segments.isEmpty() ? from : segments.firstKey(), from);
    }

    /**
     * Up to max records after the cursor, ascending and consecutive: a gap (records lost to a
     * damaged frame) ends the list, and the next call starts after it (collectors accept a
     * batch that starts after a gap, and count the gap).
     */
    public List<Record> next(Cursor c, int max) {
        List<Record> out = new ArrayList<>();
        while (out.size() < max) {
            Path file;
            Long following;
            synchronized (this) {
                file = segments.get(c.segmentFirst);
                following = segments.higherKey(c.segmentFirst);
                if (file == null) {
                    Long ceiling = segments.ceilingKey(c.segmentFirst);
                    if (ceiling == null) {
                        return out;
                    }
                    c.segmentFirst = ceiling;
                    c.offset = 0;
                    continue;
                }
            }
            int before = out.size();
            boolean gap = readFrames(file, c, max, out);
            if (gap) {
                return out;
            }
            if (out.size() == before) {
                if (following == null) {
                    return out;   // nothing more written yet
                }
                c.segmentFirst = following;
                c.offset = 0;
            }
        }
        return out;
    }

    /** Reads whole frames from the cursor's offset; returns true if the list must end at a gap. */
    private boolean readFrames(Path file, Cursor c, int max, List<Record> out) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (c.offset >= size) {
                return false;
            }
            int want = (int) Math.min(size - c.offset, 8L << 20);
            ByteBuffer b = ByteBuffer.allocate(want).order(ByteOrder.LITTLE_ENDIAN);
            while (b.hasRemaining() && ch.read(b, c.offset + b.position()) > 0) {
                // fill
            }
            byte[] data = b.array();
            int limit = b.position();
            int pos = 0;
            while (pos + FRAME_HEADER <= limit && out.size() < max) {
                int magic = b.getInt(pos);
                int length = b.getInt(pos + 4);
                if (magic == MAGIC && length >= 0 && length <= MAX_RECORD_BYTES && pos + FRAME_HEADER + length > limit) {
                    break;   // a frame still being written (or beyond this read): next time
                }
                Record r = null;
                if (magic == MAGIC && length >= 0 && length <= MAX_RECORD_BYTES) {
                    CRC32C crc = new CRC32C();
                    crc.update(data, pos + FRAME_HEADER, length);
                    if ((int) crc.getValue() == b.getInt(pos + 8)) {
                        try {
                            r = Record.parseFrom(ByteBuffer.wrap(data, pos + FRAME_HEADER, length));
                        } catch (InvalidProtocolBufferException e) {
                            r = null;
                        }
                    }
                }
                if (r == null) {
                    pos = nextMagic(b, limit, pos + 1);
                    continue;
                }
                pos += FRAME_HEADER + length;
                if (r.getSequence() < c.from || r.getSequence() <= c.lastSequence) {
                    continue;
                }
                if (!out.isEmpty() && r.getSequence() != out.getLast().getSequence() + 1) {
                    c.offset += pos - FRAME_HEADER - length;   // re-read this one next time
                    return true;
                }
                out.add(r);
                c.lastSequence = r.getSequence();
            }
            c.offset += pos;
            return false;
        } catch (java.nio.file.NoSuchFileException e) {
            return false;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Frames of one segment with sequence >= from; damaged frames are skipped (and counted once, at open). */
    private List<Record> readSegment(Path file, long from, int max, boolean countDamage) {
        List<Record> out = new ArrayList<>();
        byte[] data;
        try {
            data = Files.readAllBytes(file);
        } catch (java.nio.file.NoSuchFileException e) {
            return out;   // deleted after an ack meanwhile
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        int pos = 0;
        while (pos + FRAME_HEADER <= data.length && out.size() < max) {
            int magic = b.getInt(pos);
            int length = b.getInt(pos + 4);
            boolean ok = magic == MAGIC && length >= 0 && length <= MAX_RECORD_BYTES && pos + FRAME_HEADER + length <= data.length;
            Record r = null;
            if (ok) {
                CRC32C crc = new CRC32C();
                crc.update(data, pos + FRAME_HEADER, length);
                ok = (int) crc.getValue() == b.getInt(pos + 8);
                if (ok) {
                    try {
                        r = Record.parseFrom(ByteBuffer.wrap(data, pos + FRAME_HEADER, length));
                    } catch (InvalidProtocolBufferException e) {
                        ok = false;
                    }
                }
            }
            if (!ok) {
                if (countDamage) {
                    corruptFrames++;
                }
                pos = nextMagic(b, data.length, pos + 1);
                continue;
            }
            if (r.getSequence() >= from) {
                out.add(r);
            }
            pos += FRAME_HEADER + length;
        }
        return out;
    }

    private static int nextMagic(ByteBuffer b, int limit, int from) {
        for (int p = from; p + 4 <= limit; p++) {
            if (b.getInt(p) == MAGIC) {
                return p;
            }
        }
        return limit;
    }

    /** Everything up to sequence is stored by a collector: record it, delete whole segments before it. */
    public void ack(long sequence) {
        if (sequence <= acked) {
            return;
        }
        acked = sequence;
        try {
            Path tmp = dir.resolve("acked.tmp");
            Files.deleteIfExists(tmp);
            try (FileChannel ch = FileChannel.open(tmp, java.util.Set.of(StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE), FILE_0600)) {
                ch.write(ByteBuffer.wrap(Long.toString(sequence).getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
            }
            Files.move(tmp, dir.resolve("acked"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot record the acknowledgement in " + dir + ": " + e.getMessage(), e);
        }
        synchronized (this) {
            // a segment is done when the next one starts at or before sequence + 1
            while (segments.size() > 1) {
                var first = segments.firstEntry();
                Long nextFirst = segments.higherKey(first.getKey());
                if (nextFirst == null || nextFirst > sequence + 1) {
                    break;
                }
                try {
                    totalBytes -= Files.size(first.getValue());
                    Files.deleteIfExists(first.getValue());
                } catch (IOException e) {
                    break;
                }
                segments.pollFirstEntry();
            }
        }
    }

    /** Re-scans the segments that hold unacknowledged records for damage (at start; counted once). */
    public long verify() {
        List<Path> files;
        synchronized (this) {
            files = new ArrayList<>(segments.values());
        }
        for (Path f : files) {
            readSegment(f, 0, Integer.MAX_VALUE, true);
        }
        return corruptFrames;
    }

    public long acked() {
        return acked;
    }

    public synchronized long nextSequence() {
        return nextSequence;
    }

    /** Records spooled and not yet acknowledged. */
    public synchronized long pending() {
        return Math.max(0, nextSequence - 1 - acked);
    }

    public long bytes() {
        return totalBytes;
    }

    public long corruptFrames() {
        return corruptFrames;
    }

    public long droppedFull() {
        return droppedFull;
    }

    /** Records spooled shrunk because they exceeded {@link #MAX_RECORD_BYTES}. */
    public long oversized() {
        return oversized;
    }

    @Override
    public synchronized void close() throws IOException {
        if (current != null) {
            current.close();
            current = null;
        }
    }
}
