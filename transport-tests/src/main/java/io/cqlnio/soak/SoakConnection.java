package io.cqlnio.soak;

import io.cqlnio.spi.Connection;
import io.cqlnio.spi.FrameHandler;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One soak connection: writes its frames (from the {@link Writer} thread only, so frame {@code seq} is always the
 * {@code seq}-th on the wire), checks each echo against {@link FrameShape} in order, and checks every outcome the
 * transport reports: each write listener once, successes in write order and never after a failure, {@code onClosed}
 * once and with the cause the runner's own {@code close()} (null) or {@code abort(cause)} (that cause) gives.
 *
 * <p>Threads: {@link #topUp} on the writer; {@link #onFrame} and {@link #onClosed} on the connection's loop; write
 * listeners on the writer or the loop; {@link #endByClose}/{@link #endByAbort} on the runner's control thread.
 */
final class SoakConnection implements FrameHandler {

    enum End { NONE, CLOSE, ABORT }

    private final long id;
    private final long seed;
    private final Tally tally;
    private final FramePool pool;
    private final Runnable wakeWriter;
    private final AtomicInteger outstanding = new AtomicInteger();
    private final AtomicInteger closedCalls = new AtomicInteger();
    private volatile Connection connection;
    private volatile End end = End.NONE;
    private volatile Throwable abortCause;
    private volatile boolean closed;
    /** Writer thread only. */
    private long nextSeq;
    /** Loop thread only. */
    private long nextEcho;
    /** Guarded by {@code this}: the outcomes' order. */
    private long lastSuccess = -1;
    private boolean failedOnce;
    /**
     * The frame inside {@code write} on {@link #writingThread}: a failure told for it there, before {@code write}
     * returned, is a refusal, which the contract puts outside the accepted frames' order (WriteListener).
     */
    private volatile FrameOutcome writing;
    private volatile Thread writingThread;

    SoakConnection(long id, long seed, Tally tally, FramePool pool, Runnable wakeWriter) {
        this.id = id;
        this.seed = seed;
        this.tally = tally;
        this.pool = pool;
        this.wakeWriter = wakeWriter;
    }

    /** The connect future completed: from now on the writer may write. */
    void attach(Connection c) {
        connection = c;
    }

    Connection connection() {
        return connection;
    }

    long id() {
        return id;
    }

    boolean isClosed() {
        return closed;
    }

    boolean isEnded() {
        return end != End.NONE;
    }

    /** {@return frames written and neither echoed nor failed yet} */
    int outstanding() {
        return outstanding.get();
    }

    /** Control thread: a graceful close the runner chose; onClosed must then say null. */
    void endByClose() {
        end = End.CLOSE;
        connection.close();
    }

    /** Control thread: an abort the runner chose; onClosed must then carry {@code cause}. */
    void endByAbort(Throwable cause) {
        abortCause = cause;
        end = End.ABORT;
        connection.abort(cause);
    }

    /**
     * Writer thread: writes frames until {@code window} are outstanding, the pool has no buffer for the next one,
     * or the connection is ending.
     *
     * @return whether it wrote anything
     */
    boolean topUp(int window) {
        Connection c = connection;
        boolean wrote = false;
        while (end == End.NONE && !closed && outstanding.get() < window) {
            ByteBuffer buffer = pool.take(FrameShape.length(seed, nextSeq));
            if (buffer == null) {
                tally.poolWaits.increment();
                break;
            }
            FrameShape.fill(buffer, seed, nextSeq);
            outstanding.incrementAndGet();
            FrameOutcome outcome = new FrameOutcome(this, nextSeq, buffer);
            writingThread = Thread.currentThread();
            writing = outcome;
            try {
                c.write(buffer, outcome);
            } catch (RuntimeException e) {
                writing = null;
                // Not accepted, so no listener call is due: the frame is the runner's again.
                tally.violation("write threw", "connection " + id + " frame " + outcome.seq + ": " + e);
                outstanding.decrementAndGet();
                pool.give(buffer);
                break;
            }
            writing = null;
            nextSeq++;   // only once accepted: the echo of the next frame written is expected as this number
            tally.writesAccepted.increment();
            wrote = true;
        }
        return wrote;
    }

    @Override
    public void onFrame(Connection c, ByteBuffer frame) {
        if (closed) {
            tally.violation("onFrame after onClosed", "connection " + id);
            return;
        }
        long seq = nextEcho++;
        int at = FrameShape.verify(frame, seed, seq);
        if (at != FrameShape.OK) {
            tally.violation("echo differs", "connection " + id + " frame " + seq + " (" + frame.remaining()
                    + " B, expected " + FrameShape.length(seed, seq) + " B) from byte " + at);
        } else {
            tally.echoedFrames.increment();
            tally.echoedBytes.add(frame.remaining());
        }
        outstanding.decrementAndGet();
        wakeWriter.run();
    }

    @Override
    public void onClosed(Connection c, Throwable cause) {
        if (closedCalls.incrementAndGet() > 1) {
            tally.violation("onClosed again", "connection " + id + ", cause " + cause);
            return;
        }
        closed = true;
        tally.closedOnce.increment();
        End how = end;
        if (how == End.CLOSE && cause == null) {
            tally.closedByClose.increment();
        } else if (how == End.ABORT && cause == abortCause) {
            tally.closedByAbort.increment();
        } else if (how == End.NONE) {
            tally.violation("closed without the runner ending it: " + Tally.name(cause), "connection " + id + ": "
                    + cause);
        } else {
            tally.violation("onClosed cause after " + how + ": " + Tally.name(cause), "connection " + id + ": "
                    + cause);
        }
        if (how == End.CLOSE) {
            int unechoed = Math.max(0, outstanding.get());
            tally.unechoedAtClose.add(unechoed);
            if (unechoed > 0 && cause == null) {
                // The peer echoes everything, then ends its side: the drain of close() must have delivered it all.
                tally.violation("echoes missing after close()", "connection " + id + ": " + unechoed);
            }
        } else if (how == End.ABORT) {
            tally.unechoedAtAbort.add(Math.max(0, outstanding.get()));
        }
        wakeWriter.run();
    }

    /** A frame's listener was called again: never its buffer's business any more, only a violation. */
    void tallyAgain(FrameOutcome outcome, Throwable failure) {
        tally.violation("write listener called again", "connection " + id + " frame " + outcome.seq + ": "
                + failure);
    }

    /** A frame's listener said how it ended (first call only): order check, accounting, buffer back to the pool. */
    void told(FrameOutcome outcome, Throwable failure) {
        pool.give(outcome.buffer);
        boolean refused = failure != null && outcome == writing && Thread.currentThread() == writingThread;
        if (refused) {
            tally.refusals.increment();
        }
        synchronized (this) {
            if (refused) {
                // not accepted: no place in the order of the frames that were (they may still succeed after it)
            } else if (failure == null) {
                if (failedOnce || outcome.seq != lastSuccess + 1) {
                    tally.violation("success out of order", "connection " + id + " frame " + outcome.seq
                            + " after success " + lastSuccess + (failedOnce ? " and a failure" : ""));
                }
                lastSuccess = outcome.seq;
            } else {
                failedOnce = true;
            }
        }
        if (failure == null) {
            tally.writesSucceeded.increment();
            return;
        }
        tally.writesFailed.increment();
        outstanding.decrementAndGet();
        if (end == End.NONE) {
            tally.violation("write failed without the runner ending it: " + Tally.name(failure), "connection " + id
                    + " frame " + outcome.seq + ": " + failure);
        } else {
            tally.expected("write failed after " + end, failure);
        }
    }
}
