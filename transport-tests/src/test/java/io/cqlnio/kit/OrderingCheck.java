package io.cqlnio.kit;

import io.cqlnio.spi.Connection;
import io.cqlnio.testkit.Await;
import io.cqlnio.testkit.LoopbackPeer;
import io.cqlnio.testkit.TestFrames;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The kit's ordering and accounting check, shared by the compatibility kit, the fault-proxy runs and the naive
 * control: {@code producers} threads write {@code perProducer} seeded frames each (mixed sizes, the story's
 * frame among them, a quarter as multi-part, heap and direct) on one connection; the peer side (this object as a
 * {@link LoopbackPeer.FrameSink}) checks every frame byte-exact and in per-producer order (invariant 1); every
 * listener must fire exactly once, with success, in per-producer order (invariants 2 and 6).
 */
final class OrderingCheck implements LoopbackPeer.FrameSink {

    private final int producers;
    private final int perProducer;
    private final long seed;
    private final int[] nextAtPeer;
    private final int[] nextListener;
    private final AtomicLong arrived = new AtomicLong();
    private final AtomicLong bytesArrived = new AtomicLong();
    private final AtomicIntegerArray fired;
    private final List<String> breaches = new CopyOnWriteArrayList<>();
    private final List<Throwable> failures = new CopyOnWriteArrayList<>();
    private final List<Thread> threads = new ArrayList<>();
    private volatile Throwable peerFailure;

    OrderingCheck(int producers, int perProducer, long seed) {
        this.producers = producers;
        this.perProducer = perProducer;
        this.seed = seed;
        this.nextAtPeer = new int[producers];
        this.nextListener = new int[producers];
        this.fired = new AtomicIntegerArray(producers * perProducer);
    }

    int total() {
        return producers * perProducer;
    }

    long arrived() {
        return arrived.get();
    }

    /** Bytes of the good frames at the peer, headers included. */
    long bytesArrived() {
        return bytesArrived.get();
    }

    Throwable peerFailure() {
        return peerFailure;
    }

    @Override
    public synchronized void onFrame(int connection, ByteBuffer frame) {
        try {
            int producer = frame.getShort(2);
            if (producer < 0 || producer >= producers) {
                throw new AssertionError("frame names producer " + producer + " (stream id): the stream is torn");
            }
            int seq = TestFrames.check(frame, producer);
            if (seq != nextAtPeer[producer]) {
                throw new AssertionError("producer " + producer + ": frame " + seq + " arrived where "
                        + nextAtPeer[producer] + " was due");
            }
            nextAtPeer[producer]++;
            bytesArrived.addAndGet(frame.remaining());
            arrived.incrementAndGet();
        } catch (AssertionError e) {
            if (peerFailure == null) {
                peerFailure = new AssertionError("peer saw a corrupt stream after " + arrived.get()
                        + " good frames: " + e.getMessage(), e);
            }
            throw e;
        }
    }

    /** Starts the producers on {@code c}; they all begin together. */
    void start(Connection c) {
        CountDownLatch go = new CountDownLatch(1);
        for (int p = 0; p < producers; p++) {
            int producer = p;
            Thread t = new Thread(() -> produce(c, producer, go), "kit-producer-" + p);
            t.setDaemon(true);
            threads.add(t);
            t.start();
        }
        go.countDown();
    }

    private void produce(Connection c, int producer, CountDownLatch go) {
        SplittableRandom random = new SplittableRandom(seed * 1_000_003L + producer);
        try {
            go.await();
        } catch (InterruptedException e) {
            return;
        }
        for (int seq = 0; seq < perProducer; seq++) {
            int slot = producer * perProducer + seq;
            int s = seq;
            ByteBuffer frame = TestFrames.frame(producer, seq, TestFrames.mixedBody(random), random.nextInt(4) == 0);
            if (random.nextInt(4) == 0) {
                c.write(TestFrames.parts(frame, random), failure -> listened(producer, s, slot, failure));
            } else {
                c.write(frame, failure -> listened(producer, s, slot, failure));
            }
        }
    }

    private void listened(int producer, int seq, int slot, Throwable failure) {
        if (fired.incrementAndGet(slot) > 1) {
            breaches.add("listener of " + producer + "/" + seq + " fired " + fired.get(slot) + " times");
        }
        if (failure != null) {
            failures.add(failure);
        }
        synchronized (nextListener) {
            if (nextListener[producer] != seq) {
                breaches.add("listener of " + producer + "/" + seq + " fired where " + nextListener[producer]
                        + " was due");
            }
            nextListener[producer] = seq + 1;
        }
    }

    boolean producing() {
        return threads.stream().anyMatch(Thread::isAlive);
    }

    void joinProducers(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        for (Thread t : threads) {
            t.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
            assertTrue(!t.isAlive(), t.getName() + " still writing after " + timeout);
        }
    }

    int listenersFired() {
        int n = 0;
        for (int i = 0; i < fired.length(); i++) {
            if (fired.get(i) > 0) {
                n++;
            }
        }
        return n;
    }

    /** Waits (bounded) for every frame at the peer and every listener, then asserts the invariants. */
    void awaitAndAssert(Connection c, Duration timeout) throws InterruptedException {
        awaitAndAssert(c, timeout, List.of());
    }

    /**
     * As {@link #awaitAndAssert(Connection, Duration)}, and stops waiting as soon as the peer reports an error
     * (a header it cannot parse fails there, before this sink sees a frame).
     */
    void awaitAndAssert(Connection c, Duration timeout, List<Throwable> peerErrors) throws InterruptedException {
        Await.until(() -> arrived.get() == total() || peerFailure != null || !peerErrors.isEmpty(), timeout,
                () -> "all " + total() + " frames at the peer: " + arrived.get() + " arrived; " + c.stats());
        if (peerFailure != null) {
            throw new AssertionError("invariant 1 broken", peerFailure);
        }
        if (!peerErrors.isEmpty()) {
            throw new AssertionError("invariant 1 broken: the peer read a corrupt stream after " + arrived.get()
                    + " good frames", peerErrors.get(0));
        }
        awaitEveryOutcome(c, timeout);
        assertTrue(failures.isEmpty(), "frames failed: " + failures.subList(0, Math.min(3, failures.size())));
    }

    /**
     * Invariants 2 and 6 whatever became of the connection: every listener fires exactly once, in per-producer
     * order, and the pending bytes drain to 0. Failures allowed (a connection that ended fails the rest).
     */
    void awaitEveryOutcome(Connection c, Duration timeout) throws InterruptedException {
        Await.until(() -> listenersFired() == total(), timeout,
                () -> "every listener: " + listenersFired() + " of " + total() + " fired");
        Await.until(() -> c.pendingBytes() == 0, timeout, () -> "pending bytes drain: " + c.pendingBytes());
        assertTrue(breaches.isEmpty(), "listener breaches: " + breaches.subList(0, Math.min(5, breaches.size())));
        for (int i = 0; i < fired.length(); i++) {
            assertEquals(1, fired.get(i), "listener " + i);
        }
    }

    /** The causes of the frames that failed. */
    List<Throwable> failures() {
        return failures;
    }
}
