package io.cqlnio.nio;

import io.cqlnio.spi.Cancellable;
import io.cqlnio.spi.Connection;
import io.cqlnio.spi.ConnectionClosedException;
import io.cqlnio.spi.ConnectionStats;
import io.cqlnio.spi.FrameHandler;
import io.cqlnio.spi.Framing;
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
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongFieldUpdater;
import java.util.concurrent.atomic.AtomicReferenceFieldUpdater;

/**
 * A connection on one loop: the SPI's {@link Connection} on the caller's side, a {@link LoopMember} on the
 * loop's, and the glue between its {@link Wire}, its writer ({@link FrameQueue} in, {@link FrameWriter} out) and
 * its {@link FrameReader}. Its lifecycle is a {@link ConnectionState}; every move goes through {@link #moveTo}.
 *
 * <p>Threads: the {@code Connection} methods are safe from any thread; everything else runs on the loop.
 * With TLS, the handshake ({@link TlsSteps}) runs between the TCP connect and the hand-out, under the same
 * connect timer, and a graceful close ends with close_notify.
 */
final class NioConnection implements Connection, LoopMember, FrameReader.Sink, TlsSteps.Host {

    private static final Logger LOG = LoggerFactory.getLogger(NioConnection.class);
    private static final AtomicLong IDS = new AtomicLong();
    private static final AtomicReferenceFieldUpdater<NioConnection, ConnectionState> STATE =
            AtomicReferenceFieldUpdater.newUpdater(NioConnection.class, ConnectionState.class, "state");
    private static final AtomicLongFieldUpdater<NioConnection> WAKEUPS =
            AtomicLongFieldUpdater.newUpdater(NioConnection.class, "wakeups");

    private final long id = IDS.incrementAndGet();
    private final Loop loop;
    private final LoopResources resources;
    private final SocketChannel channel;
    private final InetSocketAddress remote;
    private final FrameHandler handler;
    /** The socket, or TLS in front of it. */
    private final Wire wire;
    /** Null on a plaintext connection. */
    private final TlsSteps tls;
    private final FrameQueue queue;
    private final FrameWriter writer;
    private final FrameReader reader;
    /** Null unless an idle timeout is configured. */
    private final IdleTimers idle;
    private final CompletableFuture<Connection> connectFuture;
    private final CompletableFuture<Void> closeFuture = new CompletableFuture<>();
    private volatile ConnectionState state = ConnectionState.CONNECTING;
    private volatile long wakeups;
    private volatile boolean readPaused;
    private volatile boolean switchedFraming;
    private volatile String name;
    private Runnable reportWritability;
    private Runnable applyReadInterest;
    private Runnable readAgain;

    // Loop-only state.
    private SelectionKey key;
    private int interestOps;
    private boolean awaitingWritable;
    private boolean reportedWritable = true;
    private boolean readInterestPaused;
    /** Set once {@link #closeNow} has started: the socket is released and the handler told, once. */
    private boolean tornDown;
    private Cancellable connectTimer;

    NioConnection(Loop loop, LoopResources resources, SocketChannel channel, InetSocketAddress remote,
                  FrameHandler handler, CompletableFuture<Connection> connectFuture) {
        TransportConfig config = resources.config;
        this.loop = loop;
        this.resources = resources;
        this.channel = channel;
        this.remote = remote;
        this.handler = handler;
        this.connectFuture = connectFuture;
        this.name = "cqlnio#" + id + "[-> " + remote + "]";
        TlsConfig tlsConfig = config.tls();
        this.tls = tlsConfig == null ? null : new TlsSteps(this, loop, tlsConfig, remote, channel);
        this.wire = tls == null ? new SocketWire(channel, channel) : tls.wire;
        this.queue = new FrameQueue(this, resources.entryPool, config.writeHighWatermark(),
                config.writeLowWatermark(), config.maxPendingBytes());
        this.writer = new FrameWriter(queue, config.maxBytesPerWrite(), config.writeSpinCount());
        this.reader = new FrameReader(this, config.frameCodec(), config.maxFrameLength(), resources.readBuffer,
                resources.readView);
        this.idle = IdleTimers.create(loop, this, this, handler, config.readIdleTimeout().toNanos(),
                config.writeIdleTimeout().toNanos());
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
        if (state != ConnectionState.OPEN) {
            WriteEntry.notify(listener, new ConnectionClosedException("write refused: " + this + " is closed"), this);
            return;
        }
        handOver(queue.offer(single, parts, listener));
    }

