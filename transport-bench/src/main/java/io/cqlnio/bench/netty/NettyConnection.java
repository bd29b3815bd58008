package io.cqlnio.bench.netty;

import io.cqlnio.spi.Cancellable;
import io.cqlnio.spi.Connection;
import io.cqlnio.spi.ConnectionClosedException;
import io.cqlnio.spi.ConnectionStats;
import io.cqlnio.spi.FrameHandler;
import io.cqlnio.spi.Framing;
import io.cqlnio.spi.IdleKind;
import io.cqlnio.spi.TransportException;
import io.cqlnio.spi.WriteListener;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.ChannelPromise;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.ssl.SslCloseCompletionEvent;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.timeout.IdleStateEvent;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLSession;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ClosedChannelException;
import java.util.ArrayDeque;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A {@link Connection} over one Netty channel; also the channel's last inbound handler, which hands whole
 * frames to the {@link FrameHandler} and turns Netty's events into the SPI's.
 *
 * <p>Outcomes: frames fail with the {@code abort} cause when aborted; otherwise with a
 * {@link ConnectionClosedException} whose cause is what closed the channel. {@code onClosed} runs from
 * {@code channelInactive}, after Netty failed its outbound buffer and after this loop's coalescer queue was
 * drained, so every frame accepted before the close has its outcome before {@code onClosed}.
 *
 * <p>TLS: with a {@link ClientTlsHandler} first in the pipeline the connection is handed out only once the
 * handshake succeeded (a failed handshake fails the connect instead). A graceful {@code close()} closes through
 * the pipeline, so Netty sends close_notify after the last frame; {@code abort} and failures close the socket
 * under the TLS handler, at once, as on a plaintext connection.
 */
final class NettyConnection extends ChannelInboundHandlerAdapter implements Connection {

    private static final Logger log = LoggerFactory.getLogger(NettyConnection.class);

    private static final int OPEN = 0;
    private static final int CLOSING = 1;
    private static final int CLOSED = 2;

