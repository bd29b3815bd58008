package io.cqlnio.bench;

import io.cqlnio.spi.Connection;
import io.cqlnio.spi.FrameHandler;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.WriteListener;
import org.jctools.queues.SpscArrayQueue;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;

/**
 * A benchmark connection driven only through {@code io.cqlnio.spi}. Frame buffers are direct and pooled:
 * each {@link Slot} owns one frame and is its own write listener, so the benchmark allocates nothing per
 * frame and {@code -prof gc} shows the transport alone.
 */
final class SpiBenchConnection implements BenchConnection, FrameHandler {

    private final Connection connection;
    private final Window window;
    private final boolean oneWay;
    /** Free slots: taken by the producer, given back by the write listener (the loop thread). */
    private final SpscArrayQueue<Slot> free;
    private volatile Throwable failure;
    // Written by the loop thread only.
    private volatile long frames;
    private volatile long bytes;

    /** One pooled frame; listens for its own write. */
    private final class Slot implements WriteListener {
        final ByteBuffer frame;
        final int length;

        Slot(ByteBuffer frame) {
            this.frame = frame;
            this.length = frame.remaining();
        }

        @Override
        public void onComplete(Throwable failureOrNull) {
            if (failureOrNull != null) {
                failure = failureOrNull;
            }
            if (oneWay) {
                received(length);
            }
            free.offer(this);
        }
    }

    SpiBenchConnection(Transport transport, InetSocketAddress peer, int frameSize, int windowSize, boolean oneWay,
                       boolean randomBodies) throws Exception {
        this.window = new Window(windowSize);
        this.oneWay = oneWay;
        // Twice the window: a frame's echo can overtake its own write listener by a little.
        int slots = 2 * windowSize + 2;
        this.free = new SpscArrayQueue<>(slots);
        for (int i = 0; i < slots; i++) {
            free.offer(new Slot(Frames.newFrame(i, frameSize, randomBodies)));
        }
        this.connection = transport.connect(peer, this).get(10, TimeUnit.SECONDS);
    }

    /** Protocol v5 both ways at once: safe before the first frame, and the echo peer returns our segments. */
    void switchFraming(io.cqlnio.spi.Framing framing) {
        connection.switchFraming(framing);
    }

    @Override
    public void send() {
        Throwable f = failure;
        if (f != null) {
            throw new IllegalStateException("a write failed on " + connection, f);
        }
        window.acquire(String.valueOf(connection));
        Slot slot = free.poll();
        if (slot == null) {
            slot = awaitSlot();
        }
        ByteBuffer frame = slot.frame;
        frame.limit(slot.length).position(0); // the transport may have moved them
        connection.write(frame, slot);
    }

    private Slot awaitSlot() {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        Slot slot;
        while ((slot = free.poll()) == null) {
            if (System.nanoTime() - deadline > 0) {
                throw new IllegalStateException("no frame buffer came back from " + connection + " within 10 s");
            }
            Thread.yield();
        }
        return slot;
    }

    @Override
    public void awaitIdle() {
        window.await(0, String.valueOf(connection));
    }

    @Override
    public void onFrame(Connection c, ByteBuffer frame) {
        if (!oneWay) {
            received(frame.remaining());
        }
    }

    private void received(int length) {
        // Single writer (the loop thread): a plain increment published by the volatile store.
        frames = frames + 1;
        bytes = bytes + length;
        window.release();
    }

    @Override
    public void onClosed(Connection c, Throwable causeOrNull) {
        if (causeOrNull != null && failure == null) {
            failure = causeOrNull;
        }
    }

    @Override
    public long frames() {
        return frames;
    }

    @Override
    public long bytes() {
        return bytes;
    }

    @Override
    public long writeCalls() {
        return connection.stats().writeCalls();
    }

    @Override
    public long wireBytesWritten() {
        return connection.stats().bytesWritten();
    }

    @Override
    public void close() {
        try {
            connection.close().get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            connection.abort(e);
        }
    }
}
