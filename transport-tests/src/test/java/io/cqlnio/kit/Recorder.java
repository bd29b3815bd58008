package io.cqlnio.kit;

import io.cqlnio.spi.Connection;
import io.cqlnio.spi.FrameHandler;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Records every callback of one connection, and the contract breaches it sees: a callback off the connection's
 * first callback thread (invariant 5), a frame after {@code onClosed}, a second {@code onClosed} (invariant 6).
 * Frames are kept as copies (the handler's buffer is only valid during the call).
 */
class Recorder implements FrameHandler {

    final List<Object> events = new CopyOnWriteArrayList<>();
    final List<ByteBuffer> frames = new CopyOnWriteArrayList<>();
    final AtomicInteger closes = new AtomicInteger();
    final CompletableFuture<Throwable> closed = new CompletableFuture<>();
    final List<String> breaches = new CopyOnWriteArrayList<>();
    private volatile Thread loop;

    @Override
    public void onFrame(Connection connection, ByteBuffer frame) {
        onLoop("onFrame");
        if (closes.get() > 0) {
            breaches.add("onFrame after onClosed");
        }
        ByteBuffer copy = ByteBuffer.allocate(frame.remaining());
        copy.put(frame.duplicate()).flip();
        frames.add(copy);
        events.add("frame");
    }

    @Override
    public void onWritabilityChanged(Connection connection, boolean writable) {
        onLoop("onWritabilityChanged");
        if (closes.get() > 0) {
            breaches.add("onWritabilityChanged after onClosed");
        }
        events.add(writable);
    }

    @Override
    public void onClosed(Connection connection, Throwable causeOrNull) {
        onLoop("onClosed");
        if (closes.incrementAndGet() > 1) {
            breaches.add("onClosed #" + closes.get());
        }
        events.add("closed");
        closed.complete(causeOrNull);
    }

    /** Every callback of one connection comes on the same (loop) thread. */
    private void onLoop(String what) {
        Thread current = Thread.currentThread();
        if (loop == null) {
            loop = current;
        } else if (loop != current) {
            breaches.add(what + " on " + current.getName() + ", earlier callbacks on " + loop.getName());
        }
    }

    long frameCount() {
        return events.stream().filter("frame"::equals).count();
    }
}
