package io.cqlnio.nio;

import io.cqlnio.spi.TransportException;
import io.cqlnio.spi.WriteListener;
import org.jctools.queues.MessagePassingQueue;
import org.jctools.queues.MpscUnboundedXaddArrayQueue;
import org.jctools.queues.SpmcArrayQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.GatheringByteChannel;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The write path of one connection, top to bottom: frames come in from any thread, go out on the loop in
 * gathering writes, and the count every write returns is honoured to the byte.
 *
 * <pre>
 *  any thread                         loop thread
 *  ----------                         -----------
 *  enqueue(frame) -> MPSC queue  -->  flush(): staged (oldest first) + polled frames -> iov[]
 *        |                                     one write(iov) -> returned count W
 *        +- first enqueue on an idle           W bytes retire frames from the head, in order;
 *           writer returns true: the           the frame W ends inside stays at the head with
 *           caller hands it to the loop        its position where the kernel stopped
 * </pre>
 *
 * Why it is shaped like this:
 * <ul>
 * <li>Invariant 1 (no byte of frame k+1 before the last byte of frame k) holds because the only bytes ever
 *     offered are the staged frames in order, each from its current position, and {@code write} consumes
 *     a prefix of what it is offered. Nothing is ever dropped from the head unless W covered it.</li>
 * <li>Invariant 2 (one outcome per frame): a frame leaves {@code staged} or {@code queue} exactly once,
 *     through {@link #retire} (success) or {@link #fail} (failure).</li>
 * <li>{@code scheduled} makes one enqueue in a burst, not every one, hand the writer to the loop: the loop
 *     clears it just before draining, so a frame that arrives after the drain schedules again.</li>
 * <li>After {@link #close} the loop never consumes again; whoever wins {@code scheduled} consumes, so a
 *     frame that races the close is still failed exactly once (see {@link #failStragglers}).</li>
 * </ul>
 *
 * Not thread-safe except where a method says "any thread"; everything else is the loop's.
 */
final class FrameWriter {

    private static final Logger LOG = LoggerFactory.getLogger(FrameWriter.class);

    /** What a flush left behind, and so what the loop does next with this connection. */
    enum Flush {
        /** Nothing staged or queued. */
        DRAINED,
        /** The kernel took less than offered: wait for OP_WRITE before trying again. */
        BLOCKED,
        /** The write budget of this turn is spent and more is waiting: serve other connections, come back. */
        YIELDED
    }

    /** Below this, an adaptive per-write byte limit stops shrinking. */
    static final long MIN_BYTES_PER_WRITE = 4096;

    private static final int QUEUE_CHUNK = 128;

    private final Object owner;
    private final MessagePassingQueue<Entry> queue = new MpscUnboundedXaddArrayQueue<>(QUEUE_CHUNK, 2);
    private final AtomicInteger scheduled = new AtomicInteger();
    private final AtomicLong pending = new AtomicLong();
    private final EntryPool pool;
    private final long highWatermark;
    private final long lowWatermark;
    private final long maxBytesPerWrite;
    private final int writeSpinCount;
    private final long maxPendingBytes;

    // Loop-only state.
    private Entry[] staged = new Entry[16];
    private int stagedHead;
    private int stagedSize;
    private long bytesPerWrite;

    private volatile boolean closed;
    private volatile Throwable closeCause;
    private volatile boolean writable = true;

    // Written by the loop only; volatile so stats() on another thread sees them.
    volatile long framesWritten;
    volatile long bytesWritten;
    volatile long writeCalls;
    volatile long shortWrites;
    volatile long zeroByteWrites;

    FrameWriter(Object owner, EntryPool pool, long highWatermark, long lowWatermark, long maxBytesPerWrite,
                int writeSpinCount) {
        this(owner, pool, highWatermark, lowWatermark, maxBytesPerWrite, writeSpinCount, 0);
    }

    /** @param maxPendingBytes hard cap on pending bytes; a write above it is refused at once (0: no cap) */
    FrameWriter(Object owner, EntryPool pool, long highWatermark, long lowWatermark, long maxBytesPerWrite,
                int writeSpinCount, long maxPendingBytes) {
        this.maxPendingBytes = maxPendingBytes;
        this.owner = owner;
        this.pool = pool;
        this.highWatermark = highWatermark;
        this.lowWatermark = lowWatermark;
        this.maxBytesPerWrite = maxBytesPerWrite;
        this.bytesPerWrite = maxBytesPerWrite;
        this.writeSpinCount = writeSpinCount;
    }

    // ---------------------------------------------------------------- producers (any thread)

    /** {@link #enqueue} result bit: the caller must hand this writer to the loop ({@link #flush} will follow). */
    static final int SCHEDULE = 1;
    /** {@link #enqueue} result bit: this frame made the connection unwritable; the loop should report it. */
    static final int BECAME_UNWRITABLE = 2;

    /**
     * Any thread. Accepts one frame, given as {@code single} or as {@code parts}.
     *
     * @return a mix of {@link #SCHEDULE} (this call moved the writer from idle to scheduled) and
     * {@link #BECAME_UNWRITABLE}; 0 when the loop already has the writer in hand
     */
    int enqueue(ByteBuffer single, ByteBuffer[] parts, WriteListener listener) {
        long bytes;
        if (parts == null) {
            bytes = single.remaining();
        } else {
            bytes = 0;
            for (ByteBuffer part : parts) {
                bytes += part.remaining();
            }
        }
        int result = 0;
        long nowPending = pending.addAndGet(bytes);
        if (maxPendingBytes > 0 && nowPending > maxPendingBytes) {
            pending.addAndGet(-bytes);
            notify(listener, new TransportException("write of " + bytes + " bytes refused: " + (nowPending - bytes)
                    + " bytes are pending and maxPendingBytes is " + maxPendingBytes + " on " + owner));
            return 0;
        }
        // Count and flip writability before the frame is visible to the loop, so that the loop's re-check
        // after the flush that retires this frame runs after the flip.
        if (nowPending > highWatermark && writable) {
            writable = false;
            result = BECAME_UNWRITABLE;
        }
        Entry e = pool.acquire();
        e.single = single;
        e.parts = parts;
        e.remaining = bytes;
        e.listener = listener;
        queue.offer(e);
        if (closed) {
            failStragglers();
            return 0;
        }
        if (scheduled.get() == 0 && scheduled.compareAndSet(0, 1)) {
            result |= SCHEDULE;
        }
        return result;
    }

    /** Any thread. Bytes accepted and not yet handed to the kernel or failed. */
    long pendingBytes() {
        return pending.get();
    }

    /** Any thread. */
    boolean isWritable() {
        return writable;
    }

    /**
     * Any thread, after a frame was enqueued into a closed writer: fails every frame still queued. The loop
     * no longer consumes once closed, so the consumer is whoever wins {@code scheduled}; the loser's frame is
     * seen by the winner, which re-checks the queue after it lets go.
     */
    private void failStragglers() {
        while (!queue.isEmpty() && scheduled.compareAndSet(0, 1)) {
            Entry e;
            while ((e = queue.poll()) != null) {
                fail(e, closeCause, false);
            }
            scheduled.set(0);
        }
    }

    // ---------------------------------------------------------------- the loop

    /**
     * Writes as much as the channel takes, at most {@code writeSpinCount} write calls.
     *
     * @param iov the loop's reusable array, at least one slot long; its length bounds the buffers per call
     */
    Flush flush(GatheringByteChannel channel, ByteBuffer[] iov) throws IOException {
        // Cleared before polling: a frame enqueued from here on schedules the writer again.
        scheduled.set(0);
        for (int spin = 0; spin < writeSpinCount; spin++) {
            ByteBuffer clipped = null;
            int clippedLimit = 0;
            int count = 0;
            long offered = 0;
            long budget = bytesPerWrite;

            // Gather: staged frames first (the head may be part-written), then new ones, oldest first.
            int s = 0;
            gather:
            while (true) {
                Entry e;
                if (s < stagedSize) {
                    e = staged[(stagedHead + s) & (staged.length - 1)];
                } else {
                    e = queue.poll();
                    if (e == null) {
                        break;
                    }
                    stage(e);
                }
                s++;
                if (e.single != null) {
                    if (e.single.hasRemaining()) {
                        if (count == iov.length) {
                            break;
                        }
                        iov[count++] = e.single;
                        offered += e.single.remaining();
                    }
                } else {
                    for (ByteBuffer part : e.parts) {
                        if (part.hasRemaining()) {
                            if (count == iov.length) {
                                break gather;
                            }
                            iov[count++] = part;
                            offered += part.remaining();
                            if (offered >= budget) {
                                break;
                            }
                        }
                    }
                }
                if (offered >= budget) {
                    // Offer no more than the budget: the JDK copies every offered heap byte into a direct
                    // buffer before writev, whether the kernel takes it or not. The limit is ours to move
                    // while we own the buffer, and is put back right after the write.
                    ByteBuffer last = iov[count - 1];
                    long over = offered - budget;
                    if (over > 0 && over < last.remaining()) {
                        clipped = last;
                        clippedLimit = last.limit();
                        last.limit((int) (clippedLimit - over));
                        offered = budget;
                    }
                    break;
                }
            }

            if (count == 0) {
                // Only empty frames, or nothing at all: retire whatever is staged (all of it is empty).
                retire(0);
                return Flush.DRAINED;
            }

            long written;
            try {
                written = channel.write(iov, 0, count);
            } finally {
                if (clipped != null) {
                    clipped.limit(clippedLimit);
                }
                Arrays.fill(iov, 0, count, null);
            }

            writeCalls++;
            if (written > 0) {
                bytesWritten += written;
                pending.addAndGet(-written);
            }
            retire(written);

            if (written < offered) {
                shortWrites++;
                if (written == 0) {
                    zeroByteWrites++;
                }
                if (offered > MIN_BYTES_PER_WRITE && written < offered >>> 1) {
                    bytesPerWrite = Math.max(MIN_BYTES_PER_WRITE, offered >>> 1);
                }
                return Flush.BLOCKED;
            }
            if (offered >= bytesPerWrite && bytesPerWrite < maxBytesPerWrite) {
                bytesPerWrite = Math.min(maxBytesPerWrite, bytesPerWrite << 1);
            }
        }
        return stagedSize == 0 && queue.isEmpty() ? Flush.DRAINED : Flush.YIELDED;
    }

    /** Retires from the head every frame the {@code written} bytes finished, in order; empty frames too. */
    private void retire(long written) {
        long left = written;
        int retired = 0;
        while (stagedSize > 0) {
            Entry e = staged[stagedHead];
            if (e.remaining > left) {
                e.remaining -= left;
                left = 0;
                break;
            }
            left -= e.remaining;
            staged[stagedHead] = null;
            stagedHead = (stagedHead + 1) & (staged.length - 1);
            stagedSize--;
            retired++;
            WriteListener listener = e.listener;
            pool.release(e);
            notify(listener, null);
        }
        if (retired > 0) {
            framesWritten += retired;
        }
        if (left != 0) {
            // The channel claims more bytes than were staged: its count cannot be trusted, and neither can
            // the stream. Never reached with a conforming channel.
            throw new IllegalStateException("write returned " + written + " bytes, " + left
                    + " more than were offered on " + owner);
        }
    }

    private void stage(Entry e) {
        if (stagedSize == staged.length) {
            Entry[] bigger = new Entry[staged.length << 1];
            for (int i = 0; i < stagedSize; i++) {
                bigger[i] = staged[(stagedHead + i) & (staged.length - 1)];
            }
            staged = bigger;
            stagedHead = 0;
        }
        staged[(stagedHead + stagedSize) & (staged.length - 1)] = e;
        stagedSize++;
    }

    /**
     * Loop. Holds the writer as scheduled while it waits for OP_WRITE, so producers do not wake the loop for
     * every frame they add to a connection that cannot take bytes anyway.
     */
    void holdWhileBlocked() {
        scheduled.set(1);
    }

    /** Loop. Re-arms after {@link Flush#YIELDED}: {@code true} when the caller must hand it to the loop again. */
    boolean reschedule() {
        return scheduled.get() == 0 && scheduled.compareAndSet(0, 1);
    }

    /**
     * Loop. Applies the hysteresis (unwritable above the high watermark, set by producers; writable again
     * below the low one, set here) and returns the writability to report if it differs from
     * {@code lastReported}, else {@code null}. A dip that came and went between two looks is not reported.
     */
    Boolean writabilityChange(boolean lastReported) {
        if (!writable && pending.get() < lowWatermark) {
            writable = true;
        }
        boolean now = writable;
        return now == lastReported ? null : now;
    }

    /**
     * Loop. Ends the writer: every staged and queued frame fails with {@code cause}, in order, and every
     * frame enqueued later fails on its producer's thread. Idempotent.
     */
    void close(Throwable cause) {
        if (closed) {
            return;
        }
        // Take the consumer role before publishing closed, so no producer drains while we do.
        scheduled.set(1);
        closeCause = cause;
        closed = true;
        while (stagedSize > 0) {
            Entry e = staged[stagedHead];
            staged[stagedHead] = null;
            stagedHead = (stagedHead + 1) & (staged.length - 1);
            stagedSize--;
            fail(e, cause, true);
        }
        Entry e;
        while ((e = queue.poll()) != null) {
            fail(e, cause, true);
        }
        scheduled.set(0);
        failStragglers();
    }

    boolean isClosed() {
        return closed;
    }

    private void fail(Entry e, Throwable cause, boolean onLoop) {
        pending.addAndGet(-e.remaining);
        WriteListener listener = e.listener;
        if (onLoop) {
            pool.release(e);
        }
        notify(listener, cause);
    }

    private void notify(WriteListener listener, Throwable failureOrNull) {
        if (listener == null) {
            return;
        }
        try {
            listener.onComplete(failureOrNull);
        } catch (Throwable t) {
            LOG.warn("write listener threw on {}; ignored", owner, t);
        }
    }

    /** One accepted frame. Pooled per loop: producers take, the loop gives back. */
    static final class Entry {
        ByteBuffer single;
        ByteBuffer[] parts;
        WriteListener listener;
        long remaining;
    }

    /**
     * Recycles entries without locks: any producer thread takes ({@code poll} is multi-consumer), only the loop
     * gives back ({@code offer} is single-producer). Empty pool: allocate; full pool: let the GC have it.
     */
    static final class EntryPool {
        private final SpmcArrayQueue<Entry> free;

        EntryPool(int capacity) {
            free = new SpmcArrayQueue<>(capacity);
        }

        Entry acquire() {
            Entry e = free.poll();
            return e != null ? e : new Entry();
        }

        /** Loop thread only. */
        void release(Entry e) {
            e.single = null;
            e.parts = null;
            e.listener = null;
            e.remaining = 0;
            free.offer(e);
        }
    }
}
