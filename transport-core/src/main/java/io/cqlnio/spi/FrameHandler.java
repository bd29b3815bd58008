package io.cqlnio.spi;

import java.nio.ByteBuffer;

/**
 * What a driver does with inbound frames and connection events.
 *
 * <p>Threads: every method is called on the connection's loop thread, never concurrently for one
 * connection. A call that blocks stalls every connection on that loop, so hand slow work to another
 * executor. An exception thrown from a method closes that connection (its cause is the exception) and
 * leaves the loop serving the others.
 *
 * <p>Ownership: the buffer passed to {@link #onFrame} belongs to the transport and is reused as soon
 * as the call returns; copy what you keep.
 *
 * <pre>{@code
 * FrameHandler handler = (connection, frame) -> {
 *     int streamId = frame.getShort(frame.position() + 2);
 *     byte[] copy = new byte[frame.remaining()];
 *     frame.get(copy);                     // the buffer is only valid during this call
 *     CompletableFuture<byte[]> waiting = pending.remove(streamId);
 *     if (waiting != null) {               // a server EVENT or a late reply has no one waiting
 *         waiting.complete(copy);
 *     }
 * };
 * }</pre>
 */
@FunctionalInterface
public interface FrameHandler {

    /**
     * One whole inbound frame, header included, between {@code frame.position()} and {@code frame.limit()},
     * big-endian. Never called after {@link #onClosed}.
     * Loop thread only, never concurrently for one connection; it must not block.
     *
     * @param connection the connection it arrived on
     * @param frame      the frame; the transport's, valid only during this call: copy what you keep
     */
    void onFrame(Connection connection, ByteBuffer frame);

    /**
     * The connection's pending bytes crossed the high watermark ({@code false}) or fell back below the low
     * watermark ({@code true}). Each change is reported once; writes are still accepted when unwritable.
     * Loop thread only, never concurrently for one connection; it must not block.
     *
     * @param connection the connection whose pending bytes crossed a watermark
     * @param writable   the new value of {@link Connection#isWritable()}
     */
    default void onWritabilityChanged(Connection connection, boolean writable) {
    }

    /**
     * No frame was read ({@link IdleKind#READ}) or finished writing ({@link IdleKind#WRITE}) for the configured
     * {@code readIdleTimeout} / {@code writeIdleTimeout}; repeated every further timeout while it stays idle.
     * A driver sends its heartbeat (an OPTIONS request) here.
     * Loop thread only, never concurrently for one connection; it must not block.
     *
     * @param connection the quiet connection
     * @param kind       which direction went quiet
     */
    default void onIdle(Connection connection, IdleKind kind) {
    }

    /**
     * Called exactly once per connection that was handed out, after every unwritten frame has been failed.
     * Loop thread only, never concurrently for one connection; it must not block.
     *
     * @param connection  the connection, closed now
     * @param causeOrNull {@code null} only after a local graceful {@link Connection#close()}; otherwise the
     *                    peer's EOF or reset, the abort cause, a {@link ProtocolException} or a handler's exception
     */
    default void onClosed(Connection connection, Throwable causeOrNull) {
    }
}
