package io.cqlnio.nio;

import io.cqlnio.spi.Cancellable;
import io.cqlnio.spi.Connection;
import io.cqlnio.spi.ConnectionClosedException;
import io.cqlnio.spi.ConnectionStats;
import io.cqlnio.spi.FrameHandler;
import io.cqlnio.spi.Framing;
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
final class NioConnection implements Connection, ConnectionControl {

    private static final Logger LOG = LoggerFactory.getLogger(NioConnection.class);
    private static final AtomicLong IDS = new AtomicLong();
    /** At the drain deadline, more unread input than this is a peer still talking: close on it regardless. */
    private static final long MAX_DISCARD = 16L << 20;
    private static final AtomicReferenceFieldUpdater<NioConnection, ConnectionState> STATE =
            AtomicReferenceFieldUpdater.newUpdater(NioConnection.class, ConnectionState.class, "state");

    private final long id = IDS.incrementAndGet();
    private final Loop loop;
    private final LoopResources resources;
    private final SocketChannel channel;
    private final InetSocketAddress remote;
    private final FrameHandler handler;
    /** Null on a plaintext connection. */
    private final TlsSteps tls;
    private final FrameQueue queue;
    /** Null when {@code checkOutboundFrames} is off. */
    private final OutboundFrameCheck check;
    private final WriteSide writes;
    private final ReadSide reads;
    /** Null unless an idle timeout is configured. */
    private final IdleTimers idle;
    private final CompletableFuture<Connection> connectFuture;
    private final CompletableFuture<Void> closeFuture = new CompletableFuture<>();
    private volatile ConnectionState state = ConnectionState.CONNECTING;
    private volatile boolean switchedFraming;
    private volatile String name;

