package io.cqlnio.nio;

import io.cqlnio.spi.Connection;
import io.cqlnio.spi.ConnectionClosedException;
import io.cqlnio.spi.FrameHandler;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.util.concurrent.atomic.AtomicLongFieldUpdater;

/**
 * A connection's outbound side on its loop: hands the claimed writer to the loop, flushes it, waits for
 * {@code OP_WRITE} after a short write, reports writability, and ends a graceful close (with close_notify under
 * TLS) once every accepted frame is written. Loop thread only, except {@link #handOver}.
 */
final class WriteSide {

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
    final FrameQueue queue;
    final FrameWriter writer;
    private volatile long wakeups;
    private Runnable reportWritability;
    private boolean awaitingWritable;
    private boolean reportedWritable = true;

    WriteSide(ConnectionControl control, Connection connection, FrameHandler handler, Loop loop, Wire wire,
              TlsSteps tls, IdleTimers idle, ByteBuffer[] iov, FrameQueue queue, FrameWriter writer) {
        this.control = control;
        this.connection = connection;
        this.handler = handler;
        this.loop = loop;
        this.wire = wire;
        this.tls = tls;
        this.idle = idle;
        this.iov = iov;
        this.queue = queue;
        this.writer = writer;
    }

    /** Any thread. Acts on what an offer said: the writer was claimed, or the connection became unwritable. */
    void handOver(int offered) {
        if ((offered & FrameQueue.CLAIMED) != 0 && loop.markDirty(control)) {
            WAKEUPS.incrementAndGet(this);
        }
        if ((offered & FrameQueue.BECAME_UNWRITABLE) != 0) {
            if (reportWritability == null) {
                reportWritability = this::reportWritability; // benign race: any copy does the same
            }
            loop.execute(reportWritability);
        }
    }

    long wakeups() {
        return wakeups;
    }

    /** Loop. OP_WRITE fired: the kernel has room again. */
    void onWritable() {
        awaitingWritable = false;
        flush();
    }

    /** Loop. The writer was handed to the loop, or it yielded its last turn. */
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
        } catch (RuntimeException e) {
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
                break;
            case BLOCKED:
                awaitingWritable = true;
                queue.holdClaim();
                control.setInterest(ops | SelectionKey.OP_WRITE);
                break;
            default: // YIELDED: served again from the dirty queue next turn; OP_WRITE too would serve it twice
                control.setInterest(ops & ~SelectionKey.OP_WRITE);
                if (queue.reclaim()) {
                    loop.markDirty(control);
                }
                break;
        }
        reportWritability();
    }

    /** Loop. Every accepted frame is written: close, after close_notify under TLS. */
    private void closeGracefully() {
        if (tls == null) {
            control.closeNow(null, new ConnectionClosedException(connection + " closed"));
            return;
        }
        // Nothing may follow close_notify: a producer that passed the OPEN check just before close() is refused
        // now, as if it had come a moment later. From here the loop no longer flushes the writer.
        writer.close(new ConnectionClosedException("write refused: " + connection + " is closing"));
        tls.startCloseNotify();
        finishCloseNotify();
    }

    /** Loop. Writes what is left of close_notify, waiting for OP_WRITE if need be; then the socket closes. */
    private void finishCloseNotify() {
        if (!tls.flushCloseNotify()) {
            awaitingWritable = true;
            control.setInterest(control.interestOps() | SelectionKey.OP_WRITE);
            return;
        }
        control.closeNow(null, new ConnectionClosedException(connection + " closed"));
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
