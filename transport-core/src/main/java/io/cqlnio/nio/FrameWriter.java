package io.cqlnio.nio;

import io.cqlnio.frame.Segments;
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
import java.util.zip.CRC32;

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
 * Under TLS the channel is a {@link TlsChannel}: it takes plaintext from the frames' buffers as it encrypts
 * them, but W counts only plaintext whose ciphertext the kernel has taken. Frames it took but has not
 * counted stay at the head here ({@link TlsChannel#unacknowledged()}), so the rule above is unchanged: a
 * listener hears "written" only when the kernel has every byte that carries its frame.
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

    /** Frames per queue chunk: bursts up to two chunks deep reuse pooled chunks and allocate nothing. */
    private static final int QUEUE_CHUNK = 256;
    /** Stands in for a null listener among deferred ones, so the frame is still counted. */
    private static final WriteListener NO_LISTENER = failure -> { };

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
    /** Sum of {@code remaining} over the staged entries. */
    private long stagedBytes;
    private long bytesPerWrite;
    /** Polled from the queue but left for the next segment (it did not fit in the one being built). */
    private Entry lookahead;
    /** True once the switch entry has been dequeued: frames after it go out as v5 segments. */
    private boolean segments;
    private final CRC32 crc = new CRC32();
    private WriteListener[] deferred = new WriteListener[16];
    private int deferredHead;
    private int deferredSize;
    private final ByteBuffer[] freeHeaders = new ByteBuffer[8];
    private final ByteBuffer[] freeTrailers = new ByteBuffer[8];
    private int freeHeaderCount;
    private int freeTrailerCount;

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
        long nowPending;
        if (maxPendingBytes > 0) {
            // Checked before counting, so no other producer ever sees a pending count that was not real.
            long current;
            do {
                current = pending.get();
                if (current + bytes > maxPendingBytes) {
                    notify(listener, new TransportException("write of " + bytes + " bytes refused: " + current
                            + " bytes are pending and maxPendingBytes is " + maxPendingBytes + " on " + owner));
                    return 0;
                }
            } while (!pending.compareAndSet(current, current + bytes));
            nowPending = current + bytes;
        } else {
            nowPending = pending.addAndGet(bytes);
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
        return offer(e, result);
    }

    /**
     * Publishes an entry and decides who consumes it. Once closed the loop consumes no more, so a producer that
     * finds it closed fails what is queued itself, and so does one whose schedule raced the close: the loop
     * will ignore the schedule of a closed connection, and leaving {@code scheduled} set would lock every later
     * straggler out of {@link #failStragglers}.
     */
    private int offer(Entry e, int result) {
        queue.offer(e);
        return claim(result);
    }

    /** The producer's half of {@link #offer} after its entry is in the queue; separate so a test can replay it. */
    int claim(int result) {
        if (closed) {
            failStragglers();
            return 0;
        }
        if (scheduled.get() == 0 && scheduled.compareAndSet(0, 1)) {
            if (closed) {
                scheduled.set(0);
                failStragglers();
                return 0;
            }
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

    /**
     * Any thread. From this point in the write order, frames go out as protocol v5 segments. The switch is an
     * entry in the same queue as the frames, so "before" and "after" mean what the queue order says.
     *
     * @return as {@link #enqueue}
     */
    int enqueueSwitchToSegments() {
        Entry e = pool.acquire();
        e.kind = Entry.SWITCH;
        return offer(e, 0);
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
        TlsChannel tls = channel instanceof TlsChannel ? (TlsChannel) channel : null;
        for (int spin = 0; spin < writeSpinCount; spin++) {
            long budget = bytesPerWrite;
            stageMore(iov.length, budget);

            // Gather: the staged entries in order, the head from wherever the last write stopped.
            ByteBuffer clipped = null;
            int clippedLimit = 0;
            int count = 0;
            long offered = 0;
            gather:
            for (int s = 0; s < stagedSize && offered < budget; s++) {
                Entry e = staged[(stagedHead + s) & (staged.length - 1)];
                ByteBuffer[] parts = e.parts;
                int n = parts == null ? 1 : parts.length;
                for (int i = 0; i < n; i++) {
                    ByteBuffer b = parts == null ? e.single : parts[i];
                    if (!b.hasRemaining()) {
                        continue;
                    }
                    if (count == iov.length) {
                        break gather;
                    }
                    iov[count++] = b;
                    offered += b.remaining();
                    if (offered >= budget) {
                        // Offer no more than the budget: the JDK copies every offered heap byte into a direct
                        // buffer before writev, whether the kernel takes it or not. The limit is ours to move
                        // while we own the buffer, and is put back right after the write.
                        long over = offered - budget;
                        if (over > 0) {
                            clipped = b;
                            clippedLimit = b.limit();
                            b.limit((int) (clippedLimit - over));
                            offered = budget;
                        }
                        break gather;
                    }
                }
            }

            // Under TLS, bytes already wrapped are no longer in the frames' buffers but not yet acknowledged
            // either, and ciphertext still waiting must be written even if no new plaintext is.
            if (count == 0 && (tls == null || (!tls.hasCiphertext() && tls.unacknowledged() == 0))) {
                if (stagedBytes > 0) {
                    // Counted at write() but not in the buffers now: the caller changed or aliased a frame's
                    // buffers after handing them over. The accounting cannot be trusted; end loudly.
                    throw new IllegalStateException(stagedBytes + " bytes counted when frames were written are no"
                            + " longer in their buffers (a buffer changed or aliased after write()) on " + owner);
                }
                // Only empty frames staged, or nothing at all: retire what is staged (it is all empty).
                retire(0);
                return isDrained() ? Flush.DRAINED : Flush.YIELDED;
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
            }
            long frameBytes = retire(written);
            if (frameBytes > 0) {
                pending.addAndGet(-frameBytes);
            }

            if (tls != null ? tls.hasCiphertext() : written < offered) {
                shortWrites++;
                if (written == 0) {
                    zeroByteWrites++;
                }
                // Under TLS the budget stays: it exists because the JDK copies every offered heap byte before a
                // write, but TLS encrypts only what fits its buffer, and 4 KiB records in tiny writes crawl.
                if (tls == null && offered > MIN_BYTES_PER_WRITE && written < offered >>> 1) {
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

    private boolean isDrained() {
        return stagedSize == 0 && lookahead == null && queue.isEmpty();
    }

    /**
     * Moves queued frames behind the staged ones until about one write's worth is staged. In segment mode each
     * run of queued frames becomes a segment here: header, the frames' own buffers (no copy), trailer.
     */
    private void stageMore(int buffers, long budget) {
        while (stagedSize < buffers && stagedBytes < budget) {
            Entry e = nextQueued();
            if (e == null) {
                return;
            }
            if (e.kind == Entry.SWITCH) {
                segments = true;
                pool.release(e);
            } else if (!segments) {
                stage(e);
            } else if (e.remaining > Segments.MAX_PAYLOAD) {
                stageLargeFrame(e);
            } else {
                stageSegment(e);
            }
        }
    }

    private Entry nextQueued() {
        Entry e = lookahead;
        if (e != null) {
            lookahead = null;
            return e;
        }
        return queue.poll();
    }

    /** A self-contained segment: {@code first} and every queued frame after it that fits. */
    private void stageSegment(Entry first) {
        Entry header = overhead(Entry.SEGMENT_HEADER, Segments.HEADER_LENGTH);
        stage(header);
        Segments.reset(crc);
        long payload = 0;
        Entry e = first;
        while (true) {
            e.deferred = true;
            stage(e);
            crc(e.single, e.parts);
            payload += e.remaining;
            e = nextQueued();
            while (e != null && e.kind == Entry.SWITCH) {
                pool.release(e); // a second switch: already in segment mode
                e = nextQueued();
            }
            if (e == null) {
                break;
            }
            if (payload + e.remaining > Segments.MAX_PAYLOAD) {
                lookahead = e; // the next segment starts with it
                break;
            }
        }
        Segments.writeHeader(header.single, 0, (int) payload, true);
        stageTrailer();
    }

    /** A frame larger than one payload: a run of non-self-contained segments over slices of its buffers. */
    private void stageLargeFrame(Entry frame) {
        ByteBuffer[] parts = frame.parts != null ? frame.parts : new ByteBuffer[]{frame.single};
        int part = 0;
        int offset = parts.length == 0 ? 0 : parts[0].position();
        long left = frame.remaining;
        Entry lastSlice = null;
        while (left > 0) {
            int chunk = (int) Math.min(left, Segments.MAX_PAYLOAD);
            Entry header = overhead(Entry.SEGMENT_HEADER, Segments.HEADER_LENGTH);
            Segments.writeHeader(header.single, 0, chunk, false);
            stage(header);
            Segments.reset(crc);
            int need = chunk;
            while (need > 0) {
                ByteBuffer b = parts[part];
                int n = Math.min(need, b.limit() - offset);
                if (n > 0) {
                    Entry slice = pool.acquire();
                    slice.single = b.duplicate().limit(offset + n).position(offset);
                    slice.remaining = n;
                    slice.deferred = true;
                    slice.countsAsFrame = false;
                    crc(slice.single, null);
                    stage(slice);
                    lastSlice = slice;
                    offset += n;
                    need -= n;
                }
                if (offset == b.limit() && part + 1 < parts.length) {
                    part++;
                    offset = parts[part].position();
                }
            }
            left -= chunk;
            stageTrailer();
        }
        // The frame counts, and its listener fires, when the trailer of its last segment is written.
        lastSlice.listener = frame.listener;
        lastSlice.countsAsFrame = true;
        pool.release(frame);
    }

    private void stageTrailer() {
        Entry trailer = overhead(Entry.SEGMENT_TRAILER, Segments.TRAILER_LENGTH);
        Segments.writeTrailer(trailer.single, 0, (int) crc.getValue());
        stage(trailer);
    }

    /** CRC32 over the bytes a frame will send, leaving its buffers' positions where they were. */
    private void crc(ByteBuffer single, ByteBuffer[] parts) {
        if (parts == null) {
            int p = single.position();
            crc.update(single);
            single.position(p);
            return;
        }
        for (ByteBuffer b : parts) {
            int p = b.position();
            crc.update(b);
            b.position(p);
        }
    }

    /** A segment header or trailer entry over a recycled small direct buffer. */
    private Entry overhead(int kind, int length) {
        ByteBuffer[] free = kind == Entry.SEGMENT_HEADER ? freeHeaders : freeTrailers;
        int size = kind == Entry.SEGMENT_HEADER ? freeHeaderCount : freeTrailerCount;
        ByteBuffer b;
        if (size > 0) {
            b = free[--size];
            free[size] = null;
            if (kind == Entry.SEGMENT_HEADER) {
                freeHeaderCount = size;
            } else {
                freeTrailerCount = size;
            }
            b.clear();
        } else {
            b = ByteBuffer.allocateDirect(length);
        }
        Entry e = pool.acquire();
        e.kind = kind;
        e.single = b;
        e.remaining = length;
        return e;
    }

    private void recycleOverhead(Entry e) {
        if (e.kind == Entry.SEGMENT_HEADER) {
            if (freeHeaderCount < freeHeaders.length) {
                freeHeaders[freeHeaderCount++] = e.single;
            }
        } else if (freeTrailerCount < freeTrailers.length) {
            freeTrailers[freeTrailerCount++] = e.single;
        }
    }

    /**
     * Retires from the head every entry the {@code written} bytes finished, in order; empty frames too. A
     * frame inside a segment is acknowledged only when its segment's trailer is written: until then the
     * peer cannot use it.
     *
     * @return the frame bytes among {@code written} (segment headers and trailers are not frame bytes)
     */
    private long retire(long written) {
        long left = written;
        long frameBytes = 0;
        int framesDone = 0;
        while (stagedSize > 0) {
            Entry e = staged[stagedHead];
            if (e.remaining > left) {
                e.remaining -= left;
                stagedBytes -= left;
                if (e.kind == Entry.FRAME) {
                    frameBytes += left;
                }
                left = 0;
                break;
            }
            left -= e.remaining;
            stagedBytes -= e.remaining;
            if (e.kind == Entry.FRAME) {
                frameBytes += e.remaining;
            }
            staged[stagedHead] = null;
            stagedHead = (stagedHead + 1) & (staged.length - 1);
            stagedSize--;
            WriteListener listener = e.listener;
            if (e.kind == Entry.FRAME) {
                if (e.deferred) {
                    if (e.countsAsFrame) {
                        defer(listener);
                    }
                    pool.release(e);
                } else {
                    pool.release(e);
                    framesDone++;
                    notify(listener, null);
                }
            } else {
                if (e.kind == Entry.SEGMENT_TRAILER) {
                    framesDone += deferredSize;
                    recycleOverhead(e);
                    pool.release(e);
                    notifyDeferred(null);
                } else {
                    recycleOverhead(e);
                    pool.release(e);
                }
            }
        }
        if (framesDone > 0) {
            framesWritten += framesDone;
        }
        if (left != 0) {
            // The channel claims more bytes than were staged: its count cannot be trusted, and neither can
            // the stream. Never reached with a conforming channel.
            throw new IllegalStateException("write returned " + written + " bytes, " + left
                    + " more than were offered on " + owner);
        }
        return frameBytes;
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
        stagedBytes += e.remaining;
    }

    /** Keeps a written frame's listener until its segment's trailer is written too. */
    private void defer(WriteListener listener) {
        if (deferredSize == deferred.length) {
            WriteListener[] bigger = new WriteListener[deferred.length << 1];
            for (int i = 0; i < deferredSize; i++) {
                bigger[i] = deferred[(deferredHead + i) & (deferred.length - 1)];
            }
            deferred = bigger;
            deferredHead = 0;
        }
        deferred[(deferredHead + deferredSize) & (deferred.length - 1)] = listener != null ? listener : NO_LISTENER;
        deferredSize++;
    }

    private void notifyDeferred(Throwable failureOrNull) {
        while (deferredSize > 0) {
            WriteListener listener = deferred[deferredHead];
            deferred[deferredHead] = null;
            deferredHead = (deferredHead + 1) & (deferred.length - 1);
            deferredSize--;
            notify(listener, failureOrNull);
        }
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
            // A producer may have crossed the high watermark between the read and the write, seen
            // writable == false and stayed quiet: look again.
            if (pending.get() > highWatermark) {
                writable = false;
            }
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
        // Oldest first: frames written but waiting for their segment's trailer, then staged, then queued.
        notifyDeferred(cause);
        while (stagedSize > 0) {
            Entry e = staged[stagedHead];
            staged[stagedHead] = null;
            stagedHead = (stagedHead + 1) & (staged.length - 1);
            stagedSize--;
            fail(e, cause, true);
        }
        stagedBytes = 0;
        Entry e = lookahead;
        lookahead = null;
        if (e != null) {
            fail(e, cause, true);
        }
        while ((e = queue.poll()) != null) {
            fail(e, cause, true);
        }
        scheduled.set(0);
        failStragglers();
    }

    private void fail(Entry e, Throwable cause, boolean onLoop) {
        if (e.kind == Entry.FRAME) {
            pending.addAndGet(-e.remaining);
        }
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

    /**
     * One staged or queued unit: an accepted frame (or, in segment mode, a slice of one), a segment's header
     * or trailer, or the switch to segments. Pooled per loop: producers take, the loop gives back.
     */
    static final class Entry {
        static final int FRAME = 0;
        static final int SEGMENT_HEADER = 1;
        static final int SEGMENT_TRAILER = 2;
        static final int SWITCH = 3;

        int kind;
        ByteBuffer single;
        ByteBuffer[] parts;
        WriteListener listener;
        long remaining;
        /** Inside a segment: acknowledged when the segment's trailer is written. */
        boolean deferred;
        /** False for the leading slices of a large frame: only its last slice is the frame. */
        boolean countsAsFrame = true;
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
            e.kind = Entry.FRAME;
            e.single = null;
            e.parts = null;
            e.listener = null;
            e.remaining = 0;
            e.deferred = false;
            e.countsAsFrame = true;
            free.offer(e);
        }
    }
}
