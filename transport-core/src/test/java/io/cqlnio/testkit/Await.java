package io.cqlnio.testkit;

import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Waits that poll a condition against a deadline and fail naming what they waited for: the tests' one way to
 * wait for another thread, never a sleep that hopes it was long enough.
 */
public final class Await {

    /** Long enough for a loaded 2-core machine; a test that needs more says so. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

    private Await() {
    }

    /** Polls {@code condition} every millisecond until it holds, or fails after {@code timeout} naming {@code what}. */
    public static void until(BooleanSupplier condition, Duration timeout, Supplier<String> what)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("timed out after " + timeout.toMillis() + " ms waiting for " + what.get());
            }
            Thread.sleep(1);
        }
    }

    /** {@link #until(BooleanSupplier, Duration, Supplier)} with {@link #DEFAULT_TIMEOUT}. */
    public static void until(BooleanSupplier condition, String what) throws InterruptedException {
        until(condition, DEFAULT_TIMEOUT, () -> what);
    }
}
