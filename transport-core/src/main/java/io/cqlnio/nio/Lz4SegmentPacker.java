package io.cqlnio.nio;

import io.cqlnio.frame.Lz4Segments;
import io.cqlnio.frame.Segments;

import java.nio.ByteBuffer;
import java.util.zip.CRC32;

/**
 * Protocol v5 segments compressed with LZ4 ({@link Lz4Segments}): frames taken from the queue wait here, and the
 * writer asks for segments as it gathers, so only about one write's worth is compressed ahead of the kernel.
 *
 * <pre>
 *  held:   f1 f2 f3 BIG f4 ...          frames in write order, bytes still in the caller's buffers
 *  stage:  copy f1..f3 into the input buffer (up to 128 KiB - 1) -> compress into a segment buffer
 *          staged += [f1 f2 f3 (0 bytes left each)] [header | LZ4 block, or the payload stored | CRC32]
 *          BIG (over one payload): one slice at a time, each its own non-self-contained segment
 * </pre>
 *
 * A frame is staged with nothing left to write just before the segment that carries it, so the writer retires it
 * at once and it waits here until the segment (whose last bytes are its trailer) is retired: its listener fires
 * then. A payload that does not shrink goes out stored (uncompressed length 0), as Cassandra's encoder does.
 *
 * <p>The stored path is kept cheap. After a payload failed to shrink, the next 1, 2, 4 ... up to {@link #MAX_SKIP}
 * segments are sent stored without trying (the first one that shrinks again ends the streak), and a stored
 * segment of whole frames is sent like an uncompressed one: an 8-byte header, the frames' own buffers, a CRC32
 * trailer, with no copy. So random bodies cost about what uncompressed segments cost, and compressible ones lose
 * at most a few segments' worth of compression when the traffic turns compressible again.
 *
 * <p>A frame's bytes leave the pending count when they are copied into a segment (or, sent in place, when they
 * are written); a compressed segment's own bytes are not counted. Buffers are this connection's and reused: the
 * input buffer, up to {@link #FREE_BUFFERS} segment buffers, and small header and trailer buffers, so the steady
 * state allocates nothing per segment.
 *
 * <p>Single-threaded: whoever holds the writer.
 */
final class Lz4SegmentPacker implements Packer {

    /** Compressed bytes staged ahead of the kernel at most (beyond the segment that crosses it). */
    static final long STAGE_AHEAD = 256 * 1024;
    /** Segment buffers kept for reuse (and as many small header and trailer buffers each). */
    static final int FREE_BUFFERS = 8;
    /** The longest run of segments sent stored without trying to compress them. */
    static final int MAX_SKIP = 16;
    /** Segment and input buffers grow in steps of this, so a connection of small frames keeps small buffers. */
    private static final int BUFFER_STEP = 4096;
    private static final int OVERHEAD = Lz4Segments.HEADER_LENGTH + Segments.TRAILER_LENGTH;

    private final FrameQueue queue;
    private final WriteEntry.Pool pool;
    private final Lz4Codec lz4;
    private final CRC32 crc = new CRC32();
    /** Frames taken from the queue, not yet copied into a segment: oldest first. */
    private final EntryList held = new EntryList();
    /** Frames staged whose segment is not yet retired: oldest first. */
    private final EntryList awaitingTrailer = new EntryList();
    private final ByteBuffer[] free = new ByteBuffer[FREE_BUFFERS];
    private int freeCount;
    private final ByteBuffer[] freeHeaders = new ByteBuffer[FREE_BUFFERS];
    private int freeHeaderCount;
    private final ByteBuffer[] freeTrailers = new ByteBuffer[FREE_BUFFERS];
    private int freeTrailerCount;
    /** Segments still to send stored without trying, and the length of the last such run. */
    private int skipLeft;
    private int skipRun;
    /** The payload length of the frames {@link #wholeFrames} counted. */
    private int fit;
    /** The payload about to be compressed: whole frames, or one slice of a large frame. Direct, reused. */
    private ByteBuffer input = ByteBuffer.allocateDirect(BUFFER_STEP);
    /** The head of {@link #held} is a large frame some of whose slices are already staged. */
    private boolean slicing;

