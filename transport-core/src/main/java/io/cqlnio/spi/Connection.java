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
 * <p>Against a Cassandra node on 127.0.0.1:9042, this sends OPTIONS and prints the reply's opcode:
 * <pre>{@code
 * try (Transport transport = Transports.create("nio", TransportConfig.defaults())) {
 *     CompletableFuture<Byte> opcode = new CompletableFuture<>();
 *     FrameHandler handler = (connection, frame) ->          // loop thread; frame valid only during the call
 *             opcode.complete(frame.get(frame.position() + 4));
 *     Connection c = transport.connect(new InetSocketAddress("127.0.0.1", 9042), handler)
 *             .get(5, TimeUnit.SECONDS);
 *     ByteBuffer options = ByteBuffer.allocate(9)            // v4 OPTIONS, stream 0, empty body
 *             .put(0, (byte) 4).put(4, (byte) 5);
 *     c.write(options).get(5, TimeUnit.SECONDS);            // done when the kernel has every byte
 *     System.out.println(opcode.get(5, TimeUnit.SECONDS));  // 6: SUPPORTED
 *     c.close().get(5, TimeUnit.SECONDS);                   // flushes what was accepted, then closes
 * }
 * }</pre>
 */
public interface Connection {

    /**
     * Any thread. Queues one whole frame, {@code frame.position()} to {@code frame.limit()}, and returns
     * without waiting; the outcome goes to {@code listener}.
     *
     * @param frame    the frame, header included; the transport's until the listener runs
     * @param listener told once how the frame ended; may be {@code null}
     * @throws IllegalArgumentException with {@link TransportConfig#checkOutboundFrames()} on (the default), when
     *         the bytes do not match their own header: fewer than a header (a buffer not flipped?), a header the
     *         codec refuses, or a declared length other than the bytes given; the frame is not accepted and the
     *         listener is not called
     */
    void write(ByteBuffer frame, WriteListener listener);

    /**
     * Any thread. Queues one frame given in several parts (say a header and a body), written contiguously and
     * in array order. The array and its buffers belong to the transport until the listener runs.
     *
     * @param frameParts the frame's parts in wire order, each from its position to its limit
     * @param listener told once how the frame ended; may be {@code null}
     * @throws IllegalArgumentException as {@link #write(ByteBuffer, WriteListener)}, for the parts together
     */
    void write(ByteBuffer[] frameParts, WriteListener listener);

    /**
     * Any thread. Queues one whole frame and returns a future completed when its last byte was handed to the
     * kernel, or failed with the reason it never will be. Allocates a future per call; the listener form does not.
     *
     * @param frame the frame, header included; the transport's until the future completes
     * @return completed (on the thread that retired the frame) with {@code null}, or failed with the cause
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
     * low watermark. Advisory: writes are accepted either way. Any thread.
     *
     * @return whether pending bytes are below the high watermark (or back below the low one)
     */
    boolean isWritable();

    /**
     * {@return bytes accepted by {@code write} and not yet handed to the kernel (or failed)} Any thread. Over
     * {@link Framing#V5_SEGMENTS_LZ4} a frame's bytes leave the count when they are compressed into a segment, which
     * happens about one write (at most 256 KiB of segments) ahead of the kernel.
     */
    long pendingBytes();

