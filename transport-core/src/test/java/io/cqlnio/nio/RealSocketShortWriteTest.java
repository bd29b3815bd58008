package io.cqlnio.nio;

import io.cqlnio.testkit.TestFrames;
import io.cqlnio.spi.Connection;
import io.cqlnio.spi.ConnectionStats;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;
import io.cqlnio.spi.TlsConfig;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Invariant 1 and 2 over real sockets: tiny socket buffers on both sides and a peer that starts stalled make
 * the kernel accept partial writes; every frame must still arrive byte-exact, in per-producer order, and
 * every listener must fire exactly once with success. Over TLS too, where what goes short is ciphertext and
 * the peer would see a bad record (not just a torn frame) if any byte of it were lost.
 */
class RealSocketShortWriteTest {

    private static final int PRODUCERS = 8;
    private static final int FRAMES_PER_PRODUCER = 12_500; // 100,000 in all

    @ParameterizedTest(name = "tls={0}")
    @ValueSource(booleans = {false, true})
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void everyFrameArrivesIntactInOrderThroughShortWrites(boolean tls) throws Exception {
        int[] nextSeq = new int[PRODUCERS];
        AtomicReference<Throwable> peerFailure = new AtomicReference<>();
        AtomicLong framesAtPeer = new AtomicLong();
        CountDownLatch allArrived = new CountDownLatch(PRODUCERS * FRAMES_PER_PRODUCER);
        try (FramePeer peer = new FramePeer(tls ? TestTls.serverContext() : null, 4096, true, false, (conn, frame) -> {
            try {
                int producer = frame.getShort(2);
                int seq = TestFrames.check(frame, producer);
                if (seq != nextSeq[producer]) { // one reader thread: plain array is fine
                    throw new AssertionError("producer " + producer + ": frame " + seq + " arrived where "
                            + nextSeq[producer] + " was due");
                }
                nextSeq[producer]++;
                framesAtPeer.incrementAndGet();
                allArrived.countDown();
            } catch (Throwable t) {
                peerFailure.compareAndSet(null, t);
                throw t;
            }
        });
             Transport transport = Transports.create("nio", TransportConfig.builder()
                     .sendBufferSize(4096).receiveBufferSize(4096)
                     .tls(tls ? TlsConfig.of(TestTls.clientContext()) : null).build())) {

            Connection c = transport.connect(peer.address(), (conn, frame) -> { }).get(5, TimeUnit.SECONDS);
            AtomicIntegerArray outcomes = new AtomicIntegerArray(PRODUCERS * FRAMES_PER_PRODUCER);
            AtomicLong failures = new AtomicLong();
            List<Thread> producers = new ArrayList<>();
            CountDownLatch start = new CountDownLatch(1);
            for (int p = 0; p < PRODUCERS; p++) {
                int producer = p;
                Thread t = new Thread(() -> {
                    SplittableRandom random = new SplittableRandom(42 + producer);
                    try {
                        start.await();
                    } catch (InterruptedException e) {
                        return;
                    }
                    for (int seq = 0; seq < FRAMES_PER_PRODUCER; seq++) {
                        int body = bodySize(random);
                        int slot = producer * FRAMES_PER_PRODUCER + seq;
                        ByteBuffer frame = TestFrames.frame(producer, seq, body, random.nextBoolean());
                        if (random.nextInt(4) == 0) {
                            // The same frame as header + body parts: must go out contiguously.
                            ByteBuffer header = frame.duplicate().limit(TestFrames.HEADER);
                            ByteBuffer rest = frame.duplicate().position(TestFrames.HEADER);
                            c.write(new ByteBuffer[]{header, rest}, failure -> record(outcomes, slot, failure, failures));
                        } else {
                            c.write(frame, failure -> record(outcomes, slot, failure, failures));
                        }
                    }
                }, "producer-" + p);
                producers.add(t);
                t.start();
            }
            start.countDown();
            // Let the stalled peer's and our buffers fill before it starts reading.
            while (c.pendingBytes() < 256 * 1024 && producers.stream().anyMatch(Thread::isAlive)) {
                Thread.onSpinWait();
            }
            peer.release();
            for (Thread t : producers) {
                t.join();
            }
            assertTrue(allArrived.await(90, TimeUnit.SECONDS),
                    "frames at peer: " + framesAtPeer.get() + ", peer failure: " + peerFailure.get()
                            + ", peer errors: " + peer.errors());
            if (peerFailure.get() != null) {
                throw new AssertionError("peer saw a corrupt stream", peerFailure.get());
            }
            awaitCondition(() -> c.pendingBytes() == 0, "pending bytes drain");
            for (int i = 0; i < outcomes.length(); i++) {
                awaitCondition(outcomeSet(outcomes, i), "listener of frame " + i);
                assertEquals(1, outcomes.get(i), "listener of frame " + i + " fired " + outcomes.get(i) + " times");
            }
            assertEquals(0, failures.get());
            ConnectionStats stats = c.stats();
            assertEquals(PRODUCERS * FRAMES_PER_PRODUCER, stats.framesWritten());
            assertTrue(stats.shortWrites() > 0, "no short write happened, the test proved nothing: " + stats);
            assertTrue(peer.errors().isEmpty(), "peer errors: " + peer.errors());
            if (tls) {
                assertEquals("TLSv1.3", c.tlsSession().getProtocol());
            }
            System.out.println("real-socket short writes" + (tls ? " over TLS: " : ": ") + stats);
        }
    }

    /** Mostly small frames, some mid-size, and the origin story's 23,928-byte body one time in fifty. */
    static int bodySize(SplittableRandom random) {
        int r = random.nextInt(100);
        if (r < 2) {
            return TestFrames.STORY_BODY;
        }
        if (r < 10) {
            return 1024 + random.nextInt(8192);
        }
        return 8 + random.nextInt(300);
    }

    private static void record(AtomicIntegerArray outcomes, int slot, Throwable failure, AtomicLong failures) {
        outcomes.incrementAndGet(slot);
        if (failure != null) {
            failures.incrementAndGet();
        }
    }

    private static java.util.function.BooleanSupplier outcomeSet(AtomicIntegerArray outcomes, int i) {
        return () -> outcomes.get(i) > 0;
    }

    static void awaitCondition(java.util.function.BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(1);
        }
    }
}
