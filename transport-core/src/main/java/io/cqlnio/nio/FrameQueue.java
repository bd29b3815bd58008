package io.cqlnio.nio;

import io.cqlnio.spi.TransportException;
import io.cqlnio.spi.WriteListener;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import java.util.concurrent.atomic.AtomicLongFieldUpdater;
import java.util.concurrent.atomic.AtomicReferenceFieldUpdater;

/**
 * The hand-over of one connection's frames from any thread to the writer: many producers offer, the holder of
 * the writer's <em>claim</em> takes everything offered so far, in the order it was accepted. It also keeps the
 * connection's pending-byte count, and with it the watermarks and the cap.
 *
 * <pre>
 *  producer: count pending -> push entry (one CAS on top) -> try to claim the writer
 *                                                              |
 *            claim won: CLAIMED, the caller hands the writer to the loop (the loop marks it dirty)
 *            claim held by someone else: that holder sees this entry before it lets go
 *  claim holder: releaseClaim() -> takeAll(): one swap of top, reversed into acceptance order
 * </pre>
 *
 * <p>Why an intrusive stack taken whole rather than a queue of arrays: a producer's offer is one CAS and
 * allocates nothing (entries are pooled and link themselves), the consumer takes a whole burst with one swap,
 * and an idle connection's queue is three fields instead of padded chunk arrays. Order is the order the CASes
 * succeeded, which is what "accepted" means.
 *
 * <p>The claim: whoever moves it from 0 to 1 owns the writer until it lets go. The loop lets go just before it
 * takes ({@link #releaseClaim}), so a frame offered after the take claims again and is not stranded. Once closed,
 * the loop consumes no more: a producer whose frame lands in a closed queue fails it itself, and so does one
 * whose claim raced the close (see {@link #failStragglers}).
 */
final class FrameQueue {

    /** {@link #offer} result bit: this call claimed the idle writer; the caller must hand it to the loop. */
    static final int CLAIMED = 1;
    /** {@link #offer} result bit: this frame made the connection unwritable; the loop should report it. */
    static final int BECAME_UNWRITABLE = 2;

    private static final AtomicReferenceFieldUpdater<FrameQueue, WriteEntry> TOP =
            AtomicReferenceFieldUpdater.newUpdater(FrameQueue.class, WriteEntry.class, "top");
    private static final AtomicIntegerFieldUpdater<FrameQueue> CLAIM =
            AtomicIntegerFieldUpdater.newUpdater(FrameQueue.class, "claim");
    private static final AtomicLongFieldUpdater<FrameQueue> PENDING =
            AtomicLongFieldUpdater.newUpdater(FrameQueue.class, "pending");

    final Object owner;
    final WriteEntry.Pool pool;
    private final long highWatermark;
    private final long lowWatermark;
    private final long maxPendingBytes;

    /** Newest first; null when empty. */
    private volatile WriteEntry top;
    private volatile int claim;
    private volatile long pending;
    private volatile boolean writable = true;
    private volatile boolean closed;
    private volatile Throwable closeCause;

    /** @param maxPendingBytes hard cap on pending bytes; an offer above it is refused at once (0: no cap) */
    FrameQueue(Object owner, WriteEntry.Pool pool, long highWatermark, long lowWatermark, long maxPendingBytes) {
        this.owner = owner;
        this.pool = pool;
        this.highWatermark = highWatermark;
        this.lowWatermark = lowWatermark;
        this.maxPendingBytes = maxPendingBytes;
    }

    // ---------------------------------------------------------------- producers (any thread)

    /**
     * Any thread. Accepts one frame, given as {@code single} or as {@code parts}.
     *
     * @return a mix of {@link #CLAIMED} and {@link #BECAME_UNWRITABLE}; 0 when someone else holds the writer
     * (or the frame was refused or failed, and its listener told so)
     */
    int offer(ByteBuffer single, ByteBuffer[] parts, WriteListener listener) {
        long bytes = single != null ? single.remaining() : remaining(parts);
        long nowPending = count(bytes, listener);
        if (nowPending < 0) {
            return 0;
        }
        int result = 0;
        // Flipped before the frame is visible to the loop, so the loop's re-check after the flush that retires
        // this frame runs after the flip.
        if (nowPending > highWatermark && writable) {
            writable = false;
            result = BECAME_UNWRITABLE;
        }
        WriteEntry e = pool.acquire();
        e.single = single;
        e.parts = parts;
        e.remaining = bytes;
        e.listener = listener;
        push(e);
        return claimAfterPush(result);
    }

    /**
     * Any thread. From this point in the write order, frames go out as protocol v5 segments. The switch is an
     * entry among the frames, so "before" and "after" mean what the acceptance order says.
     */
    int offerSwitchToSegments() {
        WriteEntry e = pool.acquire();
        e.kind = WriteEntry.SWITCH_TO_SEGMENTS;
        push(e);
        return claimAfterPush(0);
    }

