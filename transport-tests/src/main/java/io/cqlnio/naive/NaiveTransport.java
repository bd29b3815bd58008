package io.cqlnio.naive;

import io.cqlnio.frame.Segments;
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
import java.util.zip.CRC32;

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
 *
 * <p>Protocol v5 ({@link Connection#switchFraming} with {@link Framing#V5_SEGMENTS}): the control wraps each batch
 * in segments as simply as possible, by <b>copying</b> the batch's frames into segment payloads (whole frames in
 * self-contained segments, a frame over one payload in a run of non-self-contained ones, checksums from
 * {@link Segments}), and then makes the same one gathering write whose count it ignores. The dropped tail now
 * cuts a segment, so the server's segment decoder, not its frame decoder, is the first to notice. Inbound
 * segments are unwrapped (and their CRCs checked) so that the server's answer still reaches the client.
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
        /** Protocol v5: set by {@link #switchFraming}; from then on both directions are segments. */
        private volatile boolean segments;
        /** Protocol v5: payload bytes unwrapped but not yet delivered as whole frames (loop thread only). */
        private ByteBuffer unwrapped = ByteBuffer.allocate(64 * 1024);

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
                ByteBuffer[] wire = segments ? wrapInSegments(batch) : buffers.toArray(new ByteBuffer[0]);
                long offered = 0;
                for (ByteBuffer b : wire) {
                    offered += b.remaining();
                }
                long written;
                try {
                    written = channel.write(wire);
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

        /**
         * Protocol v5, the control's way: copies the batch's frames into segments (header, payload, trailer as
         * three buffers each). Whole frames share self-contained segments up to {@link Segments#MAX_PAYLOAD}; a
         * larger frame is cut into non-self-contained ones. Correct segments: only the count of the write that
         * sends them is ignored.
         */
        private ByteBuffer[] wrapInSegments(List<Queued> batch) {
            List<ByteBuffer> wire = new ArrayList<>();
            ByteBuffer payload = ByteBuffer.allocate(Segments.MAX_PAYLOAD);
            for (Queued q : batch) {
                int length = 0;
                for (ByteBuffer part : q.parts) {
                    length += part.remaining();
                }
                if (length > Segments.MAX_PAYLOAD) {
                    addSegment(wire, payload, true);
                    ByteBuffer frame = ByteBuffer.allocate(length);
                    for (ByteBuffer part : q.parts) {
                        frame.put(part.duplicate());
                    }
                    frame.flip();
                    while (frame.hasRemaining()) {
                        int n = Math.min(frame.remaining(), Segments.MAX_PAYLOAD);
                        payload.put(frame.slice(frame.position(), n));
                        frame.position(frame.position() + n);
                        addSegment(wire, payload, false);
                    }
                    continue;
                }
                if (payload.position() + length > Segments.MAX_PAYLOAD) {
                    addSegment(wire, payload, true);
                }
                for (ByteBuffer part : q.parts) {
                    payload.put(part.duplicate());
                }
            }
            addSegment(wire, payload, true);
            return wire.toArray(new ByteBuffer[0]);
        }

        /** Appends header, a copy of {@code payload}'s bytes and trailer to {@code wire}; clears payload. */
        private void addSegment(List<ByteBuffer> wire, ByteBuffer payload, boolean selfContained) {
            if (payload.position() == 0) {
                return;
            }
            payload.flip();
            ByteBuffer copy = ByteBuffer.allocate(payload.remaining()).put(payload).flip();
            payload.clear();
            ByteBuffer header = ByteBuffer.allocate(Segments.HEADER_LENGTH);
            Segments.writeHeader(header, 0, copy.remaining(), selfContained);
            CRC32 crc = Segments.newCrc32();
            crc.update(copy.duplicate());
            ByteBuffer trailer = ByteBuffer.allocate(Segments.TRAILER_LENGTH);
            Segments.writeTrailer(trailer, 0, (int) crc.getValue());
            wire.add(header);
            wire.add(copy);
            wire.add(trailer);
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
            inbound = appendTo(inbound, bytes);
        }

        /** {@code target} (in write mode) with {@code bytes} appended, grown if needed. */
        private ByteBuffer appendTo(ByteBuffer target, ByteBuffer bytes) {
            if (target.remaining() < bytes.remaining()) {
                ByteBuffer bigger = ByteBuffer.allocate(Math.max(target.capacity() * 2,
                        target.position() + bytes.remaining()));
                target.flip();
                bigger.put(target);
                target = bigger;
            }
            return target.put(bytes);
        }

        private void deliver() {
            inbound.flip();
            // The handler may switch to segments while it handles a frame (READY): the rest is then segments.
            while (open.get() && (segments ? unwrapOneSegment() : deliverOneFrame(inbound))) {
                // one frame or one segment per turn
            }
            inbound.compact();
        }

        /** Delivers the frame at the head of {@code buf} (read mode); {@code false} if it is not all there. */
        private boolean deliverOneFrame(ByteBuffer buf) {
            int headerLength = config.frameCodec().headerLength();
            if (buf.remaining() < headerLength) {
                return false;
            }
            int length = config.frameCodec().frameLength(buf, buf.position());
            if (length > config.maxFrameLength()) {
                throw new ProtocolException("frame length " + length + " above maxFrameLength "
                        + config.maxFrameLength() + " from " + remote);
            }
            if (buf.remaining() < length) {
                return false;
            }
            ByteBuffer frame = buf.slice(buf.position(), length);
            buf.position(buf.position() + length);
            framesRead++;
            handler.onFrame(this, frame);
            return true;
        }

        /**
         * Protocol v5: moves the payload of the whole segment at the head of {@code inbound} (CRCs checked) into
         * {@link #unwrapped} and delivers the whole frames there; {@code false} if the segment is not all there.
         */
        private boolean unwrapOneSegment() {
            if (inbound.remaining() < Segments.HEADER_LENGTH) {
                return false;
            }
            int start = inbound.position();
            int header3b = Segments.readHeader(inbound, start);
            int length = Segments.payloadLength(header3b);
            if (inbound.remaining() < Segments.HEADER_LENGTH + length + Segments.TRAILER_LENGTH) {
                return false;
            }
            ByteBuffer payload = inbound.slice(start + Segments.HEADER_LENGTH, length);
            CRC32 crc = Segments.newCrc32();
            crc.update(payload.duplicate());
            int read = Segments.readTrailer(inbound, start + Segments.HEADER_LENGTH + length);
            if (read != (int) crc.getValue()) {
                throw new ProtocolException(String.format("segment payload CRC32 mismatch from %s: read 0x%08x,"
                        + " computed 0x%08x", remote, read, (int) crc.getValue()));
            }
            inbound.position(start + Segments.HEADER_LENGTH + length + Segments.TRAILER_LENGTH);
            unwrapped = appendTo(unwrapped, payload);
            unwrapped.flip();
            while (open.get() && deliverOneFrame(unwrapped)) {
                // every whole frame of the payloads so far; a frame cut by the segment waits for the next
            }
            unwrapped.compact();
            return true;
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

        /**
         * The control switches as crudely as a driver that never thought about it: a flag read by the next batch
         * and the next inbound byte. Exact only when called from {@code onFrame} on READY with nothing else being
         * written, which is how the CQL client calls it.
         */
        @Override
        public void switchFraming(Framing framing) {
            if (framing == Framing.V5_SEGMENTS_LZ4) {
                throw new UnsupportedOperationException("the naive control transport has no LZ4 segments");
            }
            if (framing == Framing.V5_SEGMENTS) {
                segments = true;
            } else if (segments) {
                throw new IllegalStateException(this + " already carries v5 segments; it cannot switch back");
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