    // Loop-only state.
    private SelectionKey key;
    private int interestOps;
    /** Set once {@link #closeNow} has started: the socket is released and the handler told, once. */
    private boolean tornDown;
    private Cancellable connectTimer;
    private Cancellable drainTimer;

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
        Wire wire = tls == null ? new SocketWire(channel, channel) : tls.wire;
        this.queue = new FrameQueue(this, resources.entryPool, config.writeHighWatermark(),
                config.writeLowWatermark(), config.maxPendingBytes());
        this.check = config.checkOutboundFrames() ? new OutboundFrameCheck(config.frameCodec()) : null;
        this.idle = IdleTimers.create(loop, this, this, handler, config.readIdleTimeout().toNanos(),
                config.writeIdleTimeout().toNanos());
        this.writes = new WriteSide(this, this, handler, loop, wire, tls, idle, resources.iov, resources.callerIovs,
                config.writeThroughQuietTime().toNanos(), queue,
                new FrameWriter(queue, config.maxBytesPerWrite(), config.writeSpinCount()));
        this.reads = new ReadSide(this, this, handler, loop, wire, tls, idle, new FrameReader(this,
                config.frameCodec(), config.maxFrameLength(), resources.readBuffer, resources.readView));
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
        if (check != null) {
            check.check(single, parts, this);
        }
        if (state != ConnectionState.OPEN) {
            WriteEntry.notify(listener, new ConnectionClosedException("write refused: " + this + " is closed"), this);
            return;
        }
        writes.handOver(queue.offer(single, parts, listener));
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
        FrameWriter w = writes.writer;
        FrameReader r = reads.reader;
        return new ConnectionStats(w.framesWritten, w.bytesWritten, r.framesRead, r.bytesRead, w.writeCalls,
                w.shortWrites, w.zeroByteWrites, writes.wakeups(), queue.pendingBytes());
    }

    /** Any thread. Writes a caller made itself (write-through): a seam for tests and stats. */
    long writesThrough() {
        return writes.writesThrough();
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
        // Before anything changes: without lz4-java this throws, naming the artifact, and the connection is as it was.
        Lz4Codec lz4 = framing == Framing.V5_SEGMENTS_LZ4 ? Lz4Dependency.codec(this) : null;
        synchronized (this) { // once per connection, never on a hot path
            if (switchedFraming) {
                throw new IllegalStateException(this + " already switched to " + framing);
            }
            switchedFraming = true;
        }
        reads.switchToSegments(lz4);
        if (loop.inLoop()) {
            writes.handOver(queue.offerSwitchToSegments(lz4));
        } else {
            writes.handOverToLoop(queue.offerSwitchToSegments(lz4));
        }
    }

    @Override
    public void pauseReading() {
        reads.pause();
    }

    @Override
    public void resumeReading() {
        reads.resume();
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

    /** Loop. Seams for tests: the key (to cancel it as a foreign thread would) and the read side. */
    SelectionKey key() {
        return key;
    }

    ReadSide reads() {
        return reads;
    }

    @Override
    public ConnectionState state() {
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
        reads.start();
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
        reads.readAgainIfTlsHoldsInput(); // the peer's first records may have come with its last handshake flight
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
    @Override
    public void closeNow(Throwable closedCause, Throwable frameCause) {
        if (tornDown) {
            return;
        }
        tornDown = true;
        boolean wasConnecting = STATE.getAndSet(this, ConnectionState.CLOSED).isConnecting();
        if (connectTimer != null) {
            connectTimer.cancel();
        }
        if (drainTimer != null) {
            drainTimer.cancel();
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
        writes.writer.close(frameCause);
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
        ConnectionState now = state;
        if (now.isConnecting()) {
            failConnect(new TransportException("transport closed; cannot connect to " + remote, cause));
        } else {
            if (now == ConnectionState.DRAINING && !tornDown) {
                dropUnread(); // every frame is with the kernel: do not let a reset destroy them now
            }
            closeNow(cause, cause);
        }
    }

    /**
     * Loop. Every accepted frame is with the kernel: FIN goes out behind them, and the socket stays open for reading
     * until the peer ends its side or the drain deadline passes. Closing it now could be worse than rude: a socket
     * closed with unread bytes in its receive queue (a reply already on its way, say) makes Linux send a reset,
     * and a reset discards what is still in our send queue, frames whose listeners have heard "written".
     */
    @Override
    public void halfClose() {
        if (tornDown || !moveTo(ConnectionState.CLOSING, ConnectionState.DRAINING)) {
            return; // aborted meanwhile: closeNow is on its way
        }
        if (idle != null) {
            idle.stop(); // a heartbeat now would be refused, and a driver may take that for a dead connection
        }
        setInterest(interestOps & ~SelectionKey.OP_WRITE); // a socket whose output is shut is always writable
        try {
            channel.shutdownOutput();
        } catch (IOException e) {
            ConnectionClosedException why = new ConnectionClosedException("half-close of " + this + " failed: "
                    + e.getMessage(), e);
            closeNow(why, why);
            return;
        }
        long nanos = resources.config.closeDrainTimeout().toNanos();
        if (nanos == 0) {
            finishDrain();
        } else {
            drainTimer = loop.schedule(this::drainTimedOut, nanos);
        }
    }

    /**
     * Loop. The peer has not ended its side in time (or reading is paused, so its end cannot be seen).
     * Package-private: a test replays it racing an abort.
     */
    void drainTimedOut() {
        if (state == ConnectionState.DRAINING) { // not CLOSED: an abort is on its way with its own cause
            LOG.debug("{}: the peer did not end its side within closeDrainTimeout ({} ms)", this,
                    resources.config.closeDrainTimeout().toMillis());
            finishDrain();
        }
    }

    /** Loop. The drain is over (the peer's end of stream, or the deadline): the graceful close completes. */
    @Override
    public void finishDrain() {
        if (!tornDown) {
            dropUnread();
            closeNow(null, new ConnectionClosedException(this + " closed"));
        }
    }

    /**
     * Loop, the socket about to close: whatever the peer sent that is still in the kernel is read and dropped, so
     * the close sends FIN rather than a reset; only bytes that arrive after this (or more than {@link #MAX_DISCARD})
     * can still make the kernel reset the connection.
     */
    private void dropUnread() {
        long dropped = 0;
        ByteBuffer scratch = resources.readBuffer; // the loop's: free between two reads
        try {
            int n;
            do {
                scratch.clear();
                n = channel.read(scratch);
                dropped += Math.max(n, 0);
            } while (n > 0 && dropped < MAX_DISCARD);
        } catch (IOException e) {
            LOG.debug("read while closing {} failed", this, e); // closing anyway
        }
        if (dropped > 0) {
            LOG.debug("{}: {} unread bytes dropped before the close", this, dropped);
        }
    }

    private void closeWhenFlushed() {
        if (!tornDown) {
            flushIfUnclaimed();
        }
    }

    @Override
    public void flushIfUnclaimed() {
        ConnectionState now = state;
        if ((now == ConnectionState.OPEN || now == ConnectionState.CLOSING) && queue.claimForLoop()) {
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
        if (state == ConnectionState.HANDSHAKING) {
            tls.continueHandshake();
            return;
        }
        // Writes first: they free memory, and a reply read below may want to write at once.
        ConnectionState now = state;
        boolean writing = now == ConnectionState.OPEN || now == ConnectionState.CLOSING;
        if ((readyOps & SelectionKey.OP_WRITE) != 0 && writing) {
            writes.onWritable();
        }
        if ((readyOps & SelectionKey.OP_READ) != 0) {
            reads.onReadable();
        }
    }


    @Override
    public void flushFromLoop() {
        ConnectionState now = state;
        if (now != ConnectionState.OPEN && now != ConnectionState.CLOSING) {
            return; // not yet connected, or the writer is closed for good
        }
        if (key != null && !key.isValid()) {
            // Someone cancelled our key: no readiness event will ever come again, so end cleanly now.
            ConnectionClosedException why = new ConnectionClosedException("selection key of " + this
                    + " was cancelled");
            closeNow(why, why);
            return;
        }
        writes.flush();
    }

    @Override
    public int interestOps() {
        return interestOps;
    }

    @Override
    public void setInterest(int ops) {
        if (ops != interestOps && key != null && key.isValid()) {
            key.interestOps(ops);
            interestOps = ops;
        }
    }

    @Override
    public boolean isTornDown() {
        return tornDown;
    }
}