    /** The pending count after adding {@code bytes}, or -1 if the cap refused them (the listener was told). */
    private long count(long bytes, WriteListener listener) {
        if (maxPendingBytes <= 0) {
            return PENDING.addAndGet(this, bytes);
        }
        // Checked before counting, so no other producer ever sees a pending count that was not real.
        long current;
        do {
            current = pending;
            if (current + bytes > maxPendingBytes) {
                WriteEntry.notify(listener, new TransportException("write of " + bytes + " bytes refused: "
                        + current + " bytes are pending and maxPendingBytes is " + maxPendingBytes + " on " + owner),
                        owner);
                return -1;
            }
        } while (!PENDING.compareAndSet(this, current, current + bytes));
        return current + bytes;
    }

    private void push(WriteEntry e) {
        WriteEntry h;
        do {
            h = top;
            e.next = h;
        } while (!TOP.compareAndSet(this, h, e));
    }

    /** The producer's half of {@link #offer} once its entry is in; separate so a test can replay a race. */
    int claimAfterPush(int result) {
        if (closed) {
            failStragglers();
            return 0;
        }
        if (claim == 0 && CLAIM.compareAndSet(this, 0, 1)) {
            if (closed) {
                // The loop ignores a closed connection, and a claim left set would lock every later straggler
                // out of failStragglers.
                claim = 0;
                failStragglers();
                return 0;
            }
            result |= CLAIMED;
        }
        return result;
    }

    private static long remaining(ByteBuffer[] parts) {
        long bytes = 0;
        for (ByteBuffer part : parts) {
            bytes += part.remaining();
        }
        return bytes;
    }

    /** Any thread. Bytes accepted and not yet handed to the kernel or failed. */
    long pendingBytes() {
        return pending;
    }

    /** Any thread. */
    boolean isWritable() {
        return writable;
    }

    // ---------------------------------------------------------------- the claim holder

    /** Everything offered so far, oldest first, linked through {@code next}; null when nothing was. */
    WriteEntry takeAll() {
        if (top == null) {
            return null;
        }
        WriteEntry e = TOP.getAndSet(this, null);
        WriteEntry oldest = null;
        while (e != null) {
            WriteEntry newer = e.next;
            e.next = oldest;
            oldest = e;
            e = newer;
        }
        return oldest;
    }

    boolean isEmpty() {
        return top == null;
    }

    /** Lets go of the claim just before taking: a frame offered from here on claims the writer again. */
    void releaseClaim() {
        claim = 0;
    }

    /** Keeps the claim while the writer waits for {@code OP_WRITE}: producers need not wake the loop meanwhile. */
    void holdClaim() {
        claim = 1;
    }

    /** Claims again after a yielded turn: {@code true} when the caller must hand the writer to the loop again. */
    boolean reclaim() {
        return claim == 0 && CLAIM.compareAndSet(this, 0, 1);
    }

    /** Frame bytes that are now with the kernel (or failed): no longer pending. */
    void settled(long frameBytes) {
        if (frameBytes != 0) {
            PENDING.addAndGet(this, -frameBytes);
        }
    }

    /**
     * Applies the hysteresis (unwritable above the high watermark, set by producers; writable again below the
     * low one, set here) and returns the writability to report if it differs from {@code lastReported}, else
     * {@code null}. A dip that came and went between two looks is not reported.
     */
    Boolean writabilityChange(boolean lastReported) {
        if (!writable && pending < lowWatermark) {
            writable = true;
            // A producer may have crossed the high watermark between the read and the write, seen
            // writable == false and stayed quiet: look again.
            if (pending > highWatermark) {
                writable = false;
            }
        }
        boolean now = writable;
        return now == lastReported ? null : now;
    }

    // ---------------------------------------------------------------- the end

    /**
     * Loop. First half of closing: takes the consumer role for good and publishes {@code cause}, so no producer
     * drains while the writer fails what it holds. {@link #finishClose} fails what is queued.
     */
    void beginClose(Throwable cause) {
        claim = 1;
        closeCause = cause;
        closed = true;
    }

    boolean isClosed() {
        return closed;
    }

    /** Loop. Fails everything queued, oldest first, then hands the queue to the stragglers. */
    void finishClose() {
        for (WriteEntry e = takeAll(); e != null; ) {
            WriteEntry next = e.next;
            fail(e, closeCause, true);
            e = next;
        }
        claim = 0;
        failStragglers();
    }

    /**
     * Any thread, after an entry was pushed into a closed queue: fails every entry still queued. The loop no
     * longer consumes, so the consumer is whoever wins the claim; a loser's entry is seen by the winner, which
     * looks at the queue again after it lets go.
     */
    private void failStragglers() {
        while (top != null && CLAIM.compareAndSet(this, 0, 1)) {
            for (WriteEntry e = takeAll(); e != null; ) {
                WriteEntry next = e.next;
                fail(e, closeCause, false);
                e = next;
            }
            claim = 0;
        }
    }

    /** Fails one entry; only the loop gives entries back to the pool (the pool's offer side is single-threaded). */
    void fail(WriteEntry e, Throwable cause, boolean onLoop) {
        if (e.isFrame()) {
            settled(e.remaining);
        }
        WriteListener listener = e.listener;
        if (onLoop) {
            pool.release(e);
        }
        WriteEntry.notify(listener, cause, owner);
    }
}