    /** Acts on what an offer to the queue said: the writer was claimed, or the connection became unwritable. */
    private void handOver(int offered) {
        if ((offered & FrameQueue.CLAIMED) != 0 && loop.markDirty(this)) {
            WAKEUPS.incrementAndGet(this);
        }
        if ((offered & FrameQueue.BECAME_UNWRITABLE) != 0) {
            if (reportWritability == null) {
                reportWritability = this::reportWritability; // benign race: any copy does the same
            }
            loop.execute(reportWritability);
        }
    }

    @Override
    public boolean isWritable() {
        return queue.isWritable();
    }

    @Override
    public long pendingBytes() {
        return queue.pendingBytes();
    }

    @Override
    public CompletableFuture<Void> close() {
        if (moveTo(ConnectionState.OPEN, ConnectionState.CLOSING)) {
            loop.execute(this::closeWhenFlushed);
        }
        return closeFuture.copy();
    }

    @Override
    public void abort(Throwable cause) {
        Throwable why = cause != null ? cause : new ConnectionClosedException("aborted: " + this);
        if (STATE.getAndSet(this, ConnectionState.CLOSED) != ConnectionState.CLOSED) {
            // A task even when called on the loop: we may be inside a listener while the writer walks its
            // frames. CLOSED already stops delivery of inbound frames. A terminated loop closed us already.
            loop.execute(() -> closeNow(why, why));
        }
    }

    @Override
    public boolean isOpen() {
        return state == ConnectionState.OPEN;
    }

    @Override
    public InetSocketAddress remoteAddress() {
        return remote;
    }

    @Override
    public javax.net.ssl.SSLSession tlsSession() {
        return tls == null ? null : tls.session();
    }

