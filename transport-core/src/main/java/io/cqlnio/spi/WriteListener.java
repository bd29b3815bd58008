package io.cqlnio.spi;

/**
 * Told once how one frame ended: {@code null} when its last byte was handed to the kernel, or the cause
 * when it never will be (the connection closed or aborted first, or the write was refused).
 *
 * <p>Threads: called on the thread that retired the frame, in the order the frames were accepted; a success
 * therefore implies every earlier frame on that connection succeeded. With the {@code nio} transport that
 * thread is the connection's loop, or, when a caller of {@code write} found the writer idle and wrote through
 * ({@link TransportConfig#writeThrough()}), that caller: then the listeners of the frames its one write finished
 * (its own, and perhaps some offered just before it) run on it before {@code write} returns. A listener that
 * writes again is safe there too: the new frame is queued behind, never written or told from inside the
 * listener. Refused writes are not accepted frames and stand outside that order: a write refused because the
 * connection was already closed, or because it would pass {@code maxPendingBytes}, fails on the calling thread
 * before {@code write} returns. A frame that raced a final close fails on whichever thread found it, after every
 * frame accepted before the close has its outcome. When an abort finds a caller in the middle of writing through,
 * that caller tells the frames it holds once its write returns: possibly just after {@code onClosed}. Keep it short and never block in it: it may run on the loop
 * that serves other connections, or inside another thread's {@code write}. An exception thrown from it is logged
 * and otherwise ignored.
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