    Lz4SegmentPacker(FrameQueue queue, Lz4Codec lz4) {
        this.queue = queue;
        this.pool = queue.pool;
        this.lz4 = lz4;
    }

    @Override
    public void pack(WriteEntry frame, EntryList staged) {
        frame.inSegment = true;
        held.addLast(frame);
    }

    @Override
    public void stage(EntryList staged, long budget) {
        long target = Math.min(budget, STAGE_AHEAD);
        while (!held.isEmpty() && staged.bytes() < target) {
            WriteEntry head = held.peekFirst();
            boolean tryCompressing = skipLeft == 0;
            if (!tryCompressing) {
                skipLeft--;
            }
            if (slicing || head.remaining > Segments.MAX_PAYLOAD) {
                stageSlice(head, staged, tryCompressing);
            } else if (tryCompressing) {
                stageWholeFrames(staged);
            } else {
                stageStoredInPlace(staged);
            }
        }
    }

    /** How many whole frames from the head fit in one payload (at least one), and their length in {@link #fit}. */
    private int wholeFrames() {
        long length = 0;
        int frames = 0;
        for (WriteEntry e = held.peekFirst(); e != null && length + e.remaining <= Segments.MAX_PAYLOAD; e = e.next) {
            length += e.remaining;
            frames++;
        }
        fit = (int) length;
        return frames;
    }

    /**
     * One self-contained stored segment around whole frames sent from their own buffers: the 8-byte header
     * (uncompressed length 0), the frames, the CRC32 trailer, as {@link SegmentPacker} does for uncompressed ones.
     */
    private void stageStoredInPlace(EntryList staged) {
        int frames = wholeFrames();
        WriteEntry header = small(WriteEntry.SEGMENT_HEADER);
        Lz4Segments.writeHeader(header.single, 0, fit, 0, true);
        staged.addLast(header);
        Segments.reset(crc);
        for (int i = 0; i < frames; i++) {
            WriteEntry frame = held.pollFirst();
            for (int b = 0; b < frame.bufferCount(); b++) {
                ByteBuffer buffer = frame.buffer(b);
                int p = buffer.position();
                crc.update(buffer);
                buffer.position(p);
            }
            staged.addLast(frame);   // its bytes count as pending until written, as without compression
        }
        WriteEntry trailer = small(WriteEntry.SEGMENT_TRAILER);
        Segments.writeTrailer(trailer.single, 0, (int) crc.getValue());
        staged.addLast(trailer);
    }

    /** One self-contained segment: as many whole frames from the head as fit in one payload. */
    private void stageWholeFrames(EntryList staged) {
        int frames = wholeFrames();
        int length = fit;
        input = room(input, length);
        input.clear();
        for (int i = 0; i < frames; i++) {
            WriteEntry frame = held.pollFirst();
            try {
                copyAll(frame);
            } catch (RuntimeException changed) {
                staged.addLast(frame);   // so the close that follows fails it: one outcome per frame
                throw changed;
            }
            queue.settled(frame.remaining);
            frame.remaining = 0;
            staged.addLast(frame);
        }
        stageSegment(staged, length, true, true);
    }

    /** The next slice of a frame larger than one payload, in a non-self-contained segment of its own. */
    private void stageSlice(WriteEntry frame, EntryList staged, boolean tryCompressing) {
        int chunk = (int) Math.min(frame.remaining, Segments.MAX_PAYLOAD);
        input = room(input, chunk);
        input.clear();
        copy(frame, chunk);
        queue.settled(chunk);
        held.consumeFromFirst(chunk);
        slicing = frame.remaining > 0;
        if (!slicing) {
            // Its last slice: the frame waits for this segment's trailer, then its listener fires.
            held.pollFirst();
            staged.addLast(frame);
        }
        stageSegment(staged, chunk, false, tryCompressing);
    }