    @Override
    public ConnectionStats stats() {
        return new ConnectionStats(writer.framesWritten, writer.bytesWritten, reader.framesRead, reader.bytesRead,
                writer.writeCalls, writer.shortWrites, writer.zeroByteWrites, wakeups, queue.pendingBytes());
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
            if (switchedFraming) {
                throw new IllegalStateException(this + " already carries v5 segments; it cannot switch back");
            }
            return;
        }
        synchronized (this) { // once per connection, never on a hot path
            if (switchedFraming) {
                throw new IllegalStateException(this + " already switched to " + framing);
            }
            switchedFraming = true;
        }
        if (loop.inLoop()) {
            reader.switchToSegments(); // exact: from the byte after the frame being delivered
        } else {
            loop.execute(reader::switchToSegments);
        }
        handOver(queue.offerSwitchToSegments());
    }

    @Override
    public void pauseReading() {
        if (!readPaused) {
            readPaused = true;
            loop.execute(applyReadInterest());
        }
    }

    @Override
    public void resumeReading() {
        if (readPaused) {
            readPaused = false;
            loop.execute(applyReadInterest());
        }
    }

    private Runnable applyReadInterest() {
        if (applyReadInterest == null) {
            applyReadInterest = this::applyReadInterestNow; // benign race: any copy does the same
        }
        return applyReadInterest;
    }

    @Override
    public String toString() {
        return name;
    }

    // ---------------------------------------------------------------- lifecycle

    /** Moves from {@code from} to {@code to} if the connection is still in {@code from}. */
    private boolean moveTo(ConnectionState from, ConnectionState to) {
        assert from.canMoveTo(to) : from + " -> " + to;
        return STATE.compareAndSet(this, from, to);
    }

    /** Loop. For tests that end a connection the way a foreign cancel would. */
    SelectionKey key() {
        return key;
    }

    ConnectionState state() {
        return state;
    }

    /** Loop. The TCP connect (and TLS handshake, if any) began: the connect timer covers both. */
    void connecting(SelectionKey key, Cancellable connectTimer) {
        this.key = key;
        this.interestOps = key.interestOps();
        this.connectTimer = connectTimer;
    }

    /** Loop. The connect timer fired first. */
    void connectTimedOut() {
        ConnectionState now = state;
        if (now.isConnecting()) {
            long millis = resources.config.connectTimeout().toMillis();
            failConnect(new TransportException(now == ConnectionState.HANDSHAKING
                    ? "TLS handshake with " + remote + " did not finish within connectTimeout (" + millis
                            + " ms, connect and handshake together) on " + this
                    : "connect to " + remote + " timed out after " + millis + " ms"));
        }
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
        } else if (moveTo(ConnectionState.CONNECTING, ConnectionState.HANDSHAKING)) {
            tls.beginHandshake();
        }
    }

    /** Loop. Connected (and, with TLS, the handshake done): start reading and hand the connection out. */
    void connected() {
        Cancellable timer = connectTimer;
        if (timer != null) {
            timer.cancel();
        }
        if (!moveTo(state, ConnectionState.OPEN)) {
            return;
        }
        setInterest(readPaused ? 0 : SelectionKey.OP_READ);
        readInterestPaused = readPaused;
        if (idle != null) {
            idle.start();
        }
        if (!connectFuture.complete(this)) {
            // The caller gave up on the future (cancelled it): nobody holds this connection.
            closeNow(null, new ConnectionClosedException("connect cancelled: " + this));
        }
    }

    @Override
    public void handshakeDone() {
        connected();
        readAgainIfTlsHoldsInput(); // the peer's first records may have come with its last handshake flight
    }

    /** Loop. The connect failed or timed out: close without {@code onClosed} (it was never handed out). */
    @Override
    public void failConnect(TransportException cause) {
        closeNow(cause, cause);
    }

    private boolean handedOut() {
        return connectFuture.isDone() && !connectFuture.isCompletedExceptionally();
    }

    /**
     * Loop. The one way a connection ends: close the socket, fail every unwritten frame with
     * {@code frameCause}, then tell the handler once with {@code closedCause} ({@code null}: graceful).
     */
    void closeNow(Throwable closedCause, Throwable frameCause) {
        if (tornDown) {
            return;
        }
        tornDown = true;
        boolean wasConnecting = STATE.getAndSet(this, ConnectionState.CLOSED).isConnecting();
        if (connectTimer != null) {
            connectTimer.cancel();
        }
        if (idle != null) {
            idle.stop();
        }
        if (key != null) {
            key.cancel();
        }
        try {
            channel.close();
        } catch (IOException e) {
            LOG.debug("close of {} failed", this, e);
        }
        writer.close(frameCause);
        loop.deregister(this);
        if (wasConnecting || !handedOut()) {
            // Never handed out: the connect future is the only one waiting (no-op if it already completed).
            connectFuture.completeExceptionally(closedCause instanceof TransportException
                    ? closedCause
                    : new TransportException("connect to " + remote + " did not complete: " + this + " closed",
                            closedCause));
        } else {
            try {
                handler.onClosed(this, closedCause);
            } catch (Throwable t) {
                LOG.warn("onClosed threw on {}; ignored", this, t);
            }
        }
        closeFuture.complete(null);
    }

    @Override
    public void closeOnError(Throwable t) {
        if (tornDown) {
            LOG.warn("error on closed {}; ignored", this, t);
            return;
        }
        LOG.warn("closing {} after an error", this, t);
        closeNow(t, new ConnectionClosedException(this + " closed: " + t, t));
    }

    @Override
    public void closeOnTransportClose(ConnectionClosedException cause) {
        if (state.isConnecting()) {
            failConnect(new TransportException("transport closed; cannot connect to " + remote, cause));
        } else {
            closeNow(cause, cause);
        }
    }

    private void closeWhenFlushed() {
        if (!tornDown) {
            flushFromLoop();
        }
    }

    // ---------------------------------------------------------------- the loop: readiness

    @Override
    public void rekeyed(SelectionKey key) {
        this.key = key;
        this.interestOps = key.interestOps();
    }

    @Override
    public void onSelected(int readyOps) {
        if ((readyOps & SelectionKey.OP_CONNECT) != 0) {
            finishConnect();
            return;
        }
        // Writes first: they free memory, and a reply read below may want to write at once.
        if ((readyOps & SelectionKey.OP_WRITE) != 0) {
            onWritable();
        }
        if ((readyOps & SelectionKey.OP_READ) != 0) {
            onReadable();
        }
    }

    private void onWritable() {
        if (state == ConnectionState.HANDSHAKING) {
            tls.continueHandshake();
            return;
        }
        awaitingWritable = false;
        flushFromLoop();
    }

    // ---------------------------------------------------------------- the loop: writes

    /** Loop. The writer was handed to the loop, or it yielded its last turn. */
    @Override
    public void flushFromLoop() {
        ConnectionState now = state;
        if (now == ConnectionState.CLOSED || awaitingWritable || now.isConnecting()) {
            return; // OP_WRITE will call back; the writer stays claimed meanwhile
        }
        if (tls != null && tls.closeNotifyStarted()) {
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
            result = writer.flush(wire, resources.iov);
        } catch (IOException e) {
            ConnectionClosedException why = new ConnectionClosedException("write failed on " + this + ": "
                    + e.getMessage(), e);
            closeNow(why, why);
            return;
        } catch (RuntimeException e) {
            closeOnError(e);
            return;
        }
        if (idle != null && writer.framesWritten != framesBefore) {
            idle.framesWritten();
        }
        switch (result) {
            case DRAINED:
                setInterest(interestOps & ~SelectionKey.OP_WRITE);
                if (state == ConnectionState.CLOSING) {
                    closeGracefully();
                    return;
                }
                break;
            case BLOCKED:
                awaitingWritable = true;
                queue.holdClaim();
                setInterest(interestOps | SelectionKey.OP_WRITE);
                break;
            default: // YIELDED: served again from the dirty queue next turn; OP_WRITE too would serve it twice
                setInterest(interestOps & ~SelectionKey.OP_WRITE);
                if (queue.reclaim()) {
                    loop.markDirty(this);
                }
                break;
        }
        reportWritability();
    }

    /** Loop. Every accepted frame is written: close, after close_notify under TLS. */
    private void closeGracefully() {
        if (tls == null) {
            closeNow(null, new ConnectionClosedException(this + " closed"));
            return;
        }
        // Nothing may follow close_notify: a producer that passed the OPEN check just before close() is refused
        // now, as if it had come a moment later. From here the loop no longer flushes the writer.
        writer.close(new ConnectionClosedException("write refused: " + this + " is closing"));
        tls.startCloseNotify();
        finishCloseNotify();
    }

    /** Loop. Writes what is left of close_notify, waiting for OP_WRITE if need be; then the socket closes. */
    private void finishCloseNotify() {
        if (!tls.flushCloseNotify()) {
            awaitingWritable = true;
            setInterest(interestOps | SelectionKey.OP_WRITE);
            return;
        }
        closeNow(null, new ConnectionClosedException(this + " closed"));
    }

    private void reportWritability() {
        if (tornDown) {
            return;
        }
        Boolean change = queue.writabilityChange(reportedWritable);
        if (change != null) {
            reportedWritable = change;
            try {
                handler.onWritabilityChanged(this, change);
            } catch (Throwable t) {
                closeOnError(t);
            }
        }
    }

    // ---------------------------------------------------------------- the loop: reads

    private void onReadable() {
        if (tornDown) {
            return;
        }
        if (state == ConnectionState.HANDSHAKING) {
            tls.continueHandshake();
            return;
        }
        if (readInterestPaused) {
            return; // a readiness event raced the pause; the bytes stay in the kernel
        }
        int n;
        long framesBefore = reader.framesRead;
        try {
            n = reader.read(wire, this);
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
        if (idle != null && reader.framesRead != framesBefore) {
            idle.framesRead();
        }
        if (readPaused && !readInterestPaused && !tornDown) {
            applyReadInterestNow(); // paused from inside onFrame: stop now, not a loop turn later
        }
        if (tls != null && n >= 0 && !tornDown) {
            readAgainIfTlsHoldsInput();
            if (wire.hasBacklog() && !awaitingWritable) {
                flushFromLoop(); // a TLS 1.3 key update reply waits behind no frame
            }
        }
        if (n < 0 && !tornDown) {
            int carried = reader.carriedBytes();
            ConnectionClosedException why = new ConnectionClosedException(this + " closed by the peer"
                    + (carried > 0 ? " in the middle of a frame (" + carried + " bytes of it received)" : ""));
            closeNow(why, why);
        }
    }

    @Override
    public boolean onFrame(ByteBuffer frame) {
        if (tornDown || state == ConnectionState.CLOSED) {
            return false;
        }
        try {
            handler.onFrame(this, frame);
        } catch (Throwable t) {
            closeOnError(t);
            return false;
        }
        return !tornDown && state != ConnectionState.CLOSED && !readPaused;
    }

    /** Loop. Makes OP_READ follow {@code readPaused}; on resume, first delivers what was held. */
    private void applyReadInterestNow() {
        if (tornDown || state.isConnecting()) {
            return;
        }
        boolean pause = readPaused;
        if (pause == readInterestPaused) {
            return;
        }
        readInterestPaused = pause;
        if (pause) {
            setInterest(interestOps & ~SelectionKey.OP_READ);
            return;
        }
        long framesBefore = reader.framesRead;
        boolean drained;
        try {
            drained = reader.resume(this);
        } catch (ProtocolException e) {
            closeNow(e, new ConnectionClosedException(this + " closed: " + e.getMessage(), e));
            return;
        }
        if (idle != null && reader.framesRead != framesBefore) {
            idle.framesRead();
        }
        if (tornDown) {
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
    void readAgainIfTlsHoldsInput() {
        if (tls != null && !tornDown && !readInterestPaused && tls.hasBufferedInput()) {
            if (readAgain == null) {
                readAgain = this::onReadable;
            }
            loop.execute(readAgain);
        }
    }

    @Override
    public void setInterest(int ops) {
        if (ops != interestOps && key != null && key.isValid()) {
            key.interestOps(ops);
            interestOps = ops;
        }
    }
}
