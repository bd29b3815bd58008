package io.cqlnio.nio;

import io.cqlnio.spi.Connection;
import io.cqlnio.spi.ConnectionClosedException;
import io.cqlnio.spi.ConnectionStats;
import io.cqlnio.spi.FrameHandler;
import io.cqlnio.spi.ProtocolException;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.TransportException;
import io.cqlnio.spi.WriteListener;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A connection on one {@link EventLoop}: its lifecycle, its interest ops, and the glue between the
 * channel, the {@link FrameWriter} (bytes out) and the {@link FrameReader} (frames in).
 *
 * <p>Lifecycle: OPEN, then CLOSING after {@code close()} (writes refused, accepted frames still flushed),
 * then CLOSED. CLOSED is set at once by {@code abort} so no frame is delivered after it; the socket is
 * closed, the frames failed and {@code onClosed} called exactly once by {@link #closeNow} on the loop.
 */
final class NioConnection implements Connection, FrameReader.Sink {

    private static final Logger LOG = LoggerFactory.getLogger(NioConnection.class);
    private static final AtomicLong IDS = new AtomicLong();

    private static final int OPEN = 0;
    private static final int CLOSING = 1;
    private static final int CLOSED = 2;

    private final long id = IDS.incrementAndGet();
    private final EventLoop loop;
    private final SocketChannel channel;
    private final InetSocketAddress remote;
    private final FrameHandler handler;
    private final FrameWriter writer;
    private final FrameReader reader;
    private final CompletableFuture<Connection> connectFuture;
    private final long connectDeadlineNanos;
    private final CompletableFuture<Void> closeFuture = new CompletableFuture<>();
    private final AtomicInteger state = new AtomicInteger(OPEN);
    private final AtomicLong wakeups = new AtomicLong();
    private final Runnable reportWritability = this::reportWritability;
    private final Runnable closeWhenFlushed = this::closeWhenFlushed;
    private volatile String name;

    // Loop-only state.
    private SelectionKey key;
    private int interestOps;
    private boolean awaitingWritable;
    private boolean reportedWritable = true;
    private boolean handedOut;
    private boolean terminal;

    NioConnection(EventLoop loop, SocketChannel channel, InetSocketAddress remote, FrameHandler handler,
                  CompletableFuture<Connection> connectFuture, long connectDeadlineNanos) {
        TransportConfig config = loop.config;
        this.loop = loop;
        this.channel = channel;
        this.remote = remote;
        this.handler = handler;
        this.connectFuture = connectFuture;
        this.connectDeadlineNanos = connectDeadlineNanos;
        this.name = "cqlnio#" + id + "[-> " + remote + "]";
        this.writer = new FrameWriter(this, loop.entryPool, config.writeHighWatermark(), config.writeLowWatermark(),
                config.maxBytesPerWrite(), config.writeSpinCount());
        this.reader = new FrameReader(this, config.frameCodec(), config.maxFrameLength(), loop.readBuffer,
                loop.readView);
    }

    // ---------------------------------------------------------------- Connection (any thread)

    @Override
    public void write(ByteBuffer frame, WriteListener listener) {
        Objects.requireNonNull(frame, "frame");
        accept(frame, null, listener);
    }

    @Override
    public void write(ByteBuffer[] frameParts, WriteListener listener) {
        Objects.requireNonNull(frameParts, "frameParts");
        for (int i = 0; i < frameParts.length; i++) {
            Objects.requireNonNull(frameParts[i], "frameParts[" + i + "]");
        }
        accept(null, frameParts, listener);
    }

    private void accept(ByteBuffer single, ByteBuffer[] parts, WriteListener listener) {
        if (state.get() != OPEN) {
            refuse(listener);
            return;
        }
        int result = writer.enqueue(single, parts, listener);
        if ((result & FrameWriter.SCHEDULE) != 0 && loop.schedule(this)) {
            wakeups.incrementAndGet();
        }
        if ((result & FrameWriter.BECAME_UNWRITABLE) != 0) {
            loop.execute(reportWritability);
        }
    }

    private void refuse(WriteListener listener) {
        if (listener != null) {
            try {
                listener.onComplete(new ConnectionClosedException("write refused: " + this + " is closed"));
            } catch (Throwable t) {
                LOG.warn("write listener threw on {}; ignored", this, t);
            }
        }
    }

    @Override
    public boolean isWritable() {
        return writer.isWritable();
    }

    @Override
    public long pendingBytes() {
        return writer.pendingBytes();
    }

    @Override
    public CompletableFuture<Void> close() {
        if (state.compareAndSet(OPEN, CLOSING)) {
            loop.execute(closeWhenFlushed);
        }
        return closeFuture.copy();
    }

    @Override
    public void abort(Throwable cause) {
        Throwable why = cause != null ? cause : new ConnectionClosedException("aborted: " + this);
        if (state.getAndSet(CLOSED) != CLOSED) {
            // A task even when called on the loop: we may be inside a listener while the writer walks its
            // frames. CLOSED already stops delivery of inbound frames. A terminated loop closed us already.
            loop.execute(() -> closeNow(why, why));
        }
    }

    @Override
    public boolean isOpen() {
        return state.get() == OPEN;
    }

    @Override
    public InetSocketAddress remoteAddress() {
        return remote;
    }

    @Override
    public ConnectionStats stats() {
        return new ConnectionStats(writer.framesWritten, writer.bytesWritten, reader.framesRead, reader.bytesRead,
                writer.writeCalls, writer.shortWrites, writer.zeroByteWrites, wakeups.get(), writer.pendingBytes());
    }

    @Override
    public String toString() {
        return name;
    }

    // ---------------------------------------------------------------- the loop

    long connectDeadlineNanos() {
        return connectDeadlineNanos;
    }

    void registered(SelectionKey key) {
        this.key = key;
        this.interestOps = key.interestOps();
    }

    /** Loop. OP_CONNECT fired, or connect() finished at once. */
    void finishConnect() {
        try {
            if (!channel.finishConnect()) {
                return;
            }
        } catch (IOException e) {
            failConnect(new TransportException("connect to " + remote + " failed: " + e.getMessage(), e));
            return;
        }
        loop.connectEnded(this);
        try {
            name = "cqlnio#" + id + "[" + channel.getLocalAddress() + " -> " + remote + "]";
        } catch (IOException e) {
            LOG.debug("no local address for {}", this, e);
        }
        setInterest(SelectionKey.OP_READ);
        handedOut = true;
        if (!connectFuture.complete(this)) {
            // The caller gave up on the future (cancelled it): nobody holds this connection.
            handedOut = false;
            closeNow(null, new ConnectionClosedException("connect cancelled: " + this));
        }
    }

    /** Loop. The connect failed or timed out: close without {@code onClosed} (it was never handed out). */
    void failConnect(TransportException cause) {
        loop.connectEnded(this);
        closeNow(cause, cause);
        connectFuture.completeExceptionally(cause);
    }

    /** Loop. A writer handed this connection to the loop, or it yielded its last turn. */
    void flushFromLoop() {
        if (terminal || awaitingWritable) {
            // OP_WRITE will call back; the writer stays held as scheduled meanwhile.
            return;
        }
        FrameWriter.Flush result;
        try {
            result = writer.flush(channel, loop.iov);
        } catch (IOException e) {
            ConnectionClosedException why = new ConnectionClosedException("write failed on " + this + ": "
                    + e.getMessage(), e);
            closeNow(why, why);
            return;
        } catch (RuntimeException e) {
            closeOnError(e);
            return;
        }
        switch (result) {
            case DRAINED:
                setInterest(interestOps & ~SelectionKey.OP_WRITE);
                if (state.get() == CLOSING) {
                    closeNow(null, new ConnectionClosedException(this + " closed"));
                    return;
                }
                break;
            case BLOCKED:
                awaitingWritable = true;
                writer.holdWhileBlocked();
                setInterest(interestOps | SelectionKey.OP_WRITE);
                break;
            case YIELDED:
                if (writer.reschedule()) {
                    loop.scheduleFromLoop(this);
                }
                break;
            default:
                throw new AssertionError(result);
        }
        reportWritability();
    }

    /** Loop. OP_WRITE fired: the kernel has room again. */
    void onWritable() {
        awaitingWritable = false;
        flushFromLoop();
    }

    /** Loop. OP_READ fired. */
    void onReadable() {
        if (terminal) {
            return;
        }
        int n;
        try {
            n = reader.read(channel, this);
        } catch (ProtocolException e) {
            LOG.warn("closing {}: {}", this, e.getMessage());
            closeNow(e, new ConnectionClosedException(this + " closed: " + e.getMessage(), e));
            return;
        } catch (IOException e) {
            ConnectionClosedException why = new ConnectionClosedException("read failed on " + this + ": "
                    + e.getMessage(), e);
            closeNow(why, why);
            return;
        }
        if (n < 0 && !terminal) {
            int carried = reader.carriedBytes();
            ConnectionClosedException why = new ConnectionClosedException(this + " closed by the peer"
                    + (carried > 0 ? " in the middle of a frame (" + carried + " bytes of it received)" : ""));
            closeNow(why, why);
        }
    }

    @Override
    public boolean onFrame(ByteBuffer frame) {
        if (terminal || state.get() == CLOSED) {
            return false;
        }
        try {
            handler.onFrame(this, frame);
        } catch (Throwable t) {
            closeOnError(t);
            return false;
        }
        return !terminal && state.get() != CLOSED;
    }

    /** Loop. A handler, the channel or the loop threw while serving this connection. */
    void closeOnError(Throwable t) {
        if (terminal) {
            LOG.warn("error on closed {}; ignored", this, t);
            return;
        }
        LOG.warn("closing {} after an error", this, t);
        closeNow(t, new ConnectionClosedException(this + " closed: " + t, t));
    }

    /** Loop. The transport is closing: abort with {@code cause}. */
    void closeOnTransportClose(ConnectionClosedException cause) {
        if (!handedOut && !terminal) {
            failConnect(new TransportException("transport closed; cannot connect to " + remote, cause));
        } else {
            closeNow(cause, cause);
        }
    }

    private void closeWhenFlushed() {
        if (!terminal) {
            flushFromLoop();
        }
    }

    private void reportWritability() {
        if (terminal) {
            return;
        }
        Boolean change = writer.writabilityChange(reportedWritable);
        if (change != null) {
            reportedWritable = change;
            try {
                handler.onWritabilityChanged(this, change);
            } catch (Throwable t) {
                closeOnError(t);
            }
        }
    }

    /**
     * Loop. The one way a connection ends: close the socket, fail every unwritten frame with
     * {@code frameCause}, then tell the handler once with {@code closedCause} ({@code null}: graceful).
     */
    void closeNow(Throwable closedCause, Throwable frameCause) {
        if (terminal) {
            return;
        }
        terminal = true;
        state.set(CLOSED);
        if (key != null) {
            key.cancel();
        }
        EventLoop.closeQuietly(channel);
        writer.close(frameCause);
        loop.deregister(this);
        if (handedOut) {
            try {
                handler.onClosed(this, closedCause);
            } catch (Throwable t) {
                LOG.warn("onClosed threw on {}; ignored", this, t);
            }
        }
        closeFuture.complete(null);
    }

    private void setInterest(int ops) {
        if (ops != interestOps && key != null && key.isValid()) {
            key.interestOps(ops);
            interestOps = ops;
        }
    }
}