    /**
     * Graceful close. In the {@code nio} transport:
     * <ol>
     * <li>refuses new writes (their listeners fail with {@link ConnectionClosedException});</li>
     * <li>writes everything already accepted (under TLS, then close_notify);</li>
     * <li>half-closes the socket (FIN after the last byte) and keeps reading until the peer ends its side or
     *     {@link TransportConfig#closeDrainTimeout()} passes (2 s by default), delivering inbound frames to
     *     {@link FrameHandler#onFrame} as usual;</li>
     * <li>drops what is still unread, closes the socket and calls {@link FrameHandler#onClosed} with a {@code null}
     *     cause (or the error that ended the drain: a failed read, a protocol error, a handler's exception).</li>
     * </ol>
     * Why the drain: closing a socket with unread bytes makes the kernel send a reset, and a reset discards what is
     * still in the send queue, frames whose listeners had already succeeded. Dropping the unread bytes first makes
     * the close a FIN, after which the kernel still delivers the rest; only bytes arriving after that (or more than
     * 16 MiB unread) can make it a reset. With reading paused the peer's end cannot be seen, so the drain lasts the
     * whole timeout. Replies arrive during the drain only if the server sent them before it saw our FIN or keeps
     * writing after it (many close at once): close once the responses you wait for have arrived. If the peer
     * stops reading, step 2 never ends: use {@link #abort} after a deadline of your choosing. Other transports
     * (the Netty baseline) close right after step 2. Idempotent. Any thread.
     *
     * <pre>{@code
     * connection.close().get(5, TimeUnit.SECONDS); // every frame written, the peer's side ended (or 2 s passed)
     * }</pre>
     *
     * @return completed with {@code null} once the socket is closed; the same future on every call
     */
    CompletableFuture<Void> close();

    /**
     * Closes now: the socket is closed on the loop, every unwritten frame (the partly written one included)
     * fails with {@code cause}, and {@link FrameHandler#onClosed} receives {@code cause}. No-op once closed.
     * Any thread; it does not wait for the socket to close. It also ends a graceful {@link #close()} at once,
     * drain included.
     *
     * @param cause what the unwritten frames fail with and {@code onClosed} receives; should be non-null
     */
    void abort(Throwable cause);

    /** {@return {@code true} until {@code close()} or {@code abort()} is called or the connection fails} Any thread. */
    boolean isOpen();

    /** {@return the address this connection was opened to, as given to {@code connect}} Any thread. */
    InetSocketAddress remoteAddress();

    /**
     * Any thread.
     *
     * @return the TLS session once the handshake is done (protocol, cipher suite, the server's certificates),
     *         or {@code null} on a plaintext connection
     */
    default javax.net.ssl.SSLSession tlsSession() {
        return null;
    }

    /** {@return a consistent-enough snapshot of this connection's counters; cheap, allocates one object} Any thread. */
    ConnectionStats stats();

    /**
     * Any thread. Runs {@code task} on this connection's loop thread, after the tasks submitted before it.
     * Use it to touch driver state that the handler owns. The task runs even if the connection closed; it is
     * dropped silently once the transport itself is closed.
     *
     * @param task what to run on the loop; it must not block
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
     *
     * @param task  what to run on the loop; it must not block
     * @param delay how long to wait at least, in {@code unit}; zero or negative means "as soon as possible",
     *              as with {@link java.util.concurrent.ScheduledExecutorService}, so a driver computing
     *              {@code deadline - now} after the deadline still gets its task run
     * @param unit  the unit of {@code delay}
     * @return a handle that cancels the task if it has not run yet
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
     * sends nothing. One switch per connection: a second switch to segments, or a switch back to
     * {@link Framing#FRAMES} after it, fails with {@link IllegalStateException}. Asking for {@code FRAMES} while
     * the connection still carries frames changes nothing and is allowed any number of times (a driver that
     * negotiated v4 may state its framing without tracking whether it already did).
     *
     * <p>{@link Framing#V5_SEGMENTS_LZ4} compresses every segment both ways; it is what a STARTUP with
     * {@code COMPRESSION: lz4} agreed with the server, and needs {@code at.yawk.lz4:lz4-java} at run time.
     *
     * @param framing the framing for every later frame
     * @throws UnsupportedOperationException if this transport does not implement {@code framing}, or if
     *                                       {@code framing} is {@link Framing#V5_SEGMENTS_LZ4} and
     *                                       {@code at.yawk.lz4:lz4-java} is not on the class path (nothing
     *                                       changes then)
     */
    void switchFraming(Framing framing);
}
