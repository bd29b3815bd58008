package io.cqlnio.nio;

import io.cqlnio.spi.Connection;
import io.cqlnio.spi.ConnectionClosedException;
import io.cqlnio.spi.FrameHandler;

import org.jctools.queues.MessagePassingQueue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.util.concurrent.atomic.AtomicLongFieldUpdater;

/**
 * A connection's outbound side: what a caller does with the writer it claimed (write through, or pass it to the
 * loop), and on the loop: flushing, waiting for {@code OP_WRITE} after a short write, reporting writability, and
 * handing a graceful close to the drain (after close_notify under TLS) once every accepted frame is written.
 *
 * <pre>
 *  caller claimed the idle writer (FREE -> CALLER)
 *    quiet connection, plaintext, OPEN, not the loop:  one gathering write of what is queued, here and now
 *        drained        -> FREE, then look again (a frame offered meanwhile, a close() meanwhile -> the loop)
 *        short, or more -> LOOP: the remainder stays at the head, the loop waits for OP_WRITE as always
 *    otherwise:  -> LOOP, and the loop flushes on its next turn (a wakeup only if it sleeps)
 * </pre>
 *
 * <p>Write-through takes one thread handoff out of a request's round trip when the connection is idle, and
 * stays out of the way under load: a caller writes through only if no write call touched this connection for
 * {@code writeThroughQuietTime}, and a claim that comes sooner (a burst) leaves every claim to the loop for
 * {@link #BUSY_HOLD} quiet times, so a pipelining caller's frames go out in the loop's gathering writes
 * (docs/BENCHMARKS.md has the alternatives measured). Never under TLS: the engine's wrap state is shared with the loop's reads (handshake
 * messages, key updates, close_notify), so only the loop drives it.
 *
 * <p>Threads: {@link #handOver} on the caller's thread (the writer only while it holds the claim); everything
 * else on the loop.
 */
final class WriteSide {

    /** Quiet times a burst keeps write-through off: 1 ms at the default 10 µs. */
    static final int BUSY_HOLD = 100;

    private static final AtomicLongFieldUpdater<WriteSide> WAKEUPS =
            AtomicLongFieldUpdater.newUpdater(WriteSide.class, "wakeups");


    private final ConnectionControl control;
    private final Connection connection;
    private final FrameHandler handler;
    private final Loop loop;
    private final Wire wire;
    /** Null on a plaintext connection. */
    private final TlsSteps tls;
    /** Null unless a write idle timeout is configured. */
    private final IdleTimers idle;
    private final ByteBuffer[] iov;
    /** Callers' iov arrays, lent for one write-through each; null when write-through is off. */
    private final MessagePassingQueue<ByteBuffer[]> callerIovs;
    /** How long no write call may have touched the connection before a caller writes through. */
    private final long quietNanos;
    /**
     * Until then the connection counts as busy and every claim goes to the loop: set when a claim came sooner than
     * {@link #quietNanos} after a write (a burst), for {@link #BUSY_HOLD} quiet times. Read and written only by
     * the claim's holder, which the claim's compare-and-set orders.
     */
    private long busyUntil;
    final FrameQueue queue;
    final FrameWriter writer;
    private volatile long wakeups;
    /** Written by the writer's holder only (the claim orders them); volatile for stats() on other threads. */
    private volatile long writesThrough;
    private Runnable reportWritability;
    private boolean awaitingWritable;
    private boolean reportedWritable = true;

    WriteSide(ConnectionControl control, Connection connection, FrameHandler handler, Loop loop, Wire wire,
              TlsSteps tls, IdleTimers idle, ByteBuffer[] iov, MessagePassingQueue<ByteBuffer[]> callerIovs,
              long quietNanos, FrameQueue queue, FrameWriter writer) {
        this.control = control;
        this.connection = connection;
        this.handler = handler;
        this.loop = loop;
        this.wire = wire;
        this.tls = tls;
        this.idle = idle;
        this.iov = iov;
        this.callerIovs = tls == null ? callerIovs : null;
        this.quietNanos = quietNanos;
        this.queue = queue;
        this.writer = writer;
    }

    // ---------------------------------------------------------------- the caller's thread