    private static final VarHandle FRAMES_WRITTEN;
    private static final VarHandle BYTES_WRITTEN;
    private static final VarHandle FRAMES_READ;
    private static final VarHandle BYTES_READ;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            FRAMES_WRITTEN = lookup.findVarHandle(NettyConnection.class, "framesWritten", long.class);
            BYTES_WRITTEN = lookup.findVarHandle(NettyConnection.class, "bytesWritten", long.class);
            FRAMES_READ = lookup.findVarHandle(NettyConnection.class, "framesRead", long.class);
            BYTES_READ = lookup.findVarHandle(NettyConnection.class, "bytesRead", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final Channel channel;
    private final NettyTransport transport;
    private final WriteCoalescer coalescer;
    private final FrameHandler handler;
    private final InetSocketAddress remote;
    private final String name;
    private final AtomicInteger state = new AtomicInteger(OPEN);
    /**
     * Plaintext: bytes accepted by write() and not yet handed to channel.write (Netty counts the rest). TLS: bytes
     * accepted by write() whose outcome has not come back yet; Netty's count is not used at all (see pendingBytes).
     */
    private final AtomicLong queuedBytes = new AtomicLong();
    private final CompletableFuture<Void> closeFuture = new CompletableFuture<>();
    private final long maxPendingBytes;
    /** Netty's TLS handler of this channel, or null on a plaintext connection. */
    private final ClientTlsHandler tls;
    /** Set once the handshake succeeded, before the connection is handed out. */
    private volatile SSLSession tlsSession;
    private volatile boolean readPaused;
    /**
     * Frames Netty decoded after pauseReading: turning autoRead off stops the next socket read, not the
     * decoder's loop over bytes already read, so to honour "no onFrame until resume" they wait here.
     */
    private final ArrayDeque<ByteBuf> held = new ArrayDeque<>();

    /** What unwritten frames fail with after abort(cause). */
    private volatile Throwable abortCause;
    /** Why the channel closed, when not by a local close or abort (peer EOF or reset, protocol, handler). */
    private volatile Throwable closeCause;
    /** Set before the connect future completes: only connections handed out get onClosed. */
    private volatile boolean handedOut;

    // Loop-thread state.
    boolean touched;
    private boolean gracefullyClosed;
    /** Hands this connection out or fails its connect; told once, from channelActive or the TLS handshake's end. */
    private ConnectOutcome handOut;
    /** The graceful-close marker went by: a frame behind it raced close() and is refused, never written. */
    private boolean closeMarkerSeen;
    /** Frames refused behind the marker; told in channelInactive, after every earlier frame (invariant 6). */
    private final java.util.ArrayList<PendingWrite> raced = new java.util.ArrayList<>();
    /** TLS only: frames handed to the TLS handler whose outcome has not been told yet, in accept order. */
    private final ArrayDeque<PendingWrite> tlsInFlight = new ArrayDeque<>();
    private boolean inactive;
    private boolean lastWritable = true;
    private ConnectionClosedException unwrittenFailure;

    // Written by the loop thread only, read by stats() from any thread (release/acquire via VarHandles).
    @SuppressWarnings("unused") private long framesWritten;
    @SuppressWarnings("unused") private long bytesWritten;
    @SuppressWarnings("unused") private long framesRead;
    @SuppressWarnings("unused") private long bytesRead;

    NettyConnection(Channel channel, NettyTransport transport, WriteCoalescer coalescer, FrameHandler handler,
                    InetSocketAddress remote, String name, ClientTlsHandler tls) {
        this.channel = channel;
        this.tls = tls;
        this.transport = transport;
        this.coalescer = coalescer;
        this.handler = handler;
        this.remote = remote;
        this.name = name;
        this.maxPendingBytes = transport.config().maxPendingBytes();
    }

    // ---- Connection -----------------------------------------------------------------------------------

    @Override
    public void write(ByteBuffer frame, WriteListener listener) {
        Objects.requireNonNull(frame, "frame");
        if (state.get() != OPEN) {
            refuse(listener);
            return;
        }
        int bytes = frame.remaining();
        if (overCap(bytes, listener)) {
            return;
        }
        queuedBytes.addAndGet(bytes);
        coalescer.enqueue(new PendingWrite(this, Unpooled.wrappedBuffer(frame), bytes, listener));
    }

    @Override
    public void write(ByteBuffer[] frameParts, WriteListener listener) {
        Objects.requireNonNull(frameParts, "frameParts");
        if (state.get() != OPEN) {
            refuse(listener);
            return;
        }
        int bytes = 0;
        for (ByteBuffer part : frameParts) {
            bytes += part.remaining();
        }
        if (overCap(bytes, listener)) {
            return;
        }
        queuedBytes.addAndGet(bytes);
        // A composite over the caller's buffers: Netty writes its parts with one gathering write, no copy.
        coalescer.enqueue(new PendingWrite(this, Unpooled.wrappedBuffer(frameParts), bytes, listener));
    }

    /** The hard cap, checked before anything is queued; racing writers may each see the room, as in nio. */
    private boolean overCap(int bytes, WriteListener listener) {
        if (maxPendingBytes <= 0) {
            return false;
        }
        long pending = pendingBytes();
        if (pending + bytes <= maxPendingBytes) {
            return false;
        }
        if (listener != null) {
            notify(listener, new TransportException("write of " + bytes + " bytes refused: " + pending
                    + " bytes are pending and maxPendingBytes is " + maxPendingBytes + " on " + name));
        }
        return true;
    }

    private void refuse(WriteListener listener) {
        if (listener != null) {
            notify(listener, new ConnectionClosedException(name + " is closed: write refused"));
        }
    }

    @Override
    public boolean isWritable() {
        return channel.isWritable();
    }

    /**
     * Plaintext: this loop's queue plus Netty's outbound count. TLS: one exact count of the frames accepted and not
     * yet written or failed. Netty's count cannot be added there: under {@code SslHandler} it holds the plaintext
     * the handler has not wrapped yet and then the ciphertext records (tag, header and a per-entry estimate on
     * top), so one 100-byte frame reads as well over 200 pending bytes while it moves through.
     */
    @Override
    public long pendingBytes() {
        if (tls != null) {
            return queuedBytes.get();
        }
        ChannelOutboundBuffer buffer = channel.unsafe().outboundBuffer();
        return queuedBytes.get() + (buffer == null ? 0 : buffer.totalPendingWriteBytes());
    }

    @Override
    public CompletableFuture<Void> close() {
        if (state.compareAndSet(OPEN, CLOSING)) {
            // Behind every frame already queued, so they are handed to Netty first.
            coalescer.enqueue(PendingWrite.closeMarker(this));
        }
        return closeFuture;
    }

    /** Any thread. Completes once {@code onClosed} has run (or would have, for a connection never handed out). */
    CompletableFuture<Void> ended() {
        return closeFuture;
    }

    @Override
    public void abort(Throwable cause) {
        Throwable why = cause != null ? cause : new ConnectionClosedException(name + " aborted");
        for (;;) {
            int s = state.get();
            if (s == CLOSED) {
                return;
            }
            if (state.compareAndSet(s, CLOSED)) {
                break;
            }
        }
        abortCause = why;
        closeNow(); // Netty runs it on the loop and fails its outbound buffer there
    }

    /**
     * Closes the socket without a TLS close_notify: through the pipeline, Netty's TLS handler would first flush
     * what it holds and then wait up to its close_notify flush timeout, which is not "now". Plaintext: the
     * same as {@code channel.close()}.
     */
    private void closeNow() {
        if (tls == null) {
            channel.close();
            return;
        }
        ChannelHandlerContext underTls = channel.pipeline().context(tls);
        if (underTls != null) {
            underTls.close(); // starts at the handler before TLS: the socket itself
        } else {
            channel.close(); // TLS handler already removed (channel closed): nothing left to send
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
    public SSLSession tlsSession() {
        return tlsSession;
    }

    @Override
    public ConnectionStats stats() {
        // Netty does not expose its write calls, short writes or wakeups: those read 0.
        return new ConnectionStats((long) FRAMES_WRITTEN.getAcquire(this), (long) BYTES_WRITTEN.getAcquire(this),
                (long) FRAMES_READ.getAcquire(this), (long) BYTES_READ.getAcquire(this), 0, 0, 0, 0,
                pendingBytes());
    }

    @Override
    public void execute(Runnable task) {
        Objects.requireNonNull(task, "task");
        try {
            channel.eventLoop().execute(task);
        } catch (RejectedExecutionException e) {
            log.debug("{}: task dropped, the transport is closed", name);
        }
    }

    @Override
    public Cancellable schedule(Runnable task, long delay, TimeUnit unit) {
        Objects.requireNonNull(task, "task");
        try {
            io.netty.util.concurrent.ScheduledFuture<?> f = channel.eventLoop().schedule(task, delay, unit);
            return () -> f.cancel(false);
        } catch (RejectedExecutionException e) {
            return () -> false;
        }
    }

    /**
     * The Netty baseline carries v4-style frames only: v5 segment framing is implemented by {@code nio}
     * alone, so the kit runs its v5 checks for {@code nio} and the benchmarks compare v4 framing.
     */
    @Override
    public void switchFraming(Framing framing) {
        if (framing != Framing.FRAMES) {
            throw new UnsupportedOperationException(framing + " is not implemented by the Netty baseline");
        }
    }

    @Override
    public void pauseReading() {
        readPaused = true;
        channel.config().setAutoRead(false);
    }

    @Override
    public void resumeReading() {
        readPaused = false;
        channel.eventLoop().execute(this::deliverHeld);
    }

    /** Loop. Hands over what arrived while paused, then lets Netty read again (unless paused meanwhile). */
    private void deliverHeld() {
        ByteBuf frame;
        while (!readPaused && (frame = held.poll()) != null) {
            deliver(frame);
        }
        if (!readPaused && !inactive) {
            channel.config().setAutoRead(true);
        }
    }

    @Override
    public String toString() {
        return name;
    }

    // ---- write path (loop thread) ---------------------------------------------------------------------

    void writeOnLoop(PendingWrite write) {
        if (tls == null || write.isCloseMarker() || closeMarkerSeen) {
            queuedBytes.addAndGet(-write.bytes); // a TLS frame stays counted until its outcome: see settleTls
        }
        if (write.isCloseMarker()) {
            closeMarkerSeen = true;
            startGracefulClose();
            return;
        }
        if (closeMarkerSeen) {
            // It passed write()'s OPEN check while close() ran and was queued behind the marker. Written, it could
            // reach the peer and still be failed: the marker's listener closes the channel in the middle of the
            // flush that wrote both, and Netty then fails the flushed entries after it. Refused, it is told once,
            // when the channel is gone, so after the outcome of every frame accepted before it.
            write.message.release();
            if (write.listener != null) {
                raced.add(write);
            }
            return;
        }
        if (tls != null) {
            writeThroughTls(write);
            return;
        }
        if (write.listener == null) {
            // Nobody waits for this one: no promise, and the frame counts as written once Netty has it.
            channel.write(write.message, channel.voidPromise());
            countWritten(write.bytes);
        } else {
            ChannelPromise promise = channel.newPromise();
            promise.addListener(write);
            channel.write(write.message, promise);
        }
    }

    void flushOnLoop() {
        channel.flush();
    }

    /**
     * TLS: Netty's {@code SslHandler} packs many frames into one record and completes their promises through
     * aggregate promises; measured here (Netty 4.2.18), they come back out of accept order (whole records'
     * worth of frames in reverse order), and the promise of an empty write behind queued frames can complete
     * before those frames are wrapped (the plaintext graceful-close trick then closed the engine with frames still
     * queued). So every frame gets a promise, its outcome is recorded when it comes, and outcomes are told
     * strictly in accept order from the head of {@link #tlsInFlight}: invariant 6, and a graceful close that
     * starts only once the last frame before it is out.
     */
    private void writeThroughTls(PendingWrite write) {
        tlsInFlight.add(write);
        ChannelPromise promise = channel.newPromise();
        promise.addListener(write);
        channel.write(write.message, promise);
    }

    /** Loop thread: tells every finished frame at the head, in order; then a pending graceful close may go. */
    private void reportTlsInOrder() {
        PendingWrite head;
        while ((head = tlsInFlight.peek()) != null && head.done) {
            tlsInFlight.poll();
            report(head, head.failure);
        }
        if (closeMarkerSeen && tlsInFlight.isEmpty()) {
            closeWhenFlushed();
        }
    }

    private void report(PendingWrite write, Throwable failure) {
        write.reported = true;
        if (failure == null) {
            countWritten(write.bytes);
            if (write.listener != null) {
                notify(write.listener, null);
            }
        } else if (write.listener != null) {
            notify(write.listener, failureFor(failure));
        }
    }

    private void startGracefulClose() {
        if (tls != null) {
            // Not the empty-write trick below: under SslHandler an empty write's promise can complete too early.
            reportTlsInOrder();
            return;
        }
        // Completes after every earlier write on this channel completed (the outbound buffer is ordered).
        channel.write(Unpooled.EMPTY_BUFFER).addListener((ChannelFuture f) -> {
            if (f.isSuccess() && abortCause == null && closeCause == null) {
                gracefullyClosed = true;
                channel.close();
            }
        });
    }

    /** Every frame accepted before close() is out: close through the pipeline, so TLS sends close_notify. */
    private void closeWhenFlushed() {
        if (!gracefullyClosed && abortCause == null && closeCause == null && !inactive) {
            gracefullyClosed = true;
            channel.close();
        }
    }

    /** TLS, loop thread: the frame's outcome is known, so its bytes are no longer pending. Once per frame. */
    private void settleTls(PendingWrite write) {
        if (!write.settled) {
            write.settled = true;
            queuedBytes.addAndGet(-write.bytes);
        }
    }

    void writeCompleted(PendingWrite write, Throwable failure) {
        if (tls != null) {
            if (!write.reported) { // already told if the channel went inactive first
                settleTls(write);
                write.done = true;
                write.failure = failure;
                reportTlsInOrder();
            }
            return;
        }
        if (failure == null) {
            countWritten(write.bytes);
            notify(write.listener, null);
        } else {
            notify(write.listener, failureFor(failure));
        }
    }

    /** A frame the coalescer could not hand to the loop because the loop is gone. */
    void failUnqueued(PendingWrite write) {
        queuedBytes.addAndGet(-write.bytes);
        if (write.message != null) {
            write.message.release();
        }
        if (write.listener != null) {
            Throwable a = abortCause;
            notify(write.listener, a != null ? a
                    : new ConnectionClosedException(name + " closed: its transport is closed"));
        }
    }

    private Throwable failureFor(Throwable nettyCause) {
        Throwable a = abortCause;
        if (a != null) {
            return a;
        }
        if (closeCause == null && !(nettyCause instanceof ClosedChannelException)) {
            closeCause = nettyCause; // a write error (broken pipe, reset) is what closed the channel
        }
        if (unwrittenFailure == null) {
            Throwable c = closeCause;
            unwrittenFailure = c == null
                    ? new ConnectionClosedException(name + " closed before the frame was written", nettyCause)
                    : new ConnectionClosedException(name + " closed before the frame was written: " + c, c);
        }
        return unwrittenFailure;
    }

    private void countWritten(int bytes) {
        FRAMES_WRITTEN.setRelease(this, (long) FRAMES_WRITTEN.get(this) + 1);
        BYTES_WRITTEN.setRelease(this, (long) BYTES_WRITTEN.get(this) + bytes);
    }

    void countRead(int bytes) {
        BYTES_READ.setRelease(this, (long) BYTES_READ.get(this) + bytes);
    }

    private void notify(WriteListener listener, Throwable failureOrNull) {
        try {
            listener.onComplete(failureOrNull);
        } catch (Throwable t) {
            log.warn("write listener of {} threw; ignored", name, t);
        }
    }

    /** How a connect ends once the channel is up: handed out, or failed (TLS handshake, closed first). */
    interface ConnectOutcome {
        /** Loop thread; before any inbound frame reaches the handler. */
        void handOut();

        /** Loop thread; the channel is closing. */
        void failed(Throwable cause);
    }

    /** Tells {@code outcome} once: from channelActive, or with TLS when the handshake ends. */
    void handOutWhenActive(ConnectOutcome outcome) {
        this.handOut = outcome;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        if (tls == null) {
            handOutNow();
        } // else the TLS handler starts the handshake now; its completion event hands the connection out
        ctx.fireChannelActive();
    }

    private void handOutNow() {
        ConnectOutcome o = handOut;
        handOut = null;
        if (o != null) {
            o.handOut();
        }
    }

    private void failConnect(Throwable cause) {
        ConnectOutcome o = handOut;
        handOut = null;
        if (o != null) {
            o.failed(cause);
        }
    }

    /** Loop thread. The handshake's end, as Netty's TLS handler reports it (it closes the channel on failure). */
    private void handshakeDone(SslHandshakeCompletionEvent event) {
        if (event.isSuccess()) {
            tlsSession = tls.engine().getSession();
            tls.fitWrapsToRecords(tlsSession);
            handOutNow();
            return;
        }
        state.set(CLOSED);
        failConnect(handshakeFailure(event.cause()));
        closeNow();
    }

    /**
     * What a connect fails with when the channel ended before the handshake did: the SSLException if there is one;
     * else (the server hung up, Netty's ClosedChannelException) an SSLHandshakeException saying so, caused by it,
     * so a driver reads that the TLS handshake is what failed, as {@code TlsConfig} promises.
     */
    private Throwable handshakeFailure(Throwable cause) {
        Throwable ssl = sslCause(cause);
        if (ssl instanceof SSLException) {
            return ssl;
        }
        SSLHandshakeException e = new SSLHandshakeException(
                "the connection closed before the TLS handshake completed");
        if (cause != null) {
            e.initCause(cause);
        }
        return e;
    }

    /** The SSLException in {@code t}'s chain (Netty may wrap it in a DecoderException), else {@code t}. */
    private static Throwable sslCause(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof SSLException) {
                return c;
            }
        }
        return t;
    }

    void failedToHandOut() {
        handedOut = false;
    }

    void handedOut() {
        handedOut = true;
    }

    // ---- inbound (loop thread) ------------------------------------------------------------------------

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        ByteBuf frame = (ByteBuf) msg;
        if (readPaused || !held.isEmpty()) {
            held.add(frame); // keeps the retained slice until resumeReading
            return;
        }
        deliver(frame);
    }

