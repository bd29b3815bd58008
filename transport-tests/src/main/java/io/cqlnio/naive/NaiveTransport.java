package io.cqlnio.naive;

import io.cqlnio.spi.Cancellable;
import io.cqlnio.spi.Connection;
import io.cqlnio.spi.ConnectionClosedException;
import io.cqlnio.spi.ConnectionStats;
import io.cqlnio.spi.FrameHandler;
import io.cqlnio.spi.Framing;
import io.cqlnio.spi.ProtocolException;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.TransportException;
import io.cqlnio.spi.TransportStats;
import io.cqlnio.spi.WriteListener;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.time.Duration;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * THE CONTROL, DELIBERATELY BROKEN. Do not use it for anything but showing what goes wrong.
 *
 * <p>It sends queued frames like the story's driver (a queue, one send at a time, the next send when the previous
 * one "completed"): while the socket is writable it stages the queued frames (up to {@code maxBuffersPerWrite}
 * buffers) into one non-blocking gathering write, <b>ignores the count the write returns</b>, tells every staged
 * frame's listener it was written and moves on; after a write that came up short (the kernel is full) the next
 * batch waits until the socket is writable again.
 * That is exactly the origin story's bug (a {@code sendmsg} that returned 16,384 of 23,937 bytes, the remainder
 * silently dropped): the tail of the frame is lost, the next frame starts mid-body, and the server reads a body
 * byte as a protocol version. Short writes are counted in {@link ConnectionStats#shortWrites()} so the damage is
 * visible, and nothing else is done about them.
 *
 * <p>Reading is ordinary (one selector thread, frames split with the configured codec), so that the server's
 * answers, its protocol errors included, reach the client intact.
 */
final class NaiveTransport implements Transport {

    private static final Logger LOG = LoggerFactory.getLogger(NaiveTransport.class);
    private static final AtomicInteger IDS = new AtomicInteger();

    private final TransportConfig config;
    private final Selector selector;
    private final Thread loop;
    private final Queue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    private final Set<NaiveConnection> connections = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean closed = new AtomicBoolean();

    NaiveTransport(TransportConfig config) {
        this.config = config;
        try {
            this.selector = Selector.open();
        } catch (IOException e) {
            throw new TransportException("cannot open a selector", e);
        }
        this.loop = new Thread(this::run, "naive-loop-" + IDS.incrementAndGet());
        loop.setDaemon(true);
        loop.start();
    }

    @Override
    public CompletableFuture<Connection> connect(InetSocketAddress remote, FrameHandler handler) {
        if (closed.get()) {
            return CompletableFuture.failedFuture(new TransportException("transport closed; cannot connect to "
                    + remote));
        }
        SocketChannel channel = null;
        try {
            channel = SocketChannel.open();
            channel.setOption(StandardSocketOptions.TCP_NODELAY, config.tcpNoDelay());
            channel.setOption(StandardSocketOptions.SO_KEEPALIVE, config.keepAlive());
            if (config.sendBufferSize() > 0) {
                channel.setOption(StandardSocketOptions.SO_SNDBUF, config.sendBufferSize());
            }
            if (config.receiveBufferSize() > 0) {
                channel.setOption(StandardSocketOptions.SO_RCVBUF, config.receiveBufferSize());
            }
            // A blocking connect with a timeout keeps the control small; only the writes matter here.
            channel.socket().connect(remote, (int) config.connectTimeout().toMillis());
            channel.configureBlocking(false);
        } catch (IOException e) {
            closeQuietly(channel);
            return CompletableFuture.failedFuture(new TransportException("cannot connect to " + remote, e));
        }
        SocketChannel connected = channel;
        NaiveConnection connection = new NaiveConnection(connected, remote, handler);
        connections.add(connection);
        CompletableFuture<Connection> done = new CompletableFuture<>();
        submit(() -> {
            try {
                connected.register(selector, SelectionKey.OP_READ, connection);
                done.complete(connection);
            } catch (IOException e) {
                connection.closeNow(e);
                done.completeExceptionally(new TransportException("cannot register " + remote, e));
            }
        });
        return done;
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        submit(() -> {
            for (NaiveConnection c : connections) {
                c.closeNow(new ConnectionClosedException("transport closed"));
            }
        });
        try {
            loop.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The control has no grace: it only exists to show what ignoring a write count does. */
    @Override
    public void close(Duration grace) {
        close();
    }

    /** Frames and bytes of the connections open now; enough for the origin-story table. */
    @Override
    public TransportStats stats() {
        ConnectionStats sum = new ConnectionStats(0, 0, 0, 0, 0, 0, 0, 0, 0);
        int open = 0;
        for (NaiveConnection c : connections) {
            sum = sum.plus(c.stats());
            open++;
        }
        return new TransportStats(open, sum.framesWritten(), sum.bytesWritten(), sum.framesRead(), sum.bytesRead(),
                sum.writeCalls(), sum.shortWrites(), sum.wakeups(), sum.pendingBytes(), 0, 0, 0);
    }

    private void submit(Runnable task) {
        tasks.add(task);
        selector.wakeup();
    }

    private void run() {
        ByteBuffer readBuffer = ByteBuffer.allocate(config.readBufferSize());
        try {
            while (true) {
                Runnable task;
                while ((task = tasks.poll()) != null) {
                    task.run();
                }
                if (closed.get() && tasks.isEmpty()) {
                    break;
                }
                selector.select(1000);
                for (SelectionKey key : selector.selectedKeys()) {
                    NaiveConnection c = (NaiveConnection) key.attachment();
                    if (key.isValid() && key.isReadable()) {
                        c.read(readBuffer);
                    }
                    if (key.isValid() && key.isWritable()) {
                        c.writeNext(key);
                    }
                }
                selector.selectedKeys().clear();
            }
        } catch (IOException | ClosedSelectorException e) {
            LOG.error("naive loop failed", e);
        } finally {
            for (NaiveConnection c : connections) {
                c.closeNow(new ConnectionClosedException("transport closed"));
            }
            closeQuietly(selector);
        }
    }

    private static void closeQuietly(AutoCloseable c) {
        if (c != null) {
            try {
                c.close();
            } catch (Exception ignored) {
                // closing on a failure path: the first failure is what gets reported
            }
        }
    }

    /** A frame waiting for its (one) write. */
    private record Queued(ByteBuffer[] parts, WriteListener listener) {
    }

    /** One connection of the control. */
    private final class NaiveConnection implements Connection {
        private final SocketChannel channel;
        private final InetSocketAddress remote;
        private final FrameHandler handler;
        private final AtomicBoolean open = new AtomicBoolean(true);
        private final AtomicBoolean closedReported = new AtomicBoolean();
        private final Queue<Queued> queue = new ConcurrentLinkedQueue<>();
        private final AtomicBoolean writeScheduled = new AtomicBoolean();
        private final AtomicLong framesWritten = new AtomicLong();
        private final AtomicLong bytesWritten = new AtomicLong();
        private final AtomicLong writeCalls = new AtomicLong();
        private final AtomicLong shortWrites = new AtomicLong();
        private final AtomicLong zeroByteWrites = new AtomicLong();
        private volatile long framesRead;
        private volatile long bytesRead;
        /** Inbound bytes not yet delivered (loop thread only); grows to the largest frame seen. */
        private ByteBuffer inbound = ByteBuffer.allocate(64 * 1024);

        NaiveConnection(SocketChannel channel, InetSocketAddress remote, FrameHandler handler) {
            this.channel = channel;
            this.remote = remote;
            this.handler = handler;
        }

        @Override
        public void write(ByteBuffer frame, WriteListener listener) {
            write(new ByteBuffer[] {frame}, listener);
        }

        @Override
        public void write(ByteBuffer[] frameParts, WriteListener listener) {
            if (!open.get()) {
                notify(listener, new ConnectionClosedException("naive connection to " + remote + " is closed"));
                return;
            }
            queue.add(new Queued(frameParts, listener));
            if (writeScheduled.compareAndSet(false, true)) {
                submit(() -> {
                    SelectionKey key = channel.keyFor(selector);
                    if (key != null && key.isValid()) {
                        key.interestOps(key.interestOps() | SelectionKey.OP_WRITE);
                    }
                });
            }
        }

        /** Loop thread, socket writable: gathering writes of the queued frames, counts ignored. */
        void writeNext(SelectionKey key) {
            List<Queued> batch = new ArrayList<>();
            List<ByteBuffer> buffers = new ArrayList<>();
            while (!queue.isEmpty()) {
                batch.clear();
                buffers.clear();
                Queued next;
                while (buffers.size() < config.maxBuffersPerWrite() && (next = queue.peek()) != null
                        && (batch.isEmpty() || buffers.size() + next.parts.length <= config.maxBuffersPerWrite())) {
                    queue.poll();
                    batch.add(next);
                    buffers.addAll(List.of(next.parts));
                }
                long offered = 0;
                for (ByteBuffer b : buffers) {
                    offered += b.remaining();
                }
                long written;
                try {
                    written = channel.write(buffers.toArray(new ByteBuffer[0]));
                } catch (IOException e) {
                    for (Queued q : batch) {
                        notify(q.listener, new ConnectionClosedException("write to " + remote + " failed", e));
                    }
                    closeNow(e);
                    return;
                }
                writeCalls.incrementAndGet();
                bytesWritten.addAndGet(written);
                framesWritten.addAndGet(batch.size());
                boolean shortWrite = written < offered;
                if (shortWrite) {   // counted before the listeners run, so they see it in stats()
                    shortWrites.incrementAndGet();
                    if (written == 0) {
                        zeroByteWrites.incrementAndGet();
                    }
                }
                // THE BUG, on purpose: every staged frame is reported as sent, whatever the count says; an
                // unwritten remainder is simply dropped and the next batch starts a new frame on the wire.
                for (Queued q : batch) {
                    notify(q.listener, null);
                }
                if (shortWrite) {
                    return;   // the kernel is full: the next batch waits for OP_WRITE
                }
            }
            writeScheduled.set(false);
            key.interestOps(key.interestOps() & ~SelectionKey.OP_WRITE);
            if (!queue.isEmpty() && writeScheduled.compareAndSet(false, true)) {
                key.interestOps(key.interestOps() | SelectionKey.OP_WRITE);   // raced a writer
            }
        }

        private void notify(WriteListener listener, Throwable failure) {
            if (listener != null) {
                try {
                    listener.onComplete(failure);
                } catch (RuntimeException e) {
                    LOG.warn("write listener threw", e);
                }
            }
        }

        /** Loop thread: reads what is there and delivers every whole frame. */
        void read(ByteBuffer readBuffer) {
            try {
                readBuffer.clear();
                int n = channel.read(readBuffer);
                if (n < 0) {
                    closeNow(new EOFException("peer " + remote + " closed the connection"));
                    return;
                }
                bytesRead += n;
                readBuffer.flip();
                append(readBuffer);
                deliver();
            } catch (IOException | RuntimeException e) {
                closeNow(e);
            }
        }

        private void append(ByteBuffer bytes) {
            if (inbound.remaining() < bytes.remaining()) {
                ByteBuffer bigger = ByteBuffer.allocate(Math.max(inbound.capacity() * 2,
                        inbound.position() + bytes.remaining()));
                inbound.flip();
                bigger.put(inbound);
                inbound = bigger;
            }
            inbound.put(bytes);
        }

        private void deliver() {
            inbound.flip();
            int headerLength = config.frameCodec().headerLength();
            while (inbound.remaining() >= headerLength && open.get()) {
                int length = config.frameCodec().frameLength(inbound, inbound.position());
                if (length > config.maxFrameLength()) {
                    throw new ProtocolException("frame length " + length + " above maxFrameLength "
                            + config.maxFrameLength() + " from " + remote);
                }
                if (inbound.remaining() < length) {
                    break;
                }
                ByteBuffer frame = inbound.slice(inbound.position(), length);
                inbound.position(inbound.position() + length);
                framesRead++;
                handler.onFrame(this, frame);
            }
            inbound.compact();
        }

        /** Closes the socket and reports once; safe from any thread. */
        void closeNow(Throwable cause) {
            open.set(false);
            closeQuietly(channel);
            connections.remove(this);
            Queued q;
            while ((q = queue.poll()) != null) {
                notify(q.listener, new ConnectionClosedException("naive connection to " + remote + " closed", cause));
            }
            if (closedReported.compareAndSet(false, true)) {
                try {
                    handler.onClosed(this, cause);
                } catch (RuntimeException e) {
                    LOG.warn("onClosed threw", e);
                }
            }
        }

        @Override
        public boolean isWritable() {
            return true;   // it never holds anything back: that is the bug
        }

        @Override
        public long pendingBytes() {
            long pending = 0;
            for (Queued q : queue) {
                for (ByteBuffer part : q.parts) {
                    pending += part.remaining();
                }
            }
            return pending;
        }

        @Override
        public CompletableFuture<Void> close() {
            CompletableFuture<Void> done = new CompletableFuture<>();
            open.set(false);
            submit(() -> {
                closeNow(null);
                done.complete(null);
            });
            return done;
        }

        @Override
        public void abort(Throwable cause) {
            open.set(false);
            submit(() -> closeNow(cause));
        }

        @Override
        public boolean isOpen() {
            return open.get();
        }

        @Override
        public InetSocketAddress remoteAddress() {
            return remote;
        }

        @Override
        public ConnectionStats stats() {
            return new ConnectionStats(framesWritten.get(), bytesWritten.get(), framesRead, bytesRead,
                    writeCalls.get(), shortWrites.get(), zeroByteWrites.get(), 0, pendingBytes());
        }

        @Override
        public void execute(Runnable task) {
            submit(task);
        }

        /** Not part of the control: it has no timers. */
        @Override
        public Cancellable schedule(Runnable task, long delay, TimeUnit unit) {
            throw new UnsupportedOperationException("the naive control transport has no timers");
        }

        /** Not part of the control yet: it writes v4-style frames only. */
        @Override
        public void switchFraming(Framing framing) {
            if (framing != Framing.FRAMES) {
                throw new UnsupportedOperationException("the naive control transport writes frames only");
            }
        }

        /** Not part of the control: it never pauses. */
        @Override
        public void pauseReading() {
            throw new UnsupportedOperationException("the naive control transport cannot pause reading");
        }

        @Override
        public void resumeReading() {
            // never paused
        }

        @Override
        public String toString() {
            return "naive[" + remote + "]";
        }
    }
}