    /**
     * Any thread, right after an offer. Acts on what it said: the writer was claimed (write through, or pass it
     * to the loop), or the connection became unwritable (the loop tells the handler).
     */
    void handOver(int offered) {
        if ((offered & FrameQueue.CLAIMED) != 0) {
            if (mayWriteThrough()) {
                writeThrough();
            } else {
                passToLoop();
            }
        }
        if ((offered & FrameQueue.BECAME_UNWRITABLE) != 0) {
            reportWritabilityOnLoop();
        }
    }

    /**
     * Any thread, right after the switch to v5 segments was offered off the loop: a claim won goes to the loop,
     * never through. The loop runs the reader's switch (a task submitted just before) ahead of the flush that
     * sends the first segment, so no reply in segments can arrive before the reader expects segments.
     */
    void handOverToLoop(int offered) {
        if ((offered & FrameQueue.CLAIMED) != 0) {
            passToLoop();
        }
    }

    private void reportWritabilityOnLoop() {
        if (reportWritability == null) {
            reportWritability = this::reportWritability; // benign race: any copy does the same
        }
        loop.execute(reportWritability);
    }

    /**
     * Not on the loop's own thread: a handler answering from {@code onFrame} (a driver issuing its next request
     * from a response's callback) is flushed on this very turn, with whatever else this read produced, and the
     * end-to-end run against Cassandra measured write-through there at twice the client CPU per request with 16
     * in flight (docs/BENCHMARKS.md). An interrupted thread qualifies: a write on a non-blocking channel neither
     * sees nor clears the interrupt, and does not close the channel (only blocking I/O on an interruptible channel
     * does).
     */
    private boolean mayWriteThrough() {
        if (callerIovs == null || control.state() != ConnectionState.OPEN || loop.inLoop()) {
            return false;
        }
        long now = System.nanoTime();
        if (now - writer.lastWriteNanos < quietNanos) {
            // A pipelining caller: its next claims would each cost a write call of their own, where the loop
            // gathers a whole burst into one. Leave them to the loop for a while.
            busyUntil = now + quietNanos * BUSY_HOLD;
            return false;
        }
        return now - busyUntil >= 0;
    }

    /** Caller holding the claim: the loop flushes on its next turn, woken only if it sleeps. */
    private void passToLoop() {
        if (!queue.passTo(FrameQueue.LOOP)) {
            writer.finishClose(); // the loop closed while we held the writer: failing its frames is ours
            return;
        }
        if (loop.markDirty(control)) {
            WAKEUPS.incrementAndGet(this);
        }
    }

    /**
     * Caller holding the claim: one gathering write of what is queued now (one call, so a caller never turns
     * into a loop nor holds the writer while it tells listeners of frames offered after it), then lets go, or
     * passes what is left to the loop exactly as a loop flush would leave it.
     */
    private void writeThrough() {
        ByteBuffer[] callerIov = callerIovs.poll();
        if (callerIov == null) {
            passToLoop(); // as many callers as arrays are writing through on this loop already
            return;
        }
        FrameWriter.Flush result;
        long framesBefore = writer.framesWritten;
        try {
            result = writer.flush(wire, callerIov, 1);
        } catch (IOException | RuntimeException e) {
            failedThrough(e);
            return;
        } catch (Error e) { // say an OutOfMemoryError copying heap bytes for writev: end the connection, not the claim
            failedThrough(e);
            throw e;
        } finally {
            callerIovs.offer(callerIov);
        }
        writesThrough++;
        if (idle != null && writer.framesWritten != framesBefore) {
            idle.framesWritten();
        }
        if (result != FrameWriter.Flush.DRAINED) {
            passToLoop(); // short: the loop meets it again and waits for OP_WRITE; yielded: the loop goes on
        } else if (!queue.passTo(FrameQueue.FREE)) {
            writer.finishClose();
            return;
        } else if (!queue.isEmpty() || control.state() != ConnectionState.OPEN) {
            // A frame offered while we held the claim found it taken, and a close() found it taken too: whoever
            // wins the claim now hands both to the loop.
            if ((queue.claimAfterPush(0) & FrameQueue.CLAIMED) != 0) {
                passToLoop();
            }
        }
        if (!queue.isWritable()) {
            reportWritabilityOnLoop(); // pending may have dropped below the low watermark
        }
    }

