package io.cqlnio.nio;

import io.cqlnio.spi.WriteListener;
import org.jctools.queues.MpmcArrayQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.ByteBuffer;

/**
 * One unit on a connection's write path: an accepted frame (in segment mode, possibly a slice of one), a v5
 * segment's header or trailer, a whole compressed segment, or the marker that switches the writer to segments.
 *
 * <p>Entries link themselves through {@link #next}: into the {@link FrameQueue} while producers hand them over,
 * then into the writer's {@link EntryList}s. So a connection owns no arrays for its frames, and an entry is in
 * at most one of those places at a time. Entries are pooled per loop ({@link Pool}).
 */
final class WriteEntry {

    private static final Logger LOG = LoggerFactory.getLogger(WriteEntry.class);

    static final int FRAME = 0;
    static final int SEGMENT_HEADER = 1;
    static final int SEGMENT_TRAILER = 2;
    static final int SWITCH_TO_SEGMENTS = 3;
    /** A whole compressed v5 segment in one buffer: header, payload and trailer ({@link Lz4SegmentPacker}). */
    static final int SEGMENT = 4;

    int kind;
    ByteBuffer single;
    ByteBuffer[] parts;
    WriteListener listener;
    /** Bytes of this entry the wire has not yet taken. */
    long remaining;
    /** Inside a v5 segment: the peer can use the frame only once the segment's trailer is written. */
    boolean inSegment;
    /** False for the leading slices of a frame larger than one segment: the last slice stands for the frame. */
    boolean countsAsFrame = true;
    WriteEntry next;

    boolean isFrame() {
        return kind == FRAME;
    }

    /** The {@code i}-th buffer of this entry; {@link #bufferCount()} says how many there are. */
    ByteBuffer buffer(int i) {
        return parts == null ? single : parts[i];
    }

    int bufferCount() {
        return parts == null ? 1 : parts.length;
    }

    /**
     * Tells {@code listener} the outcome. A listener that throws is logged and ignored: it must not break the
     * writer walking the frames behind it.
     */
    static void notify(WriteListener listener, Throwable failureOrNull, Object owner) {
        if (listener == null) {
            return;
        }
        try {
            listener.onComplete(failureOrNull);
        } catch (Throwable t) {
            LOG.warn("write listener threw on {}; ignored", owner, t);
        }
    }

    /**
     * Recycles entries without locks: any producer thread takes, and whoever retires or fails an entry gives it
     * back (the loop, or a caller writing through). Empty pool: allocate; full pool: let the GC have it.
     */
    static final class Pool {
        private final MpmcArrayQueue<WriteEntry> free;

        Pool(int capacity) {
            free = new MpmcArrayQueue<>(Math.max(2, capacity));
        }

        /** Any thread. */
        WriteEntry acquire() {
            WriteEntry e = free.poll();
            return e != null ? e : new WriteEntry();
        }

        /** The writer's holder (any thread). */
        void release(WriteEntry e) {
            e.kind = FRAME;
            e.single = null;
            e.parts = null;
            e.listener = null;
            e.remaining = 0;
            e.inSegment = false;
            e.countsAsFrame = true;
            e.next = null;
            free.offer(e);
        }
    }
}
