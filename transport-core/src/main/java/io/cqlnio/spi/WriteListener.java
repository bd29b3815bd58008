package io.cqlnio.spi;

/**
 * Told once how one frame ended: {@code null} when its last byte was handed to the kernel, or the cause
 * when it never will be (the connection closed or aborted first, or the write was refused).
 *
 * <p>Threads: called on the connection's loop thread, in the order the frames were accepted; a success
 * therefore implies every earlier frame on that connection succeeded. Refused writes are not accepted
 * frames and stand outside that order: a write refused because the connection was already closed, or
 * because it would pass {@code maxPendingBytes}, fails on the calling thread before {@code write}
 * returns. A frame that raced a final close fails on whichever thread found it, after every frame
 * accepted before the close has its outcome. Keep it short: it runs on the loop that serves other connections.
 * An exception thrown from it is logged and otherwise ignored.
 *
 * <pre>{@code
 * connection.write(frame, failure -> {
 *     if (failure != null) request.fail(failure);   // the frame never fully left
 * });
 * }</pre>
 */
@FunctionalInterface
public interface WriteListener {
    /**
     * @param failureOrNull {@code null} on success, otherwise why the frame was not written
     */
    void onComplete(Throwable failureOrNull);
}
