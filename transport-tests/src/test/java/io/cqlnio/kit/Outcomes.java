package io.cqlnio.kit;

import io.cqlnio.spi.WriteListener;
import io.cqlnio.testkit.Await;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Write listeners of frames 0..n-1 of one connection, written in that order by one thread: how often each fired
 * (invariant 2: exactly once) and in which order successes and failures came (invariant 6: successes form a
 * prefix, in order, then only failures, in order).
 */
final class Outcomes {

    final AtomicIntegerArray fired;
    final List<Throwable> failures = new CopyOnWriteArrayList<>();
    final List<Integer> order = Collections.synchronizedList(new ArrayList<>());

    Outcomes(int frames) {
        fired = new AtomicIntegerArray(frames);
    }

    /**
     * The listener of frame {@code i}; call it on the thread that writes frame {@code i}. A failure told on that
     * thread is a refusal (the connection was already closed, or the frame raced its final close): the
     * WriteListener contract runs those on the caller's thread, outside the write order, so they are checked
     * apart (never before a success of a later frame). A success told on that thread is a write-through (the
     * caller found the writer idle and wrote the frame itself): it is in the write order like one told on the loop.
     */
    WriteListener listener(int i) {
        Thread writer = Thread.currentThread();
        return failure -> {
            fired.incrementAndGet(i);
            boolean refused = failure != null && Thread.currentThread() == writer;
            if (refused) {
                this.refused.add(i);
            } else {
                synchronized (order) {
                    order.add(failure == null ? i : -1 - i);
                    how.add(Thread.currentThread().getName() + (failure == null ? " ok" : " " + failure));
                }
            }
            if (failure != null) {
                failures.add(failure);
            }
        };
    }

    /** Frames whose listener fired on the writing thread: refused, or failed after racing the close. */
    final List<Integer> refused = new CopyOnWriteArrayList<>();
    /** For each entry of {@code order}: the thread and the outcome, to diagnose an order breach. */
    private final List<String> how = new ArrayList<>();

    int count() {
        int n = 0;
        for (int i = 0; i < fired.length(); i++) {
            if (fired.get(i) > 0) {
                n++;
            }
        }
        return n;
    }

    int successes() {
        synchronized (order) {
            return (int) order.stream().filter(v -> v >= 0).count();
        }
    }

    void awaitAll(Duration timeout) throws InterruptedException {
        Await.until(() -> count() == fired.length(), timeout,
                () -> "every listener: " + count() + " of " + fired.length() + " fired");
    }

    void awaitAll() throws InterruptedException {
        awaitAll(Duration.ofSeconds(30));
    }

    /**
     * Exactly once each. On the loop: the successes form a prefix in order, followed only by failures in order.
     * Refused frames (told on the writer's thread) all come after the last success.
     */
    void assertExactlyOnceSuccessesFirst() {
        for (int i = 0; i < fired.length(); i++) {
            assertEquals(1, fired.get(i), "listener " + i + " fired " + fired.get(i) + " times");
        }
        boolean failing = false;
        int lastSuccess = -1;
        int previous = -1;
        synchronized (order) {
            for (int at = 0; at < order.size(); at++) {
                int value = order.get(at);
                int index = value < 0 ? -1 - value : value;
                int before = at;
                int prev = previous;
                assertTrue(index > previous, () -> "listener of frame " + index + " (" + how.get(before)
                        + ") fired after that of frame " + prev + " (" + how.get(before - 1) + ")");
                previous = index;
                if (value < 0) {
                    failing = true;
                } else {
                    assertFalse(failing, "frame " + value + " succeeded after an earlier frame failed");
                    lastSuccess = value;
                }
            }
        }
        for (int r : refused) {
            assertTrue(r > lastSuccess, "frame " + r + " was refused, yet later frame " + lastSuccess + " succeeded");
        }
        assertEquals(fired.length(), order.size() + refused.size());
    }
}
