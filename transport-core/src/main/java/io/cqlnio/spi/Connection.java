package io.cqlnio.spi;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * One TCP connection that carries whole frames.
 *
 * <p>Threads: {@code write}, {@code close}, {@code abort} and every query may be called from any thread.
 * Channel work and all callbacks ({@link WriteListener}, {@link FrameHandler}) run on the connection's
 * loop thread, except where {@link WriteListener} says otherwise.
 *
 * <p>Ownership: a buffer (or array of buffers) handed to {@code write} belongs to the transport from the
 * call until its listener runs; do not read, write, reuse or release it before then. The transport reads
 * it between its position and limit and may move its position and, temporarily, its limit.
 *
 * <p>Ordering: frames accepted by one thread reach the wire in the order that thread wrote them; the
 * bytes of one frame are contiguous on the wire (a short write never lets the next frame start early).
 *
 * <pre>{@code
 * try (Transport transport = Transports.create("nio", TransportConfig.defaults())) {
 *     Connection c = transport.connect(new InetSocketAddress("127.0.0.1", 9042), handler).join();
 *     c.write(optionsFrame).join();                    // completes when the kernel has every byte
 *     c.close().join();                                // flushes what was accepted, then closes
 * }
 * }</pre>
 */
public interface Connection {

    /**
     * Queues one whole frame, {@code frame.position()} to {@code frame.limit()}.
     *
     * @param listener told once how the frame ended; may be {@code null}
     */
    void write(ByteBuffer frame, WriteListener listener);

    /**
     * Queues one frame given in several parts (say a header and a body), written contiguously and in
     * array order. The array and its buffers belong to the transport until the listener runs.
     *
     * @param listener told once how the frame ended; may be {@code null}
     */
    void write(ByteBuffer[] frameParts, WriteListener listener);

    /**
     * Queues one whole frame and returns a future completed when its last byte was handed to the kernel,
     * or failed with the reason it never will be. Allocates a future per call; the listener form does not.
     */
    default CompletableFuture<Void> write(ByteBuffer frame) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        write(frame, failure -> {
            if (failure == null) {
                done.complete(null);
            } else {
                done.completeExceptionally(failure);
            }
        });
        return done;
    }

    /**
     * {@code false} from the moment pending bytes rise above the high watermark until they fall below the
     * low watermark. Advisory: writes are accepted either way.
     */
    boolean isWritable();

    /** Bytes accepted by {@code write} and not yet handed to the kernel (or failed). */
    long pendingBytes();

    /**
     * Graceful close: refuses new writes (their listeners fail with {@link ConnectionClosedException}),
     * writes everything already accepted, then closes the socket and calls {@link FrameHandler#onClosed}
     * with a {@code null} cause. The future completes when the socket is closed. Idempotent. If the peer
     * stops reading, the flush never ends: use {@link #abort} after a deadline of your choosing. Inbound bytes
     * not yet read when the socket closes are discarded, and with unread bytes the kernel resets the
     * connection, which can destroy what the peer had not read yet: close once the responses you wait for
     * have arrived.
     */
    CompletableFuture<Void> close();

    /**
     * Closes now: the socket is closed on the loop, every unwritten frame (the partly written one included)
     * fails with {@code cause}, and {@link FrameHandler#onClosed} receives {@code cause}. No-op once closed.
     */
    void abort(Throwable cause);

    /** {@code true} until {@code close()} or {@code abort()} is called or the connection fails. */
    boolean isOpen();

    InetSocketAddress remoteAddress();

    /**
     * Any thread. The TLS session once the handshake is done (protocol, cipher suite, the server's
     * certificates), or {@code null} on a plaintext connection.
     */
    default javax.net.ssl.SSLSession tlsSession() {
        return null;
    }

    /** A consistent-enough snapshot of this connection's counters; cheap, allocates one object. */
    ConnectionStats stats();

    /**
     * Any thread. Runs {@code task} on this connection's loop thread, after the tasks submitted before it.
     * Use it to touch driver state that the handler owns. The task runs even if the connection closed; it is
     * dropped silently once the transport itself is closed.
     */
    void execute(Runnable task);

    /**
     * Any thread. Runs {@code task} on this connection's loop thread once {@code delay} has passed, never
     * earlier; tasks due at the same moment run in deadline order. Allocates the returned handle and nothing
     * else, so a driver can give every request its own timeout.
     *
     * <pre>{@code
     * Cancellable t = connection.schedule(() -> fail(streamId), 12, TimeUnit.SECONDS);
     * }</pre>
     */
    Cancellable schedule(Runnable task, long delay, TimeUnit unit);

    /**
     * Any thread. Stops reading from the socket (backpressure onto a peer that floods us): frames already read
     * are held, none is lost or reordered, and no {@code onFrame} runs until {@link #resumeReading()}. Called
     * from {@code onFrame}, it takes effect after that frame. Idempotent.
     */
    void pauseReading();

    /** Any thread. Delivers held frames, then reads again. Idempotent. */
    void resumeReading();

    /**
     * Changes how frames are carried, once, mid-stream: protocol v5 wraps every byte after READY in segments.
     * Outbound, the switch takes its place in this connection's write order: frames accepted before the call
     * go out as they were, frames accepted after it go out in the new framing, and no segment mixes the two.
     * Inbound, it applies from the next byte after the frame being delivered.
     *
     * <p>Call it from {@link FrameHandler#onFrame} while handling the READY frame (on the loop thread, so the
     * inbound switch is exact) and do not write from other threads between STARTUP and READY; called from
     * another thread the inbound switch happens on the loop shortly after, which is only safe while the peer
     * sends nothing. One switch per connection; a second call fails with {@link IllegalStateException}.
     *
     * @throws UnsupportedOperationException if this transport does not implement {@code framing}
     */
    void switchFraming(Framing framing);
}
