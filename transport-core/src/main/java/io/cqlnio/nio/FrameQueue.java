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
 *  producer: count pending -> push entry (one CAS on top) -> try to claim the writer (FREE -> CALLER)
 *                                                              |
 *            claim won: CLAIMED; the caller writes through, or passes the claim to the loop (CALLER -> LOOP)
 *            claim held by someone else: that holder sees this entry before it lets go
 *  claim holder: takeAll(): one swap of top, reversed into acceptance order; lets go (-> FREE) only once
 *                drained, then looks at the queue again: a frame that lost the race for the claim is its job
 * </pre>
 *
 * <p>Why an intrusive stack taken whole rather than a queue of arrays: a producer's offer is one CAS and
 * allocates nothing (entries are pooled and link themselves), the consumer takes a whole burst with one swap,
 * and an idle connection's queue is three fields instead of padded chunk arrays. Order is the order the CASes
 * succeeded, which is what "accepted" means.
 *
 * <p>The claim says who may run the {@link FrameWriter}: nobody ({@link #FREE}), the loop ({@link #LOOP}: a
 * flush is due, or the writer waits for {@code OP_WRITE}), or a caller of {@code write} ({@link #CALLER}) that
 * won it from FREE and now either writes through or passes it to the loop. The holder lets go only when nothing
 * is staged and then looks at the queue again, so a frame whose offer found the claim held is never stranded
 * (both sides write one volatile and then read the other's). Two threads never run the writer at once.
 *
 * <p>Closing is the loop's, but the writer's frames can be failed only by its holder: a close that finds a caller
 * holding the claim marks it {@link #CALLER_ENDS}, and that caller, whose next move of the claim then fails, ends
 * the writer itself ({@link FrameWriter#finishClose}). Once the close has finished, a producer whose frame
 * lands in the closed queue fails it on its own thread ({@link #failStragglers}).
 */
final class FrameQueue {

    /** The claim's values. Nobody holds the writer: the next offer claims it. */
    static final int FREE = 0;
    /** The loop holds the writer: a flush is due (the connection is dirty) or it waits for {@code OP_WRITE}. */
    static final int LOOP = 1;
    /** A caller of {@code write} just claimed the idle writer: it writes through or passes the claim on. */
    static final int CALLER = 2;
    /** The loop closed while a caller held the writer: that caller fails what is left (it alone may touch it). */
    static final int CALLER_ENDS = 3;

    /** {@link #offer} result bit: this call claimed the idle writer ({@link #CALLER}): write through or pass it on. */
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

    /** The codec of the switch to segments (null: uncompressed); set before the switch entry is pushed. */
    Lz4Codec segmentCodec;

    /** Newest first; null when empty. */
    private volatile WriteEntry top;
    private volatile int claim;
    private volatile long pending;
    private volatile boolean writable = true;
    private volatile boolean closed;
    /** Set once everything the writer held at the close has failed: stragglers may fail their own from then on. */
    private volatile boolean closeFinished;
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

    /** As {@link #offerSwitchToSegments(Lz4Codec)}, uncompressed. */
    int offerSwitchToSegments() {
        return offerSwitchToSegments(null);
    }

    /**
     * Any thread. From this point in the write order, frames go out as protocol v5 segments, compressed with
     * {@code lz4} unless it is null. The switch is an entry among the frames, so "before" and "after" mean what
     * the acceptance order says.
     */
    int offerSwitchToSegments(Lz4Codec lz4) {
        segmentCodec = lz4;   // published by the push below; read by the writer when it takes the switch
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

    /**
     * The producer's half of {@link #offer} once its entry is in; separate so a test can replay a race. A close
     * that begins after the closed check finds the claim FREE (and takes it first) or CALLER (and marks it
     * CALLER_ENDS): either way exactly one thread ends the writer.
     */
    int claimAfterPush(int result) {
        if (closed) {
            failStragglers();
            return 0;
        }
        return claimWriter(result);
    }

    /**
     * The claim itself, separate so a test can replay it landing after a whole close. A claim won after the close
     * finished is given straight back: a caller would pass it to a loop that no longer flushes this connection,
     * and a claim left held would lock every later straggler out of {@link #failStragglers}.
     */
    int claimWriter(int result) {
        if (claim == FREE && CLAIM.compareAndSet(this, FREE, CALLER)) {
            if (closeFinished) {
                claim = FREE;
                failStragglers();
                return result;
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

    /**
     * Caller holding {@link #CALLER}: passes the writer to {@code holder} ({@link #FREE} or {@link #LOOP}).
     *
     * @return {@code false} if the loop closed meanwhile ({@link #CALLER_ENDS}): the caller still holds the writer
     * and must end it ({@link FrameWriter#finishClose})
     */
    boolean passTo(int holder) {
        return CLAIM.compareAndSet(this, CALLER, holder);
    }

    /** Loop holding {@link #LOOP}, with nothing staged: lets go; the caller then looks at the queue again. */
    void release() {
        claim = FREE;
    }

    /**
     * Loop. Takes the idle writer: {@code true} if it was FREE, and so the loop must flush it now. Never once closed:
     * a claim taken then (by a read asking for a flush while close_notify waits, say) would never be let go, and
     * would lock every later straggler out of {@link #failStragglers}. Only the loop begins a close, so a FREE claim
     * seen here with {@code closed} set means the close has finished.
     */
    boolean claimForLoop() {
        return claim == FREE && !closed && CLAIM.compareAndSet(this, FREE, LOOP);
    }

    /** Any thread. The claim as it is now: for tests and assertions only, stale as soon as read. */
    int claim() {
        return claim;
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
     * Loop. First half of closing: publishes {@code cause}, so no producer claims the writer from here on, and
     * takes the writer from whoever holds it.
     *
     * @return {@code true} if the loop now holds the writer and must fail what it holds ({@link
     * FrameWriter#finishClose}); {@code false} if the queue was closed already, or a caller holds the writer and
     * will do it (its next move of the claim fails)
     */
    boolean beginClose(Throwable cause) {
        if (closed) {
            return false;
        }
        closeCause = cause;
        closed = true;
        while (true) {
            int c = claim;
            if (c == LOOP || (c == FREE && CLAIM.compareAndSet(this, FREE, LOOP))) {
                return true;
            }
            if (c == CALLER && CLAIM.compareAndSet(this, CALLER, CALLER_ENDS)) {
                return false;
            }
        }
    }

    boolean isClosed() {
        return closed;
    }

    /** The cause every unwritten frame fails with, once {@link #beginClose} has run. */
    Throwable closeCause() {
        return closeCause;
    }

    /**
     * The holder of a closed writer (the loop, or the caller told so by {@code CALLER_ENDS}): fails everything
     * queued, oldest first, then hands the queue to the stragglers.
     */
    void finishClose() {
        for (WriteEntry e = takeAll(); e != null; ) {
            WriteEntry next = e.next;
            fail(e, closeCause);
            e = next;
        }
        closeFinished = true;
        claim = FREE; // LOOP or CALLER_ENDS: nobody else moves either, so a plain store
        failStragglers();
    }

    /**
     * Any thread, after an entry was pushed into a closed queue: fails every entry still queued. Nothing happens
     * until the close has finished: the closer takes the queue last, after the older frames it holds, so failures
     * are told in acceptance order; the closer looks again after it sets {@code closeFinished}. From then on the
     * consumer is whoever wins the claim, and a loser's entry is seen by the winner, which looks again after it
     * lets go.
     */
    private void failStragglers() {
        while (closeFinished && top != null && CLAIM.compareAndSet(this, FREE, CALLER)) {
            for (WriteEntry e = takeAll(); e != null; ) {
                WriteEntry next = e.next;
                fail(e, closeCause);
                e = next;
            }
            claim = FREE;
        }
    }

    /** Fails one entry and gives it back to the pool (any thread: the pool is multi-producer). */
    void fail(WriteEntry e, Throwable cause) {
        if (e.isFrame()) {
            settled(e.remaining);
        }
        WriteListener listener = e.listener;
        pool.release(e);
        WriteEntry.notify(listener, cause, owner);
    }
}
