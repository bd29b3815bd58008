package io.cqlnio.nio;

import io.cqlnio.spi.Cancellable;

import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;

/**
 * One scheduled task of an {@link EventLoop}. It is its own submission: scheduling from another thread
 * hands the timer itself to the loop as a task (no allocation besides this handle), and so does a cancel
 * from another thread, so the loop can take it out of the heap at once instead of carrying a cancelled
 * timer until its deadline.
 */
final class LoopTimer implements Cancellable, Runnable {

    private static final int PENDING = 0;
    private static final int FIRED = 1;
    private static final int CANCELLED = 2;

    final long deadlineNanos;
    final Runnable task;
    private final EventLoop loop;
    private static final AtomicIntegerFieldUpdater<LoopTimer> STATE =
            AtomicIntegerFieldUpdater.newUpdater(LoopTimer.class, "state");

    /** PENDING, FIRED or CANCELLED; a field, not an AtomicInteger, so a handle is one object. */
    private volatile int state;
    /** Position in the loop's {@link TimerHeap}, or -1 when not in it. Loop only. */
    int heapIndex = -1;

    LoopTimer(EventLoop loop, long deadlineNanos, Runnable task) {
        this.loop = loop;
        this.deadlineNanos = deadlineNanos;
        this.task = task;
    }

    @Override
    public boolean cancel() {
        if (!STATE.compareAndSet(this, PENDING, CANCELLED)) {
            return false;
        }
        if (loop.inLoop()) {
            loop.timers().remove(this);
        } else {
            loop.execute(this);
        }
        return true;
    }

    /** Loop. Fires the task unless it was cancelled. */
    void fire() {
        if (STATE.compareAndSet(this, PENDING, FIRED)) {
            task.run();
        }
    }

    /** Loop: the submission from another thread, either "add me" or "take me out". */
    @Override
    public void run() {
        int now = state;
        if (now == CANCELLED) {
            loop.timers().remove(this);
        } else if (now == PENDING && heapIndex < 0) {
            loop.timers().add(this);
        }
    }
}