    /**
     * Caller holding the claim: the write threw. The loop closes the connection with the cause: at once when the
     * caller is the loop (no {@code onFrame} after a failed write of this read), else on its next turn.
     */
    private void failedThrough(Throwable e) {
        if (!queue.passTo(FrameQueue.LOOP)) {
            writer.finishClose();
            return;
        }
        Runnable close = () -> {
            if (e instanceof IOException) {
                ConnectionClosedException why = new ConnectionClosedException("write failed on " + connection + ": "
                        + e.getMessage(), e);
                control.closeNow(why, why);
            } else {
                control.closeOnError(e);
            }
        };
        if (loop.inLoop()) {
            close.run();
        } else {
            loop.execute(close);
        }
    }

    long wakeups() {
        return wakeups;
    }

    long writesThrough() {
        return writesThrough;
    }

    // ---------------------------------------------------------------- the loop

    /** Loop. OP_WRITE fired: the kernel has room again. */
    void onWritable() {
        awaitingWritable = false;
        flush();
    }

    /** Loop, holding the claim: the writer was passed to the loop, or it yielded its last turn. */
    void flush() {
        if (awaitingWritable) {
            return; // OP_WRITE will call back; the writer stays claimed meanwhile
        }
        if (tls != null && tls.closeNotifyStarted()) {
            finishCloseNotify();
            return;
        }
        FrameWriter.Flush result;
        long framesBefore = writer.framesWritten;
        try {
            result = writer.flush(wire, iov);
        } catch (IOException e) {
            ConnectionClosedException why = new ConnectionClosedException("write failed on " + connection + ": "
                    + e.getMessage(), e);
            control.closeNow(why, why);
            return;
        } catch (RuntimeException | Error e) { // an Error too: a claim left with a dead flush strands every frame
            control.closeOnError(e);
            return;
        }
        if (idle != null && writer.framesWritten != framesBefore) {
            idle.framesWritten();
        }
        int ops = control.interestOps();
        switch (result) {
            case DRAINED:
                control.setInterest(ops & ~SelectionKey.OP_WRITE);
                if (control.state() == ConnectionState.CLOSING) {
                    closeGracefully();
                    return;
                }
                queue.release();
                if (!queue.isEmpty() && queue.claimForLoop()) {
                    loop.markDirty(control); // offered while we held the claim: next turn
                }
                break;
            case BLOCKED: // the claim stays with the loop: producers need not wake it meanwhile
                awaitingWritable = true;
                control.setInterest(ops | SelectionKey.OP_WRITE);
                break;
            default: // YIELDED: served again from the dirty queue next turn; OP_WRITE too would serve it twice
                control.setInterest(ops & ~SelectionKey.OP_WRITE);
                loop.markDirty(control);
                break;
        }
        reportWritability();
    }

    /**
     * Loop. Every accepted frame is written: nothing may follow, so a producer that passed the OPEN check just
     * before close() is refused now, as if it had come a moment later, and the loop no longer flushes the writer.
     * Then close_notify under TLS, and the connection drains.
     */
    private void closeGracefully() {
        writer.close(new ConnectionClosedException("write refused: " + connection + " is closing"));
        if (tls == null) {
            control.halfClose();
            return;
        }
        tls.startCloseNotify();
        finishCloseNotify();
    }

    /** Loop. Writes what is left of close_notify, waiting for {@code OP_WRITE} if need be; then the drain. */
    private void finishCloseNotify() {
        if (!tls.flushCloseNotify()) {
            awaitingWritable = true;
            control.setInterest(control.interestOps() | SelectionKey.OP_WRITE);
            return;
        }
        control.halfClose();
    }

    private void reportWritability() {
        if (control.isTornDown()) {
            return;
        }
        Boolean change = queue.writabilityChange(reportedWritable);
        if (change != null) {
            reportedWritable = change;
            try {
                handler.onWritabilityChanged(connection, change);
            } catch (Throwable t) {
                control.closeOnError(t);
            }
        }
    }
}
