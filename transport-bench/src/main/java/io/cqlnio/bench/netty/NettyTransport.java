package io.cqlnio.bench.netty;

import io.cqlnio.spi.Connection;
import io.cqlnio.spi.ConnectionClosedException;
import io.cqlnio.spi.FrameHandler;
import io.cqlnio.spi.TlsConfig;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.TransportException;
import io.cqlnio.spi.ConnectionStats;
import io.cqlnio.spi.TransportStats;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.resolver.NoopAddressResolverGroup;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import io.netty.handler.ssl.SslHandshakeTimeoutException;
import io.netty.handler.timeout.IdleStateHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A {@link Transport} over one Netty event loop group ({@code loops} threads, NIO, epoll or io_uring), configured
 * the way a Netty-based CQL driver runs: pooled direct allocator, TCP_NODELAY, the watermarks of the
 * {@link TransportConfig}, and the Java driver's write coalescer (one per event loop). With
 * {@link TransportConfig#tls()} set, Netty's {@code SslHandler} (JDK engine from the same {@link TlsConfig})
 * is first in every pipeline and a connection is handed out once its handshake succeeded.
 *
 * <p>Thread rules: every method may be called from any thread; channel work runs on the Netty loops.
 */
final class NettyTransport implements Transport {

    private static final Logger log = LoggerFactory.getLogger(NettyTransport.class);
    private static final long SHUTDOWN_TIMEOUT_SECONDS = 10;

    private final String name;
    private final TransportConfig config;
    private final EventLoopGroup group;
    private final Bootstrap bootstrap;
    /** Fixed at construction, read-only afterwards: safe to read from any thread. */
    private final Map<EventExecutor, WriteCoalescer> coalescers = new IdentityHashMap<>();
    private final Set<NettyConnection> connections = ConcurrentHashMap.newKeySet();
    private final Set<CompletableFuture<Connection>> pendingConnects = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final AtomicInteger ids = new AtomicInteger();
    /** Frames and bytes written and read by connections already closed; guarded by itself. */
    private final long[] closedTotals = new long[4];
    private volatile boolean draining;

    NettyTransport(String name, TransportConfig config, IoHandlerFactory ioHandlerFactory,
                   Class<? extends Channel> channelClass) {
        this.name = name;
        this.config = config;
        this.group = new MultiThreadIoEventLoopGroup(config.loops(), new DefaultThreadFactory("cqlnio-" + name, true),
                ioHandlerFactory);
        for (EventExecutor loop : group) {
            coalescers.put(loop, new WriteCoalescer((EventLoop) loop));
        }
        int readBuffer = config.readBufferSize();
        Bootstrap b = new Bootstrap().group(group).channel(channelClass)
                // The SPI takes resolved addresses; Netty's default resolver group would spin up resolvers.
                .resolver(NoopAddressResolverGroup.INSTANCE)
                .option(ChannelOption.ALLOCATOR, PooledByteBufAllocator.DEFAULT)
                .option(ChannelOption.TCP_NODELAY, config.tcpNoDelay())
                .option(ChannelOption.SO_KEEPALIVE, config.keepAlive())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE,
                        config.connectTimeout().toMillis()))
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(
                        clampToInt(config.writeLowWatermark()), clampToInt(config.writeHighWatermark())))
                .option(ChannelOption.WRITE_SPIN_COUNT, config.writeSpinCount())
                .option(ChannelOption.RCVBUF_ALLOCATOR,
                        new AdaptiveRecvByteBufAllocator(64, Math.min(2048, readBuffer), readBuffer))
                // Lets the peer's EOF arrive as an event, so onClosed can name it as the cause.
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true);
        if (config.sendBufferSize() > 0) {
            b.option(ChannelOption.SO_SNDBUF, config.sendBufferSize());
        }
        if (config.receiveBufferSize() > 0) {
            b.option(ChannelOption.SO_RCVBUF, config.receiveBufferSize());
        }
        this.bootstrap = b;
    }

    private static int clampToInt(long value) {
        return (int) Math.min(Integer.MAX_VALUE, value);
    }

    @Override
    public CompletableFuture<Connection> connect(InetSocketAddress remote, FrameHandler handler) {
        if (remote == null || handler == null) {
            throw new NullPointerException(remote == null ? "remote" : "handler");
        }
        if (remote.isUnresolved()) {
            return CompletableFuture.failedFuture(new TransportException("cannot connect to " + remote
                    + ": unresolved address"));
        }
        CompletableFuture<Connection> result = new CompletableFuture<>();
        pendingConnects.add(result);
        if (closed.get() || draining) {
            failConnect(result, remote);
            return result;
        }
        String connectionName = name + "#" + ids.incrementAndGet() + "[" + remote + "]";
        // Connect and TLS handshake share the connect timeout.
        long deadline = System.nanoTime() + config.connectTimeout().toNanos();
        TlsConfig tlsConfig = config.tls();
        SSLEngine engine = null;
        if (tlsConfig != null) {
            try {
                engine = tlsConfig.newEngine(remote); // on the caller's thread, as TlsConfig promises
            } catch (RuntimeException e) {
                pendingConnects.remove(result);
                result.completeExceptionally(new TransportException("connect to " + remote
                        + " failed: cannot create its TLS engine: " + e, e));
                return result;
            }
        }
        SSLEngine tlsEngine = engine;
        ChannelFuture connecting;
        try {
            connecting = bootstrap.clone().handler(new ChannelInitializer<Channel>() {
                @Override
                protected void initChannel(Channel ch) {
                    ClientTlsHandler tls = tlsEngine == null ? null
                            : new ClientTlsHandler(tlsEngine, tlsConfig.delegatedTaskExecutor(), deadline);
                    NettyConnection connection = new NettyConnection(ch, NettyTransport.this,
                            coalescers.get(ch.eventLoop()), handler, remote, connectionName, tls);
                    // Handed out from channelActive (plaintext), as nio does from finishConnect, or when the TLS
                    // handshake succeeded: before the first frame, whose bytes could otherwise close the channel
                    // before a listener on the connect future runs.
                    connection.handOutWhenActive(new NettyConnection.ConnectOutcome() {
                        @Override
                        public void handOut() {
                            NettyTransport.this.handOut(connection, ch, remote, result);
                        }

                        @Override
                        public void failed(Throwable cause) {
                            pendingConnects.remove(result);
                            result.completeExceptionally(connectFailure(remote, cause));
                        }
                    });
                    if (tls != null) {
                        ch.pipeline().addLast(tls); // first: everything after it sees plaintext
                    }
                    long readIdle = config.readIdleTimeout().toNanos();
                    long writeIdle = config.writeIdleTimeout().toNanos();
                    ch.pipeline().addLast(new FrameDecoder(connection, config.frameCodec(), config.maxFrameLength()));
                    if (readIdle > 0 || writeIdle > 0) {
                        // After the decoder: the SPI's read-idle means "no whole frame", so bytes of a frame that
                        // never completes (a trickle) must not reset it; the decoder passes on whole frames only.
                        ch.pipeline().addLast(new IdleStateHandler(readIdle, writeIdle, 0, TimeUnit.NANOSECONDS));
                    }
                    ch.pipeline().addLast(connection);
                }
            }).connect(remote);
        } catch (RejectedExecutionException e) {
            failConnect(result, remote);
            return result;
        }
        connecting.addListener((ChannelFuture f) -> connected(f, remote, result));
        return result;
    }

    private void connected(ChannelFuture f, InetSocketAddress remote, CompletableFuture<Connection> result) {
        if (!f.isSuccess()) {
            pendingConnects.remove(result);
            result.completeExceptionally(connectFailure(remote, f.cause()));
            return;
        }
        // Success: handOut() ran, or will run, from channelActive (TLS: from the handshake's end). A channel already
        // closed here is normally settled by channelInactive, which Netty fires from a task it queued when it
        // closed the channel: so this check runs as a task behind it, and only settles a channel that never became
        // active (kept so the future cannot hang). Checked at once, it raced that task and took the failure's
        // place: "closed before it was handed out" instead of what the TLS handshake saw.
        if (!result.isDone() && !f.channel().isActive()) {
            try {
                f.channel().eventLoop().execute(() -> settleNeverActive(remote, result));
            } catch (RejectedExecutionException e) {
                settleNeverActive(remote, result);
            }
        }
    }

    private void settleNeverActive(InetSocketAddress remote, CompletableFuture<Connection> result) {
        if (result.isDone()) {
            return;
        }
        pendingConnects.remove(result);
        result.completeExceptionally(config.tls() == null
                ? new TransportException("connect to " + remote + " failed: the connection closed before it was"
                        + " handed out")
                : connectFailure(remote, new javax.net.ssl.SSLHandshakeException("the connection closed before"
                        + " the TLS handshake completed")));
    }

    /** Loop thread, from channelActive: before any inbound byte reaches the pipeline. */
    private void handOut(NettyConnection connection, Channel ch, InetSocketAddress remote,
                         CompletableFuture<Connection> result) {
        pendingConnects.remove(result);
        connections.add(connection);
        connection.handedOut();
        // Checked after adding, so close() either sees this connection or we see closed.
        if (closed.get() || !result.complete(connection)) {
            connection.failedToHandOut();
            connections.remove(connection);
            failConnect(result, remote);
            ch.close();
        }
    }

    private void failConnect(CompletableFuture<Connection> result, InetSocketAddress remote) {
        pendingConnects.remove(result);
        result.completeExceptionally(new TransportException("cannot connect to " + remote + ": transport " + name
                + " is closed"));
    }

    private TransportException connectFailure(InetSocketAddress remote, Throwable cause) {
        if (cause instanceof ConnectTimeoutException) {
            return new TransportException("connect to " + remote + " timed out after "
                    + config.connectTimeout().toMillis() + " ms", cause);
        }
        if (cause instanceof SslHandshakeTimeoutException) {
            return new TransportException("connect to " + remote + " timed out after "
                    + config.connectTimeout().toMillis() + " ms: the TLS handshake did not finish", cause);
        }
        if (cause instanceof SSLException) {
            return new TransportException("TLS handshake with " + remote + " failed: " + cause.getMessage(), cause);
        }
        if (cause instanceof ConnectException) {
            return new TransportException("connect to " + remote + " refused: " + cause.getMessage(), cause);
        }
        if (closed.get() || cause instanceof RejectedExecutionException) {
            return new TransportException("cannot connect to " + remote + ": transport " + name + " is closed",
                    cause);
        }
        return new TransportException("connect to " + remote + " failed: " + cause, cause);
    }

    void removed(NettyConnection connection) {
        if (connections.remove(connection)) {
            ConnectionStats s = connection.stats();
            synchronized (closedTotals) {
                closedTotals[0] += s.framesWritten();
                closedTotals[1] += s.bytesWritten();
                closedTotals[2] += s.framesRead();
                closedTotals[3] += s.bytesRead();
            }
        }
    }

    TransportConfig config() {
        return config;
    }

    @Override
    public void close(Duration grace) {
        draining = true;
        List<CompletableFuture<Void>> closing = new ArrayList<>();
        for (NettyConnection connection : connections) {
            closing.add(connection.close());
        }
        try {
            CompletableFuture.allOf(closing.toArray(new CompletableFuture<?>[0]))
                    .get(Math.max(0, grace.toNanos()), TimeUnit.NANOSECONDS);
        } catch (java.util.concurrent.TimeoutException | java.util.concurrent.ExecutionException e) {
            log.debug("{}: grace period over; aborting what is left", name);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        close();
    }

    /**
     * Frames and bytes only: Netty does not expose write calls, short writes, wakeups or loop busy time, so
     * those read 0.
     */
    @Override
    public TransportStats stats() {
        long framesWritten;
        long bytesWritten;
        long framesRead;
        long bytesRead;
        synchronized (closedTotals) {
            framesWritten = closedTotals[0];
            bytesWritten = closedTotals[1];
            framesRead = closedTotals[2];
            bytesRead = closedTotals[3];
        }
        int open = 0;
        long pending = 0;
        for (NettyConnection connection : connections) {
            ConnectionStats s = connection.stats();
            open++;
            framesWritten += s.framesWritten();
            bytesWritten += s.bytesWritten();
            framesRead += s.framesRead();
            bytesRead += s.bytesRead();
            pending += s.pendingBytes();
        }
        return new TransportStats(open, framesWritten, bytesWritten, framesRead, bytesRead, 0, 0, 0, pending,
                0, 0, 0);
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            awaitTermination();
            return;
        }
        for (CompletableFuture<Connection> pending : pendingConnects) {
            pending.completeExceptionally(new TransportException("connect failed: transport " + name
                    + " closed first"));
        }
        pendingConnects.clear();
        List<CompletableFuture<Void>> ended = new ArrayList<>();
        for (NettyConnection connection : List.copyOf(connections)) {
            connection.abort(new ConnectionClosedException(connection + " closed: transport " + name + " closed"));
            ended.add(connection.ended());
        }
        awaitEnded(ended);
        // No quiet period: every connection has ended above (or its close task is queued and runs first).
        group.shutdownGracefully(0, SHUTDOWN_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        awaitTermination();
    }

    /**
     * Waits until every aborted connection has told its handler. io_uring closes a socket asynchronously: the
     * close is a ring operation whose completion fires {@code channelInactive}, and a loop shut down with no quiet
     * period could stop before it reads that completion, leaving {@code onClosed} untold (seen under load, over
     * TLS). Not from a loop thread: it cannot wait for itself.
     */
    private void awaitEnded(List<CompletableFuture<Void>> ended) {
        for (EventExecutor loop : group) {
            if (loop.inEventLoop()) {
                return;
            }
        }
        try {
            CompletableFuture.allOf(ended.toArray(new CompletableFuture<?>[0]))
                    .get(SHUTDOWN_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            log.warn("{}: connections still open {} s after close", name, SHUTDOWN_TIMEOUT_SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            log.debug("{}: a connection ended exceptionally", name, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void awaitTermination() {
        for (EventExecutor loop : group) {
            if (loop.inEventLoop()) {
                return; // closing from our own loop: it cannot wait for itself to end
            }
        }
        Future<?> termination = group.terminationFuture();
        if (!termination.awaitUninterruptibly(SHUTDOWN_TIMEOUT_SECONDS + 5, TimeUnit.SECONDS)) {
            log.warn("{}: event loops still running {} s after close", name, SHUTDOWN_TIMEOUT_SECONDS + 5);
            return;
        }
        coalescers.values().forEach(WriteCoalescer::terminate);
        // Not waited for: Netty's GlobalEventExecutor thread, which each loop's termination promise notifies its
        // listeners on. It is one daemon thread per JVM, not this transport's, and ends by itself once it has been
        // idle for its 1 s quiet period; waiting for that (awaitInactivity) made every close() take ~1 s. By now
        // every loop thread has ended, so every frame has its outcome and every onClosed has run.
    }

    @Override
    public String toString() {
        return name + config;
    }
}