    private void deliver(ByteBuf frame) {
        try {
            if (inactive || closeCause != null || abortCause != null) {
                return; // the connection is failing: nothing more reaches the handler
            }
            int length = frame.readableBytes();
            // The slice's own NIO view: no ByteBuffer allocated per frame.
            ByteBuffer view = frame.nioBufferCount() == 1 ? frame.internalNioBuffer(frame.readerIndex(), length)
                    : frame.nioBuffer();
            FRAMES_READ.setRelease(this, (long) FRAMES_READ.get(this) + 1);
            handler.onFrame(this, view.order(ByteOrder.BIG_ENDIAN));
        } catch (Throwable t) {
            failWith(t);
        } finally {
            frame.release();
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        boolean writable = channel.isWritable();
        if (writable != lastWritable && !inactive && closeCause == null) {
            lastWritable = writable;
            try {
                handler.onWritabilityChanged(this, writable);
            } catch (Throwable t) {
                failWith(t);
            }
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
        if (event instanceof SslHandshakeCompletionEvent) {
            handshakeDone((SslHandshakeCompletionEvent) event);
            return;
        }
        if (event instanceof SslCloseCompletionEvent) {
            // The peer's close_notify: as its EOF, the end of the connection, with a cause that says so; unless it
            // is the answer to ours (a graceful close already under way).
            if (gracefullyClosed) {
                return;
            }
            if (closeCause == null) {
                closeCause = new ConnectionClosedException(name + " closed by the peer (TLS close_notify)");
            }
            channel.close();
            return;
        }
        if (event instanceof IdleStateEvent) {
            if (!inactive && closeCause == null && abortCause == null) {
                IdleKind kind = ((IdleStateEvent) event).state() == io.netty.handler.timeout.IdleState.READER_IDLE
                        ? IdleKind.READ : IdleKind.WRITE;
                try {
                    handler.onIdle(this, kind);
                } catch (Throwable t) {
                    failWith(t);
                }
            }
            return;
        }
        if (event instanceof ChannelInputShutdownEvent) {
            // Half-closure is on only so the peer's EOF is seen here, as a cause, before the channel closes. Not
            // after our graceful close: over TLS that waits (bounded) for the peer's close_notify, and a peer that
            // answers by closing the socket instead ends a close that was ours and went well.
            if (closeCause == null && !gracefullyClosed) {
                closeCause = new ConnectionClosedException(name + " closed by the peer (end of stream)");
            }
            channel.close();
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        Throwable why = cause instanceof DecoderException && cause.getCause() != null ? cause.getCause() : cause;
        failWith(why);
    }

    private void failWith(Throwable cause) {
        if (closeCause == null && abortCause == null && !inactive) {
            closeCause = cause;
        }
        state.set(CLOSED);
        closeNow();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (inactive) {
            return;
        }
        inactive = true;
        state.set(CLOSED);
        // Closed before the TLS handshake ended (the handler's own failure event normally comes first).
        failConnect(tls != null ? handshakeFailure(closeCause)
                : new ConnectionClosedException(name + " closed before it was handed out", closeCause));
        ByteBuf unread;
        while ((unread = held.poll()) != null) {
            unread.release();
        }
        transport.removed(this);
        // TLS frames whose (aggregated, deferred) promises have not come back yet: told now, in order, before
        // onClosed; a late promise is then ignored.
        PendingWrite w;
        while ((w = tlsInFlight.poll()) != null) {
            settleTls(w);
            report(w, w.done ? w.failure : new ClosedChannelException());
        }
        // Frames still in this loop's coalescer queue fail now (the channel is closed), before onClosed.
        coalescer.drain();
        for (PendingWrite write : raced) {
            notify(write.listener, new ConnectionClosedException(name + " is closed: the write raced close()"));
        }
        raced.clear();
        if (handedOut) {
            Throwable cause = abortCause != null ? abortCause : closeCause;
            if (cause == null && !gracefullyClosed) {
                cause = new ConnectionClosedException(name + " closed");
            }
            try {
                handler.onClosed(this, cause);
            } catch (Throwable t) {
                log.warn("onClosed handler of {} threw; ignored", name, t);
            }
        }
        // Last, so whoever joins close() sees onClosed done.
        closeFuture.complete(null);
    }
}
