package io.cqlnio.nio;

import io.cqlnio.spi.Cancellable;
import io.cqlnio.spi.Connection;
import io.cqlnio.spi.ConnectionClosedException;
import io.cqlnio.spi.ConnectionStats;
import io.cqlnio.spi.FrameHandler;
import io.cqlnio.spi.Framing;
import io.cqlnio.spi.IdleKind;
import io.cqlnio.spi.ProtocolException;
import io.cqlnio.spi.TlsConfig;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.TransportException;
import io.cqlnio.spi.WriteListener;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A connection on one {@link EventLoop}: its lifecycle, its interest ops, and the glue between the
 * channel, the {@link FrameWriter} (bytes out) and the {@link FrameReader} (frames in).
 *
 * <p>Lifecycle: OPEN, then CLOSING after {@code close()} (writes refused, accepted frames still flushed),
 * then CLOSED. CLOSED is set at once by {@code abort} so no frame is delivered after it; the socket is
 * closed, the frames failed and {@code onClosed} called exactly once by {@link #closeNow} on the loop.
 *
 * <p>With TLS, the writer and reader see a {@link TlsChannel} instead of the socket, the handshake runs between
 * the TCP connect and the hand-out (under the same connect timer), and a graceful close ends with close_notify.
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
    /** Null on a plaintext connection. */
    private final TlsChannel tls;
    private final TlsConfig tlsConfig;
    /** What the writer and reader use: the socket, or TLS in front of it. */
    private final GatheringByteChannel out;
    private final ReadableByteChannel in;
    private final InetSocketAddress remote;
    private final FrameHandler handler;
    private final FrameWriter writer;
    private final FrameReader reader;
    private final CompletableFuture<Connection> connectFuture;
    private final long readIdleNanos;
    private final long writeIdleNanos;
    private final CompletableFuture<Void> closeFuture = new CompletableFuture<>();
    private final AtomicInteger state = new AtomicInteger(OPEN);
    private final AtomicLong wakeups = new AtomicLong();
    private final Runnable reportWritability = this::reportWritability;
    private final Runnable closeWhenFlushed = this::closeWhenFlushed;
    private final Runnable checkReadIdle = this::checkReadIdle;
    private final Runnable checkWriteIdle = this::checkWriteIdle;
    private final Runnable applyReadInterest = this::applyReadInterest;
    private final Runnable continueHandshake = this::continueHandshake;
    private final Runnable readBuffered = this::onReadable;
    private volatile boolean readPaused;
    private final java.util.concurrent.atomic.AtomicBoolean switched = new java.util.concurrent.atomic.AtomicBoolean();
    private volatile String name;

    // Loop-only state.
    private SelectionKey key;
    private int interestOps;
    private boolean awaitingWritable;
    private boolean reportedWritable = true;
    private boolean handedOut;
    private boolean terminal;
    private boolean readInterestPaused;
    private boolean handshaking;
    private boolean closeNotifySent;
    private LoopTimer connectTimer;
    private LoopTimer readIdleTimer;
    private LoopTimer writeIdleTimer;
    /** Last inbound frame, or the last READ idle report (nanoTime); loop only. */
    private long readIdleMark;
    private long writeIdleMark;

    NioConnection(EventLoop loop, SocketChannel channel, InetSocketAddress remote, FrameHandler handler,
                  CompletableFuture<Connection> connectFuture) {
        TransportConfig config = loop.config;
        this.loop = loop;
        this.channel = channel;
        this.remote = remote;
        this.handler = handler;
        this.connectFuture = connectFuture;
        this.readIdleNanos = config.readIdleTimeout().toNanos();
        this.writeIdleNanos = config.writeIdleTimeout().toNanos();
        this.name = "cqlnio#" + id + "[-> " + remote + "]";
        this.tlsConfig = config.tls();
        this.tls = tlsConfig == null ? null : new TlsChannel(this, tlsConfig.newEngine(remote), channel, channel);
        this.out = tls == null ? channel : tls;
        this.in = tls == null ? channel : tls;
        this.writer = new FrameWriter(this, loop.entryPool, config.writeHighWatermark(), config.writeLowWatermark(),
                config.maxBytesPerWrite(), config.writeSpinCount(), config.maxPendingBytes());
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
    public javax.net.ssl.SSLSession tlsSession() {
        return tls == null ? null : tls.engine().getSession();
    }

    @Override
    public ConnectionStats stats() {
        return new ConnectionStats(writer.framesWritten, writer.bytesWritten, reader.framesRead, reader.bytesRead,
                writer.writeCalls, writer.shortWrites, writer.zeroByteWrites, wakeups.get(), writer.pendingBytes());
    }

    @Override
    public void execute(Runnable task) {
        loop.execute(Objects.requireNonNull(task, "task"));
    }

    @Override
    public Cancellable schedule(Runnable task, long delay, TimeUnit unit) {
        return loop.schedule(Objects.requireNonNull(task, "task"), unit.toNanos(delay));
    }

    @Override
    public void switchFraming(Framing framing) {
        Objects.requireNonNull(framing, "framing");
        if (framing == Framing.FRAMES) {
            if (switched.get()) {
                throw new IllegalStateException(this + " already carries v5 segments; it cannot switch back");
            }
            return;
        }
        if (!switched.compareAndSet(false, true)) {
            throw new IllegalStateException(this + " already switched to " + framing);
        }
        if (loop.inLoop()) {
            reader.switchToSegments(); // exact: from the byte after the frame being delivered
        } else {
            loop.execute(reader::switchToSegments);
        }
        int result = writer.enqueueSwitchToSegments();
        if ((result & FrameWriter.SCHEDULE) != 0 && loop.schedule(this)) {
            wakeups.incrementAndGet();
        }
    }

    @Override
    public void pauseReading() {
        if (!readPaused) {
            readPaused = true;
            loop.execute(applyReadInterest);
        }
    }

    @Override
    public void resumeReading() {
        if (readPaused) {
            readPaused = false;
            loop.execute(applyReadInterest);
        }
    }

    @Override
    public String toString() {
        return name;
    }

    // ---------------------------------------------------------------- the loop

    void connectTimer(LoopTimer timer) {
        this.connectTimer = timer;
    }

    /** Loop. The connect timer fired first. */
    void connectTimedOut() {
        if (!handedOut && !terminal) {
            failConnect(new TransportException(handshaking
                    ? "TLS handshake with " + remote + " did not finish within connectTimeout ("
                            + loop.config.connectTimeout().toMillis() + " ms, connect and handshake together) on " + this
                    : "connect to " + remote + " timed out after " + loop.config.connectTimeout().toMillis() + " ms"));
        }
    }

    SelectionKey key() {
        return key;
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
        try {
            name = "cqlnio#" + id + "[" + channel.getLocalAddress() + " -> " + remote + (tls != null ? " tls" : "")
                    + "]";
        } catch (IOException e) {
            LOG.debug("no local address for {}", this, e);
        }
        if (tls == null) {
            connected();
            return;
        }
        handshaking = true;
        try {
            tls.beginHandshake();
        } catch (IOException | RuntimeException e) {
            failConnect(new TransportException("TLS handshake with " + remote + " could not start on " + this + ": "
                    + e.getMessage(), e));
            return;
        }
        continueHandshake();
    }

    /**
     * Loop. Drives the TLS handshake as far as it goes now; called again on OP_READ, OP_WRITE, or when the
     * engine's delegated tasks are done. The connect timer keeps running: it covers the handshake too.
     */
    private void continueHandshake() {
        if (terminal) {
            return;
        }
        TlsChannel.Handshake step;
        try {
            step = tls.handshake();
            if (step == TlsChannel.Handshake.NEED_TASKS) {
                setInterest(0);
                tls.runDelegatedTasks(tlsConfig.delegatedTaskExecutor(), () -> loop.execute(continueHandshake));
                return;
            }
        } catch (IOException | RuntimeException e) {
            tls.sendAlertQuietly();
            failConnect(new TransportException("TLS handshake with " + remote + " failed on " + this + ": "
                    + e.getMessage(), e));
            return;
        }
        switch (step) {
            case NEED_READ:
                setInterest(SelectionKey.OP_READ);
                break;
            case NEED_WRITE:
                setInterest(SelectionKey.OP_WRITE);
                break;
            default:
                handshaking = false;
                LOG.debug("{}: {} {}", this, tls.engine().getSession().getProtocol(),
                        tls.engine().getSession().getCipherSuite());
                connected();
                readAgainIfTlsHoldsInput(); // the peer's first records may have come with its last handshake flight
                break;
        }
    }

    /** Loop. Connected (and, with TLS, the handshake done): start reading and hand the connection out. */
    private void connected() {
        cancelTimer(connectTimer);
        setInterest(readPaused ? 0 : SelectionKey.OP_READ);
        readInterestPaused = readPaused;
        long now = System.nanoTime();
        readIdleMark = now;
        writeIdleMark = now;
        if (readIdleNanos > 0) {
            readIdleTimer = loop.schedule(checkReadIdle, readIdleNanos);
        }
        if (writeIdleNanos > 0) {
            writeIdleTimer = loop.schedule(checkWriteIdle, writeIdleNanos);
        }
        handedOut = true;
        if (!connectFuture.complete(this)) {
            // The caller gave up on the future (cancelled it): nobody holds this connection.
            handedOut = false;
            closeNow(null, new ConnectionClosedException("connect cancelled: " + this));
        }
    }

    /** Loop. The connect failed or timed out: close without {@code onClosed} (it was never handed out). */
    void failConnect(TransportException cause) {
        closeNow(cause, cause);
    }

    /** Loop. A writer handed this connection to the loop, or it yielded its last turn. */
    void flushFromLoop() {
        if (terminal || awaitingWritable || handshaking) {
            // OP_WRITE will call back; the writer stays held as scheduled meanwhile.
            return;
        }
        if (closeNotifySent) {
            finishCloseNotify();
            return;
        }
        if (key != null && !key.isValid()) {
            // Someone cancelled our key: no readiness event will ever come again, so end cleanly now.
            ConnectionClosedException why = new ConnectionClosedException("selection key of " + this
                    + " was cancelled");
            closeNow(why, why);
            return;
        }
        FrameWriter.Flush result;
        long framesBefore = writer.framesWritten;
        try {
            result = writer.flush(out, loop.iov);
        } catch (IOException e) {
            ConnectionClosedException why = new ConnectionClosedException("write failed on " + this + ": "
                    + e.getMessage(), e);
            closeNow(why, why);
            return;
        } catch (RuntimeException e) {
            closeOnError(e);
            return;
        }
        if (writeIdleNanos > 0 && writer.framesWritten != framesBefore) {
            writeIdleMark = System.nanoTime();
        }
        switch (result) {
            case DRAINED:
                setInterest(interestOps & ~SelectionKey.OP_WRITE);
                if (state.get() == CLOSING) {
                    if (tls != null) {
                        sendCloseNotify();
                    } else {
                        closeNow(null, new ConnectionClosedException(this + " closed"));
                    }
                    return;
                }
                break;
            case BLOCKED:
                awaitingWritable = true;
                writer.holdWhileBlocked();
                setInterest(interestOps | SelectionKey.OP_WRITE);
                break;
            case YIELDED:
                // Served again from the dirty queue next turn; OP_WRITE too would serve it twice per turn.
                setInterest(interestOps & ~SelectionKey.OP_WRITE);
                if (writer.reschedule()) {
                    loop.scheduleFromLoop(this);
                }
                break;
            default:
                throw new AssertionError(result);
        }
        reportWritability();
    }

    /**
     * Loop. Every frame is written: tell the peer with close_notify that the stream ends here, not by
     * truncation, then close.
     */
    private void sendCloseNotify() {
        closeNotifySent = true;
        // Nothing may follow close_notify: a producer that passed the OPEN check just before close() is refused
        // now, as if it had come a moment later, instead of failing the wrap and the graceful close with it.
        // From here the loop no longer flushes the writer (a closed writer's queue belongs to its producers).
        writer.close(new ConnectionClosedException("write refused: " + this + " is closing"));
        try {
            tls.closeOutbound();
        } catch (IOException | RuntimeException e) {
            LOG.debug("close_notify not made on {}", this, e); // closing anyway; the peer sees the end of stream
        }
        finishCloseNotify();
    }

    /** Loop. Writes what is left of close_notify, waiting for OP_WRITE if need be; then the socket closes. */
    private void finishCloseNotify() {
        try {
            if (!tls.flushCiphertext()) {
                awaitingWritable = true;
                setInterest(interestOps | SelectionKey.OP_WRITE);
                return;
            }
        } catch (IOException | RuntimeException e) {
            LOG.debug("close_notify not sent on {}", this, e);
        }
        closeNow(null, new ConnectionClosedException(this + " closed"));
    }

    /** Loop. OP_WRITE fired: the kernel has room again. */
    void onWritable() {
        if (handshaking) {
            continueHandshake();
            return;
        }
        awaitingWritable = false;
        flushFromLoop();
    }

    /** Loop. OP_READ fired. */
    void onReadable() {
        if (terminal) {
            return;
        }
        if (handshaking) {
            continueHandshake();
            return;
        }
        if (readInterestPaused) {
            return; // a readiness event raced the pause; the bytes stay in the kernel
        }
        int n;
        long framesBefore = reader.framesRead;
        try {
            n = reader.read(in, this);
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
        if (readIdleNanos > 0 && reader.framesRead != framesBefore) {
            readIdleMark = System.nanoTime();
        }
        if (readPaused && !readInterestPaused && !terminal) {
            applyReadInterest(); // paused from inside onFrame: stop now, not a loop turn later
        }
        if (tls != null && n >= 0 && !terminal) {
            readAgainIfTlsHoldsInput();
            if (tls.hasCiphertext() && !awaitingWritable) {
                flushFromLoop(); // a TLS 1.3 key update reply waits behind no frame
            }
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
        return !terminal && state.get() != CLOSED && !readPaused;
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

    /** Loop. Makes OP_READ follow {@code readPaused}; on resume, first delivers what was held. */
    private void applyReadInterest() {
        if (terminal || !handedOut) {
            return;
        }
        boolean pause = readPaused;
        if (pause == readInterestPaused) {
            return;
        }
        if (pause) {
            readInterestPaused = true;
            setInterest(interestOps & ~SelectionKey.OP_READ);
            return;
        }
        readInterestPaused = false;
        long framesBefore = reader.framesRead;
        boolean drained;
        try {
            drained = reader.resume(this);
        } catch (ProtocolException e) {
            closeNow(e, new ConnectionClosedException(this + " closed: " + e.getMessage(), e));
            return;
        }
        if (readIdleNanos > 0 && reader.framesRead != framesBefore) {
            readIdleMark = System.nanoTime();
        }
        if (terminal) {
            return;
        }
        if (!drained || readPaused) {
            readInterestPaused = true; // paused again while delivering what was held
            return;
        }
        setInterest(interestOps | SelectionKey.OP_READ);
        readAgainIfTlsHoldsInput();
    }

    /**
     * Loop. No readiness event announces what TLS holds already read (whole records, plaintext, the peer's
     * close_notify): while reading is on, come back for it in a task.
     */
    private void readAgainIfTlsHoldsInput() {
        if (tls != null && !terminal && !readInterestPaused && tls.hasBufferedInput()) {
            loop.execute(readBuffered);
        }
    }

    private void checkReadIdle() {
        readIdleTimer = checkIdle(IdleKind.READ, readIdleMark, readIdleNanos, checkReadIdle);
    }

    private void checkWriteIdle() {
        writeIdleTimer = checkIdle(IdleKind.WRITE, writeIdleMark, writeIdleNanos, checkWriteIdle);
    }

    /** Loop. Reports idleness if {@code mark} is a whole timeout old, and re-arms for the next possible moment. */
    private LoopTimer checkIdle(IdleKind kind, long mark, long timeoutNanos, Runnable again) {
        if (terminal) {
            return null;
        }
        long now = System.nanoTime();
        long quiet = now - mark;
        if (quiet < timeoutNanos) {
            return loop.schedule(again, timeoutNanos - quiet);
        }
        if (kind == IdleKind.READ) {
            readIdleMark = now;
        } else {
            writeIdleMark = now;
        }
        LoopTimer next = loop.schedule(again, timeoutNanos);
        try {
            handler.onIdle(this, kind);
        } catch (Throwable t) {
            closeOnError(t);
        }
        return next;
    }

    private static void cancelTimer(LoopTimer timer) {
        if (timer != null) {
            timer.cancel();
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
        cancelTimer(connectTimer);
        cancelTimer(readIdleTimer);
        cancelTimer(writeIdleTimer);
        if (key != null) {
            key.cancel();
        }
        EventLoop.closeQuietly(channel);
        writer.close(frameCause);
        loop.deregister(this);
        if (!handedOut) {
            // Never handed out: the connect future is the only one waiting (no-op if it already completed).
            connectFuture.completeExceptionally(closedCause instanceof TransportException
                    ? closedCause
                    : new TransportException("connect to " + remote + " did not complete: " + this + " closed",
                            closedCause));
        }
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
