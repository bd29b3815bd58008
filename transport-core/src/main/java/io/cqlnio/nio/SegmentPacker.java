package io.cqlnio.nio;

import io.cqlnio.frame.Segments;

import java.nio.ByteBuffer;
import java.util.zip.CRC32;

/**
 * Turns a connection's frames into protocol v5 segments as the writer stages them, without copying a body:
 *
 * <pre>
 *  small frames:  [header][frame][frame]...[trailer]   one self-contained segment, up to 128 KiB - 1 of payload
 *  large frame:   [header][slice][trailer] [header][slice][trailer] ...   non-self-contained, slices of its buffers
 * </pre>
 *
 * Headers and trailers are small direct buffers recycled here. A frame inside a segment is useless to the peer
 * until the segment's trailer (its CRC32) arrives, so when the writer retires a frame's last byte the frame
 * waits here and its listener fires when the trailer is written ({@link #retired}).
 *
 * <p>Single-threaded: whoever holds the writer.
 */
final class SegmentPacker implements Packer {

    private static final int FREE_BUFFERS = 8;

    private final WriteEntry.Pool pool;
    private final Object owner;
    private final CRC32 crc = new CRC32();
    private final ByteBuffer[] freeHeaders = new ByteBuffer[FREE_BUFFERS];
    private final ByteBuffer[] freeTrailers = new ByteBuffer[FREE_BUFFERS];
    private int freeHeaderCount;
    private int freeTrailerCount;
    /** Frames wholly written whose segment's trailer is not yet: oldest first. */
    private final EntryList awaitingTrailer = new EntryList();

    /** The self-contained segment being filled, or null. */
    private WriteEntry openHeader;
    private long openPayload;

    SegmentPacker(WriteEntry.Pool pool, Object owner) {
        this.pool = pool;
        this.owner = owner;
    }

    /** Stages {@code frame} into the open segment, or into segments of its own when it is larger than one. */
    @Override
    public void pack(WriteEntry frame, EntryList staged) {
        if (frame.remaining > Segments.MAX_PAYLOAD) {
            closeSegment(staged);
            packLarge(frame, staged);
            return;
        }
        if (openHeader != null && openPayload + frame.remaining > Segments.MAX_PAYLOAD) {
            closeSegment(staged);
        }
        if (openHeader == null) {
            openHeader = overhead(WriteEntry.SEGMENT_HEADER, Segments.HEADER_LENGTH);
            staged.addLast(openHeader);
            Segments.reset(crc);
            openPayload = 0;
        }
        frame.inSegment = true;
        for (int i = 0; i < frame.bufferCount(); i++) {
            crc(frame.buffer(i));
        }
        openPayload += frame.remaining;
        staged.addLast(frame);
    }

    /** Frames are staged as they are packed: only the open segment is left to end. */
    @Override
    public void stage(EntryList staged, long budget) {
        closeSegment(staged);
    }

    /** Ends the open segment, if any: its header gets the payload length, its trailer the CRC. */
    void closeSegment(EntryList staged) {
        if (openHeader == null) {
            return;
        }
        Segments.writeHeader(openHeader.single, 0, (int) openPayload, true);
        openHeader = null;
        staged.addLast(trailer());
    }

    /** A frame larger than one payload: a run of non-self-contained segments over slices of its buffers. */
    private void packLarge(WriteEntry frame, EntryList staged) {
        int part = 0;
        int offset = frame.bufferCount() == 0 ? 0 : frame.buffer(0).position();
        long left = frame.remaining;
        WriteEntry lastSlice = null;
        while (left > 0) {
            int chunk = (int) Math.min(left, Segments.MAX_PAYLOAD);
            WriteEntry header = overhead(WriteEntry.SEGMENT_HEADER, Segments.HEADER_LENGTH);
            Segments.writeHeader(header.single, 0, chunk, false);
            staged.addLast(header);
            Segments.reset(crc);
            int need = chunk;
            while (need > 0) {
                ByteBuffer b = frame.buffer(part);
                int n = Math.min(need, b.limit() - offset);
                if (n > 0) {
                    WriteEntry slice = pool.acquire();
                    slice.single = b.duplicate().limit(offset + n).position(offset);
                    slice.remaining = n;
                    slice.inSegment = true;
                    slice.countsAsFrame = false;
                    crc(slice.single);
                    staged.addLast(slice);
                    lastSlice = slice;
                    offset += n;
                    need -= n;
                }
                if (offset == b.limit() && part + 1 < frame.bufferCount()) {
                    part++;
                    offset = frame.buffer(part).position();
                }
            }
            left -= chunk;
            staged.addLast(trailer());
        }
        // The frame counts, and its listener fires, when the trailer of its last segment is written.
        lastSlice.listener = frame.listener;
        lastSlice.countsAsFrame = true;
        pool.release(frame);
    }

    @Override
    public int retired(WriteEntry e) {
        switch (e.kind) {
            case WriteEntry.FRAME:
                if (e.countsAsFrame) {
                    e.remaining = 0;
                    awaitingTrailer.addLast(e);
                } else {
                    pool.release(e);
                }
                return 0;
            case WriteEntry.SEGMENT_TRAILER:
                recycle(e);
                int frames = awaitingTrailer.size();
                notifyAwaiting(null);
                return frames;
            default:
                recycle(e);
                return 0;
        }
    }

    @Override
    public void failAwaiting(Throwable cause) {
        notifyAwaiting(cause);
    }

    /** Nothing is held: every packed frame is staged at once. */
    @Override
    public void failHeld(Throwable cause) {
    }

    @Override
    public boolean holdsFrames() {
        return false;
    }

    private void notifyAwaiting(Throwable failureOrNull) {
        WriteEntry e;
        while ((e = awaitingTrailer.pollFirst()) != null) {
            var listener = e.listener;
            pool.release(e);
            WriteEntry.notify(listener, failureOrNull, owner);
        }
    }

    private WriteEntry trailer() {
        WriteEntry trailer = overhead(WriteEntry.SEGMENT_TRAILER, Segments.TRAILER_LENGTH);
        Segments.writeTrailer(trailer.single, 0, (int) crc.getValue());
        return trailer;
    }

    /** CRC32 over the bytes a buffer will send, leaving its position where it was. */
    private void crc(ByteBuffer b) {
        int p = b.position();
        crc.update(b);
        b.position(p);
    }

    /** A header or trailer entry over a recycled small direct buffer. */
    private WriteEntry overhead(int kind, int length) {
        boolean header = kind == WriteEntry.SEGMENT_HEADER;
        int free = header ? freeHeaderCount : freeTrailerCount;
        ByteBuffer b;
        if (free > 0) {
            ByteBuffer[] from = header ? freeHeaders : freeTrailers;
            b = from[--free];
            from[free] = null;
            if (header) {
                freeHeaderCount = free;
            } else {
                freeTrailerCount = free;
            }
            b.clear();
        } else {
            b = ByteBuffer.allocateDirect(length);
        }
        WriteEntry e = pool.acquire();
        e.kind = kind;
        e.single = b;
        e.remaining = length;
        return e;
    }

    private void recycle(WriteEntry e) {
        if (e.kind == WriteEntry.SEGMENT_HEADER) {
            if (freeHeaderCount < FREE_BUFFERS) {
                freeHeaders[freeHeaderCount++] = e.single;
            }
        } else if (freeTrailerCount < FREE_BUFFERS) {
            freeTrailers[freeTrailerCount++] = e.single;
        }
        pool.release(e);
    }
}
