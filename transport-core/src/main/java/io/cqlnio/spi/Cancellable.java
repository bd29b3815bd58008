package io.cqlnio.spi;

/**
 * A task scheduled with {@link Connection#schedule}: cancel it before it runs.
 *
 * <pre>{@code
 * Cancellable timeout = connection.schedule(() -> request.fail(new TimeoutException()), 2, SECONDS);
 * ...                          // the response arrived, on the loop
 * timeout.cancel();            // O(log n) on the loop thread; from another thread, done on the loop soon after
 * }</pre>
 */
public interface Cancellable {

    /**
     * Any thread. Stops the task from running if it has not started.
     *
     * @return {@code true} if this call cancelled it; {@code false} if it already ran, is running, or was
     * cancelled before
     */
    boolean cancel();
}
