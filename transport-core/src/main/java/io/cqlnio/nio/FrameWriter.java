package io.cqlnio.nio;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * The write path's core, and the place to start reading: frames taken from the {@link FrameQueue} go out in
 * gathering writes, and the count every write returns is honoured to the byte.
 *
 * <pre>
 *  staged: [f1: 0 of 900 left][f2][f3]...      oldest first, each from wherever the last write stopped
 *  gather: iov = f1's, f2's, f3's buffers      at most one write's budget, at most iov.length buffers
 *  write(iov) returns W                        the kernel took a prefix of W bytes, no more
 *  retire(W): f1, f2 done -> listeners; f3 has 17 bytes left: it stays at the head, its position where W ended
 * </pre>
 *
 * Invariant 1 of docs/ARCHITECTURE.md (no byte of frame k+1 before the last byte of frame k) holds because the only bytes ever offered
 * are the staged frames in order, each from its current position, and a write consumes a prefix of what it is
 * offered; nothing leaves the head unless W covered it. Invariant 2 (one outcome per frame) holds because a
 * frame leaves {@code staged} exactly once: through {@link #retire} (success) or {@link #close} (failure).
 *
 * <p>Under TLS the {@link Wire} reports plaintext only once the kernel holds its ciphertext, so W may lag the
 * bytes taken from the buffers; those frames simply stay at the head ({@link Wire#unacknowledged()}). In v5
 * mode the {@link SegmentPacker} puts segment headers and trailers between the frames as they are staged, or the
 * {@link Lz4SegmentPacker} stages compressed segments, about one write's worth at a time.
 *
 * <p>Single-threaded: run only by the holder of the queue's claim (the loop, or a caller writing through); the
 * claim's compare-and-set hands its state from one holder to the next.
 */
final class FrameWriter {

    /** What a flush left behind, and so what the loop does next with this connection. */
    enum Flush {
        /** Nothing staged or queued. */
        DRAINED,
        /** The kernel took less than offered: wait for OP_WRITE before trying again. */
        BLOCKED,
        /** The write budget of this turn is spent and more is waiting: serve other connections, come back. */
        YIELDED
    }

    /** Below this, the adaptive per-write byte budget stops shrinking. */
    static final long MIN_BYTES_PER_WRITE = 4096;

    private final FrameQueue queue;
    private final EntryList staged = new EntryList();
    /** Null until the switch to v5 segments is staged. */
    private Packer packer;
    private final long maxBytesPerWrite;
    private final int writeSpinCount;
    private long bytesPerWrite;
    /** What the last {@link #gather} offered, and the buffer it clipped to the budget (limit put back after). */
    private long offered;
    private ByteBuffer clipped;
    private int clippedLimit;

    // Written by the writer only; volatile so stats() on another thread sees them.
    volatile long framesWritten;
    volatile long bytesWritten;
    volatile long writeCalls;
    volatile long shortWrites;
    volatile long zeroByteWrites;
    /** {@code System.nanoTime()} of the last write call: how a caller tells a quiet connection from a busy one. */
    volatile long lastWriteNanos = System.nanoTime() - (1L << 40);

    FrameWriter(FrameQueue queue, long maxBytesPerWrite, int writeSpinCount) {
        this.queue = queue;
        this.maxBytesPerWrite = maxBytesPerWrite;
        this.bytesPerWrite = maxBytesPerWrite;
        this.writeSpinCount = writeSpinCount;
    }

    /**
     * Writes as much as the wire takes, in at most {@code writeSpinCount} write calls.
     *
     * @param iov a reusable array, at least one slot long; its length bounds the buffers per call
     */
    Flush flush(Wire wire, ByteBuffer[] iov) throws IOException {
        return flush(wire, iov, writeSpinCount);
    }

    /** As {@link #flush(Wire, ByteBuffer[])}, in at most {@code maxCalls} write calls. */
    Flush flush(Wire wire, ByteBuffer[] iov, int maxCalls) throws IOException {
        for (int spin = 0; spin < maxCalls; spin++) {
            if (queue.isClosed()) {
                break; // the loop closed while a caller held the writer: that caller fails the rest, writes nothing
            }
            stageQueued();
            int count = gather(iov, bytesPerWrite);
            if (count == 0 && !wire.hasBacklog()) {
                return nothingToWrite();
            }
            long unacknowledgedBefore = wire.unacknowledged();
            long written;
            try {
                written = wire.write(iov, 0, count);
            } finally {
                unclip();
                Arrays.fill(iov, 0, count, null);
            }
            writeCalls++;
            lastWriteNanos = System.nanoTime();
            bytesWritten += Math.max(0, written);
            retire(written);
            long taken = written + wire.unacknowledged() - unacknowledgedBefore;
            if (taken < offered || wire.hasBacklog()) {
                shortWrites++;
                if (written == 0) {
                    zeroByteWrites++;
                }
                if (wire.budgetsWrites() && offered > MIN_BYTES_PER_WRITE && taken < offered >>> 1) {
                    bytesPerWrite = Math.max(MIN_BYTES_PER_WRITE, offered >>> 1);
                }
                return Flush.BLOCKED;
            }
            if (offered >= bytesPerWrite && bytesPerWrite < maxBytesPerWrite) {
                bytesPerWrite = Math.min(maxBytesPerWrite, bytesPerWrite << 1);
            }
        }
        return isDrained() ? Flush.DRAINED : Flush.YIELDED;
    }

    /**
     * Puts the staged entries' buffers into {@code iov}, oldest first, skipping what is already written, up to
     * {@code budget} bytes: the JDK copies every offered heap byte into a direct buffer before {@code writev},
     * whether the kernel takes it or not, so the buffer that crosses the budget is clipped (its limit is ours to
     * move while we own it, and is put back after the write).
     */
    private int gather(ByteBuffer[] iov, long budget) {
        int count = 0;
        offered = 0;
        for (WriteEntry e = staged.peekFirst(); e != null; e = e.next) {
            for (int i = 0; i < e.bufferCount(); i++) {
                ByteBuffer b = e.buffer(i);
                if (!b.hasRemaining()) {
                    continue;
                }
                if (count == iov.length) {
                    return count;
                }
                iov[count++] = b;
                offered += b.remaining();
                if (offered >= budget) {
                    clip(b, offered - budget);
                    return count;
                }
            }
        }
        return count;
    }

    /**
     * Retires from the head every entry the {@code written} bytes finished, in order, empty frames too. A frame
     * inside a segment is acknowledged by the packer only when its segment's trailer is written.
     */
    private void retire(long written) {
        long left = written;
        long frameBytes = 0;
        int frames = 0;
        WriteEntry e;
        while ((e = staged.peekFirst()) != null) {
            long done = Math.min(e.remaining, left);
            if (e.isFrame()) {
                frameBytes += done;
            }
            if (e.remaining > left) {
                staged.consumeFromFirst(left);
                left = 0;
                break;
            }
            left -= done;
            staged.pollFirst();
            frames += e.isFrame() && !e.inSegment ? complete(e) : packer.retired(e);
        }
        queue.settled(frameBytes);
        if (frames > 0) {
            framesWritten += frames;
        }
        if (left != 0) {
            // The wire claims more than was offered: neither its count nor the stream can be trusted. Never
            // reached with a conforming wire.
            throw new IllegalStateException("write returned " + written + " bytes, " + left
                    + " more than were offered on " + queue.owner);
        }
    }

    private int complete(WriteEntry e) {
        var listener = e.listener;
        queue.pool.release(e);
        WriteEntry.notify(listener, null, queue.owner);
        return 1;
    }

    /** Moves everything queued behind the staged entries; from the switch on, through the segment packer. */
    private void stageQueued() {
        WriteEntry e = queue.takeAll();
        while (e != null) {
            WriteEntry next = e.next;
            if (e.kind == WriteEntry.SWITCH_TO_SEGMENTS) {
                if (packer == null) {
                    Lz4Codec lz4 = queue.segmentCodec;
                    packer = lz4 == null ? new SegmentPacker(queue.pool, queue.owner)
                            : new Lz4SegmentPacker(queue, lz4);
                }
                queue.pool.release(e);
            } else if (packer == null) {
                staged.addLast(e);
            } else {
                packer.pack(e, staged);
            }
            e = next;
        }
        if (packer != null) {
            packer.stage(staged, bytesPerWrite);
        }
    }

    /** No buffer has bytes and the wire has none of its own: only empty frames are staged, or nothing. */
    private Flush nothingToWrite() {
        if (staged.bytes() > 0) {
            // Counted at write() but not in the buffers now: the caller changed or aliased a frame's buffers
            // after handing them over. The accounting cannot be trusted; end loudly.
            throw new IllegalStateException(staged.bytes() + " bytes counted when frames were written are no"
                    + " longer in their buffers (a buffer changed or aliased after write()) on " + queue.owner);
        }
        retire(0);
        return isDrained() ? Flush.DRAINED : Flush.YIELDED;
    }

    private boolean isDrained() {
        return staged.isEmpty() && queue.isEmpty() && (packer == null || !packer.holdsFrames());
    }

    private void clip(ByteBuffer b, long over) {
        if (over > 0) {
            clipped = b;
            clippedLimit = b.limit();
            b.limit((int) (clippedLimit - over));
            offered -= over;
        }
    }

    private void unclip() {
        if (clipped != null) {
            clipped.limit(clippedLimit);
            clipped = null;
        }
    }

    /**
     * Loop. Ends the writer: every frame not yet written fails with {@code cause}, oldest first (those waiting
     * for their segment's trailer, then staged, then held by a compressing packer, then queued), and every frame
     * offered later fails on its producer's thread. If a caller holds the writer, that caller does the failing
     * when it lets go ({@link #finishClose}). Idempotent.
     */
    void close(Throwable cause) {
        if (queue.beginClose(cause)) {
            finishClose();
        }
    }

    /** The holder of a writer whose queue is closed: fails everything it holds with the close's cause. */
    void finishClose() {
        Throwable cause = queue.closeCause();
        if (packer != null) {
            packer.failAwaiting(cause);
        }
        WriteEntry e;
        while ((e = staged.pollFirst()) != null) {
            queue.fail(e, cause);
        }
        if (packer != null) {
            packer.failHeld(cause);
        }
        queue.finishClose();
    }
}
