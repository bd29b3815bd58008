package io.cqlnio.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The two intrusive candidates {@link QueueFootprint} measures are FIFO per producer and lose nothing. */
class IntrusiveQueuesTest {

    private static final int PRODUCERS = 3;
    private static final int WINDOW = 64;
    private static final int PER_PRODUCER = 200_000;
    private static final long STALL_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(10);

    /** One element: which producer, its sequence number. */
    static final class Item extends IntrusiveNode {
        int producer;
        long sequence;
    }

    /** Both queues behind one face, for the test only. */
    interface Q {
        void offer(IntrusiveNode n);

        IntrusiveNode poll();
    }

    static Q vyukov() {
        IntrusiveMpscQueue q = new IntrusiveMpscQueue();
        return new Q() {
            public void offer(IntrusiveNode n) { q.offer(n); }
            public IntrusiveNode poll() { return q.poll(); }
        };
    }

    static Q stack() {
        IntrusiveStackQueue q = new IntrusiveStackQueue();
        return new Q() {
            public void offer(IntrusiveNode n) { q.offer(n); }
            public IntrusiveNode poll() { return q.poll(); }
        };
    }

    @Test
    void vyukovIsFifoOnOneThread() {
        fifoOnOneThread(vyukov());
    }

    @Test
    void stackIsFifoOnOneThread() {
        fifoOnOneThread(stack());
    }

    @Test
    void vyukovIsEmptyOnlyWhenDrained() {
        IntrusiveMpscQueue q = new IntrusiveMpscQueue();
        assertTrue(q.isEmpty());
        Item a = new Item();
        q.offer(a);
        assertTrue(!q.isEmpty());
        assertSame(a, q.poll());
        assertTrue(q.isEmpty());
        assertNull(q.poll());
    }

    @Test
    @Timeout(120)
    void vyukovKeepsEachProducersOrderUnderContention() throws Exception {
        contended(vyukov());
    }

    @Test
    @Timeout(120)
    void stackKeepsEachProducersOrderUnderContention() throws Exception {
        contended(stack());
    }

    private static void fifoOnOneThread(Q q) {
        Item[] items = new Item[300];
        for (int i = 0; i < items.length; i++) {
            items[i] = new Item();
        }
        for (int round = 0; round < 3; round++) {
            assertNull(q.poll());
            for (int burst : new int[]{1, 2, 17, 300}) {
                for (int i = 0; i < burst; i++) {
                    q.offer(items[i]);
                }
                for (int i = 0; i < burst; i++) {
                    assertSame(items[i], q.poll(), "element " + i + " of a burst of " + burst);
                }
                assertNull(q.poll());
            }
        }
    }

    /**
     * Producers reuse an element only once the consumer has taken it (a window, as pooled entries are reused),
     * so a queue that handed an element out while still linking through it would scramble the order here.
     */
    private static void contended(Q q) throws Exception {
        Item[][] items = new Item[PRODUCERS][WINDOW];
        AtomicLong[] consumed = new AtomicLong[PRODUCERS];
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread[] threads = new Thread[PRODUCERS];
        for (int p = 0; p < PRODUCERS; p++) {
            consumed[p] = new AtomicLong();
            for (int i = 0; i < WINDOW; i++) {
                items[p][i] = new Item();
                items[p][i].producer = p;
            }
            int id = p;
            threads[p] = new Thread(() -> {
                for (long i = 0; i < PER_PRODUCER && failure.get() == null; i++) {
                    while (i - consumed[id].get() >= WINDOW) {
                        if (failure.get() != null) {
                            return;
                        }
                        Thread.onSpinWait();
                    }
                    Item item = items[id][(int) (i % WINDOW)];
                    item.sequence = i;
                    q.offer(item);
                }
            });
            threads[p].setDaemon(true);
            threads[p].start();
        }
        long total = (long) PRODUCERS * PER_PRODUCER;
        long lastProgress = System.nanoTime();
        for (long taken = 0; taken < total; ) {
            Item item = (Item) q.poll();
            if (item == null) {
                // Producers stop only on a full window, so a long silence means elements were lost.
                if (System.nanoTime() - lastProgress > STALL_NANOS) {
                    failure.set(new AssertionError("nothing to take for 10 s after " + taken + " of " + total
                            + " elements: the rest were lost"));
                    break;
                }
                Thread.onSpinWait();
                continue;
            }
            lastProgress = System.nanoTime();
            if (item.sequence != consumed[item.producer].get()) {
                failure.set(new AssertionError("producer " + item.producer + ": got " + item.sequence
                        + ", expected " + consumed[item.producer].get()));
                break;
            }
            consumed[item.producer].set(item.sequence + 1);
            taken++;
        }
        for (Thread t : threads) {
            t.join(60_000);
        }
        if (failure.get() != null) {
            throw new AssertionError(failure.get().getMessage());
        }
        assertNull(q.poll());
        for (AtomicLong c : consumed) {
            assertEquals(PER_PRODUCER, c.get());
        }
    }
}
