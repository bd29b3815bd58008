package io.cqlnio.nio;

import io.cqlnio.spi.Cancellable;
import io.cqlnio.spi.Connection;
import io.cqlnio.spi.FrameHandler;
import io.cqlnio.spi.IdleKind;

/**
 * A connection's read and write idle timeouts: {@link FrameHandler#onIdle} once a whole timeout passes without
 * an inbound frame (READ) or a written frame (WRITE), then again every timeout while it stays quiet. One timer
 * per direction, re-armed for the next moment it could fire rather than on every frame, so a busy connection
 * pays one {@code nanoTime} per read or flush that moved frames. Loop thread only, except {@link #framesWritten}
 * (also the writer's holder when a caller writes through).
 */
final class IdleTimers {

    private final Loop loop;
    private final Connection connection;
    private final FrameHandler handler;
    private final LoopMember member;
    private final long readIdleNanos;
    private final long writeIdleNanos;
    private final Runnable checkRead = () -> check(IdleKind.READ);
    private final Runnable checkWrite = () -> check(IdleKind.WRITE);
    private Cancellable readTimer;
    private Cancellable writeTimer;
    private long readMark;
    /** Volatile: a caller writing through moves it too. */
    private volatile long writeMark;
    private boolean stopped;

    IdleTimers(Loop loop, Connection connection, LoopMember member, FrameHandler handler, long readIdleNanos,
               long writeIdleNanos) {
        this.loop = loop;
        this.connection = connection;
        this.member = member;
        this.handler = handler;
        this.readIdleNanos = readIdleNanos;
        this.writeIdleNanos = writeIdleNanos;
    }

    /** {@code null} when neither timeout is set: a connection without them carries nothing. */
    static IdleTimers create(Loop loop, Connection connection, LoopMember member, FrameHandler handler,
                             long readIdleNanos, long writeIdleNanos) {
        return readIdleNanos > 0 || writeIdleNanos > 0
                ? new IdleTimers(loop, connection, member, handler, readIdleNanos, writeIdleNanos)
                : null;
    }

    /** The connection is open: both clocks start now. */
    void start() {
        long now = System.nanoTime();
        readMark = now;
        writeMark = now;
        if (readIdleNanos > 0) {
            readTimer = loop.schedule(checkRead, readIdleNanos);
        }
        if (writeIdleNanos > 0) {
            writeTimer = loop.schedule(checkWrite, writeIdleNanos);
        }
    }

    void framesRead() {
        if (readIdleNanos > 0) {
            readMark = System.nanoTime();
        }
    }

    void framesWritten() {
        if (writeIdleNanos > 0) {
            writeMark = System.nanoTime();
        }
    }

    void stop() {
        stopped = true;
        cancel(readTimer);
        cancel(writeTimer);
    }

    /** Reports idleness if the mark is a whole timeout old, and re-arms for the next possible moment. */
    private void check(IdleKind kind) {
        if (stopped) {
            return;
        }
        boolean read = kind == IdleKind.READ;
        long timeout = read ? readIdleNanos : writeIdleNanos;
        long now = System.nanoTime();
        long quiet = now - (read ? readMark : writeMark);
        Runnable again = read ? checkRead : checkWrite;
        Cancellable next;
        boolean idle = quiet >= timeout;
        if (idle) {
            if (read) {
                readMark = now;
            } else {
                writeMark = now;
            }
            next = loop.schedule(again, timeout);
        } else {
            next = loop.schedule(again, timeout - quiet);
        }
        if (read) {
            readTimer = next;
        } else {
            writeTimer = next;
        }
        if (idle) {
            try {
                handler.onIdle(connection, kind);
            } catch (Throwable t) {
                member.closeOnError(t);
            }
        }
    }

    private static void cancel(Cancellable timer) {
        if (timer != null) {
            timer.cancel();
        }
    }
}
