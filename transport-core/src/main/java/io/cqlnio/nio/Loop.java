package io.cqlnio.nio;

import io.cqlnio.spi.Cancellable;

/**
 * What a connection may ask of the loop it lives on; the loop's side of the contract is {@link LoopMember}.
 * Every method is safe from any thread unless it says otherwise.
 */
interface Loop {

    /** {@code true} on the loop's own thread. */
    boolean inLoop();

    /**
     * Runs {@code task} on the loop.
     *
     * @return {@code false} when the loop has terminated: the task may not run, and the caller must settle
     * whatever it was for itself (a task offered while the loop ends may still run, so that must be idempotent)
     */
    boolean execute(Runnable task);

    /**
     * Hands over a connection whose writer was just claimed: the loop flushes it on its next turn.
     *
     * @return {@code true} if that woke a sleeping loop
     */
    boolean markDirty(LoopMember member);

    /** Runs {@code task} on the loop once {@code delayNanos} has passed, never earlier; a negative delay is now. */
    Cancellable schedule(Runnable task, long delayNanos);

    /** Loop. {@code member} closed for good: its counters join the loop's totals and it leaves the loop. */
    void deregister(LoopMember member);
}