    /** Moves every byte of {@code frame}'s buffers into {@link #input}, leaving them consumed. */
    private void copyAll(WriteEntry frame) {
        long copied = 0;
        for (int i = 0; i < frame.bufferCount(); i++) {
            ByteBuffer b = frame.buffer(i);
            copied += b.remaining();
            if (copied > frame.remaining) {
                throw changedBuffers(frame);
            }
            input.put(b);
        }
        if (copied != frame.remaining) {
            throw changedBuffers(frame);
        }
    }

    /** Moves the next {@code n} bytes of {@code frame}'s buffers (from their positions) into {@link #input}. */
    private void copy(WriteEntry frame, int n) {
        int need = n;
        for (int i = 0; i < frame.bufferCount() && need > 0; i++) {
            ByteBuffer b = frame.buffer(i);
            int take = Math.min(need, b.remaining());
            if (take > 0) {
                int limit = b.limit();
                b.limit(b.position() + take);
                input.put(b);
                b.limit(limit);
                need -= take;
            }
        }
        if (need > 0) {
            throw changedBuffers(frame);
        }
    }

    /** Compresses {@code length} bytes of {@link #input} (or only copies them) into a segment buffer, and stages it. */
    private void stageSegment(EntryList staged, int length, boolean selfContained, boolean tryCompressing) {
        int bound = tryCompressing ? lz4.maxCompressedLength(length) : length;
        ByteBuffer out = acquire(OVERHEAD + bound);
        int compressed = tryCompressing ? lz4.compress(input, 0, length, out, Lz4Segments.HEADER_LENGTH, bound)
                : length;
        int uncompressed = length;
        if (compressed >= length) {
            // Compressing did not shrink it (or was not tried): send it stored, uncompressed length 0, as Cassandra
            // does with what does not shrink.
            out.put(Lz4Segments.HEADER_LENGTH, input, 0, length);
            compressed = length;
            uncompressed = 0;
        }
        if (tryCompressing) {
            learn(uncompressed != 0);
        }
        Lz4Segments.writeHeader(out, 0, compressed, uncompressed, selfContained);
        Segments.reset(crc);
        out.limit(Lz4Segments.HEADER_LENGTH + compressed).position(Lz4Segments.HEADER_LENGTH);
        crc.update(out);   // over the payload as sent, compressed or stored
        out.limit(Lz4Segments.HEADER_LENGTH + compressed + Segments.TRAILER_LENGTH).position(0);
        Segments.writeTrailer(out, Lz4Segments.HEADER_LENGTH + compressed, (int) crc.getValue());
        WriteEntry segment = pool.acquire();
        segment.kind = WriteEntry.SEGMENT;
        segment.single = out;
        segment.remaining = out.remaining();
        staged.addLast(segment);
    }

    /** After a compression attempt: a payload that shrank ends a stored streak, one that did not lengthens it. */
    private void learn(boolean shrank) {
        if (shrank) {
            skipRun = 0;
        } else {
            skipRun = skipRun == 0 ? 1 : Math.min(MAX_SKIP, 2 * skipRun);
        }
        skipLeft = skipRun;
    }

