package io.cqlnio.bench;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A bounded window of outstanding frames shared by one producer and one receiver thread. A full window
 * makes the producer wait until it drains to a low-water mark (3/4 of the window), so a saturated producer
 * is woken once per quarter window, not once per frame; the wait spins briefly, then parks, because on two
 * cores a spinning producer steals the CPU the transport needs.
 */
final class Window {

    private static final int SPINS = 128;
    private static final long PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(1);
    /** A frame not back by then is lost: the benchmark fails instead of hanging. */
    private static final long TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(10);

    private final int size;
    private final int lowWater;
    private final AtomicInteger outstanding = new AtomicInteger();
    private volatile Thread waiter;

    Window(int size) {
        this.size = size;
        this.lowWater = size * 3 / 4;
    }

    /** Producer: takes one slot, waiting while the window is full. */
    void acquire(String what) {
        if (outstanding.get() >= size) {
            await(lowWater, what);
        }
        outstanding.incrementAndGet();
    }

    /** Receiver: one frame came back. */
    void release() {
        int now = outstanding.decrementAndGet();
        if (now == lowWater || now == 0) {
            Thread w = waiter;
            if (w != null) {
                LockSupport.unpark(w);
            }
        }
    }

    /** Producer: waits until at most {@code target} frames are outstanding. */
    void await(int target, String what) {
        for (int i = 0; i < SPINS; i++) {
            if (outstanding.get() <= target) {
                return;
            }
            Thread.onSpinWait();
        }
        long deadline = System.nanoTime() + TIMEOUT_NANOS;
        waiter = Thread.currentThread();
        try {
            while (outstanding.get() > target) {
                if (System.nanoTime() - deadline > 0) {
                    throw new IllegalStateException(what + ": " + outstanding.get() + " frames still outstanding after "
                            + TimeUnit.NANOSECONDS.toSeconds(TIMEOUT_NANOS) + " s");
                }
                LockSupport.parkNanos(this, PARK_NANOS);
            }
        } finally {
            waiter = null;
        }
    }

    int outstanding() {
        return outstanding.get();
    }
}
