package io.cqlnio.nio;

import io.cqlnio.spi.Connection;
import io.cqlnio.spi.FrameHandler;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.TransportException;
import io.cqlnio.spi.TransportStats;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/** cqlnio's transport: {@code config.loops()} event loops, connections assigned round-robin. */
final class NioTransport implements Transport {

    private static final Logger LOG = LoggerFactory.getLogger(NioTransport.class);
    private static final long JOIN_MILLIS = 10_000;

    private final EventLoop[] loops;
    private final AtomicInteger next = new AtomicInteger();
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile boolean draining;

    NioTransport(TransportConfig config) {
        Objects.requireNonNull(config, "config");
        loops = new EventLoop[config.loops()];
        try {
            for (int i = 0; i < loops.length; i++) {
                loops[i] = new EventLoop("cqlnio-loop-" + i, config);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open a selector", e);
        }
        for (EventLoop loop : loops) {
            loop.start();
        }
    }

    /** For tests of the loops themselves. */
    EventLoop[] loops() {
        return loops;
    }

    @Override
    public CompletableFuture<Connection> connect(InetSocketAddress remote, FrameHandler handler) {
        Objects.requireNonNull(remote, "remote");
        Objects.requireNonNull(handler, "handler");
        CompletableFuture<Connection> future = new CompletableFuture<>();
        if (remote.isUnresolved()) {
            future.completeExceptionally(new TransportException("cannot connect to unresolved address "
                    + remote.getHostString() + ":" + remote.getPort()));
            return future;
        }
        if (closed.get() || draining) {
            future.completeExceptionally(new TransportException("transport closed; cannot connect to " + remote));
            return future;
        }
        EventLoop loop = loops[Math.floorMod(next.getAndIncrement(), loops.length)];
        if (!loop.execute(() -> Connector.connect(loop, remote, handler, future))) {
            future.completeExceptionally(new TransportException("transport closed; cannot connect to " + remote));
        }
        return future;
    }

    @Override
    public void close(Duration grace) {
        Objects.requireNonNull(grace, "grace");
        draining = true;
        List<CompletableFuture<Void>> closing = new ArrayList<>();
        for (EventLoop loop : loops) {
            loop.forEachMember(c -> closing.add(((Connection) c).close()));
        }
        try {
            CompletableFuture.allOf(closing.toArray(new CompletableFuture<?>[0]))
                    .get(Math.max(0, grace.toNanos()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            LOG.info("grace period of {} ms ended with connections still flushing; aborting them", grace.toMillis());
        } catch (ExecutionException e) {
            LOG.debug("a connection failed while closing", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        close();
    }

    @Override
    public TransportStats stats() {
        LoopCounters totals = new LoopCounters();
        for (EventLoop loop : loops) {
            loop.addStats(totals);
        }
        return totals.toStats();
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        for (EventLoop loop : loops) {
            loop.shutdown();
        }
        try {
            for (EventLoop loop : loops) {
                loop.join(JOIN_MILLIS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            LOG.warn("interrupted while waiting for the loops to stop");
        }
    }
}