    @Override
    public int retired(WriteEntry e) {
        switch (e.kind) {
            case WriteEntry.FRAME:
                // Its bytes went out inside a compressed segment staged right after it, or in place before the
                // trailer: either way it is the peer's once that segment's last byte is.
                e.remaining = 0;
                awaitingTrailer.addLast(e);
                return 0;
            case WriteEntry.SEGMENT_HEADER:
                if (freeHeaderCount < FREE_BUFFERS) {
                    freeHeaders[freeHeaderCount++] = e.single;
                }
                pool.release(e);
                return 0;
            case WriteEntry.SEGMENT_TRAILER:
                if (freeTrailerCount < FREE_BUFFERS) {
                    freeTrailers[freeTrailerCount++] = e.single;
                }
                break;
            case WriteEntry.SEGMENT:
                recycle(e.single);
                break;
            default:
                throw new IllegalStateException("a compressing packer never stages kind " + e.kind + " on "
                        + queue.owner);
        }
        pool.release(e);
        int frames = awaitingTrailer.size();
        notifyFrames(awaitingTrailer, null);
        return frames;
    }

    /** A header or trailer entry over a recycled small direct buffer. */
    private WriteEntry small(int kind) {
        boolean header = kind == WriteEntry.SEGMENT_HEADER;
        ByteBuffer b;
        if (header ? freeHeaderCount > 0 : freeTrailerCount > 0) {
            b = header ? freeHeaders[--freeHeaderCount] : freeTrailers[--freeTrailerCount];
            b.clear();
        } else {
            b = ByteBuffer.allocateDirect(header ? Lz4Segments.HEADER_LENGTH : Segments.TRAILER_LENGTH);
        }
        WriteEntry e = pool.acquire();
        e.kind = kind;
        e.single = b;
        e.remaining = b.capacity();
        return e;
    }


    @Override
    public void failAwaiting(Throwable cause) {
        notifyFrames(awaitingTrailer, cause);
    }

    @Override
    public void failHeld(Throwable cause) {
        slicing = false;
        WriteEntry e;
        while ((e = held.pollFirst()) != null) {
            queue.fail(e, cause);   // settles what is left of it
        }
    }

    @Override
    public boolean holdsFrames() {
        return !held.isEmpty();
    }

    private void notifyFrames(EntryList frames, Throwable failureOrNull) {
        WriteEntry e;
        while ((e = frames.pollFirst()) != null) {
            var listener = e.listener;
            pool.release(e);
            WriteEntry.notify(listener, failureOrNull, queue.owner);
        }
    }

    /** A cleared segment buffer of at least {@code capacity} bytes: a free one if one is large enough. */
    private ByteBuffer acquire(int capacity) {
        for (int i = 0; i < freeCount; i++) {
            ByteBuffer b = free[i];
            if (b.capacity() >= capacity) {
                free[i] = free[--freeCount];
                free[freeCount] = null;
                return b.clear();
            }
        }
        return ByteBuffer.allocateDirect(roundUp(capacity));
    }

    /** Keeps a retired segment's buffer; when the free list is full, the smallest buffer goes to the GC. */
    private void recycle(ByteBuffer b) {
        if (freeCount < FREE_BUFFERS) {
            free[freeCount++] = b;
            return;
        }
        int smallest = 0;
        for (int i = 1; i < freeCount; i++) {
            if (free[i].capacity() < free[smallest].capacity()) {
                smallest = i;
            }
        }
        if (free[smallest].capacity() < b.capacity()) {
            free[smallest] = b;
        }
    }

    /** {@code b}, or a larger direct buffer when it has less than {@code capacity} bytes. */
    private static ByteBuffer room(ByteBuffer b, int capacity) {
        return b.capacity() >= capacity ? b : ByteBuffer.allocateDirect(roundUp(capacity));
    }

    private static int roundUp(int capacity) {
        return (capacity + BUFFER_STEP - 1) / BUFFER_STEP * BUFFER_STEP;
    }

    private IllegalStateException changedBuffers(WriteEntry frame) {
        // Counted at write() but not in the buffers now: the caller changed a frame's buffers after handing them
        // over. What would go out cannot be trusted; end loudly, as the uncompressed path does.
        return new IllegalStateException(frame.remaining + " bytes counted when a frame was written are no longer"
                + " what its buffers hold (a buffer changed or aliased after write()) on " + queue.owner);
    }
}
