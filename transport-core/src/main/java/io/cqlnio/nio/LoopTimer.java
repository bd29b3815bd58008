package io.cqlnio.nio;

import io.cqlnio.spi.Cancellable;

import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;

/**
 * One scheduled task of a loop. It is its own submission: scheduling from another thread hands the timer itself
 * to the loop as a task (no allocation besides this handle), and so does a cancel from another thread, so the
 * loop takes it out of the heap at once instead of carrying a cancelled timer until its deadline.
 */
final class LoopTimer extends TimerHeap.Node implements Cancellable, Runnable {

    private static final int PENDING = 0;
    private static final int FIRED = 1;
    private static final int CANCELLED = 2;
    private static final AtomicIntegerFieldUpdater<LoopTimer> STATE =
            AtomicIntegerFieldUpdater.newUpdater(LoopTimer.class, "state");

    private final Runnable task;
    private final Loop loop;
    private final TimerHeap heap;
    /** PENDING, FIRED or CANCELLED; a field, not an AtomicInteger, so a handle is one object. */
    private volatile int state;

    LoopTimer(Loop loop, TimerHeap heap, long deadlineNanos, Runnable task) {
        super(deadlineNanos);
        this.loop = loop;
        this.heap = heap;
        this.task = task;
    }

    @Override
    public boolean cancel() {
        if (!STATE.compareAndSet(this, PENDING, CANCELLED)) {
            return false;
        }
        if (loop.inLoop()) {
            heap.remove(this);
        } else {
            loop.execute(this);
        }
        return true;
    }

    /** Loop. Runs the task unless it was cancelled. */
    @Override
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
            heap.remove(this);
        } else if (now == PENDING && heapIndex < 0) {
            heap.add(this);
        }
    }
}
