package io.cqlnio.kit;

import io.cqlnio.spi.Connection;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;
import io.cqlnio.testkit.Await;
import io.cqlnio.testkit.Closer;
import io.cqlnio.testkit.TestFrames;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Timeout;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Loop liveness (invariant 3): handlers that throw close only their own connections; a handler that blocks
 * stalls its own loop (documented in {@link io.cqlnio.spi.FrameHandler}: hand slow work elsewhere) and only that
 * loop; a selector woken from 64 threads at once loses no wakeup.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class LoopLivenessTest {

    private final Closer closer = new Closer();

    @AfterEach
    void closeAll() throws Exception {
        closer.close();
    }

    /** Counts echoes and remembers the loop thread its callbacks run on. */
    static class Echoes extends Recorder {
        final AtomicLong count = new AtomicLong();
        volatile Thread thread;

        @Override
        public void onFrame(Connection connection, ByteBuffer frame) {
            thread = Thread.currentThread();
            count.incrementAndGet();
        }
    }

    private static void roundTrip(Connection c, Echoes e) throws InterruptedException {
        long before = e.count.get();
        c.write(TestFrames.frame(0, (int) before, 16, false), null);
        Await.until(() -> e.count.get() > before, Kit.seconds(10), () -> "an echo on " + c);
    }

    @EachTransport
    void handlersThatThrowCloseOnlyTheirOwnConnectionsAndTheLoopGoesOn(String name) throws Exception {
        NioEchoPeer peer = closer.add(new NioEchoPeer(0));
        Transport transport = closer.add(Transports.create(name, TransportConfig.builder().loops(1).build()));
        Echoes healthy = new Echoes();
        Connection good = transport.connect(peer.address(), healthy).get(5, TimeUnit.SECONDS);
        List<Recorder> bad = new ArrayList<>();
        List<RuntimeException> thrown = new ArrayList<>();
        // 30, not more: each one logs its stack trace twice (the transport's warning and the onClosed one).
        for (int i = 0; i < 30; i++) {
            RuntimeException boom = new IllegalStateException("handler bug #" + i);
            thrown.add(boom);
            Recorder r = new Recorder() {
                @Override
                public void onFrame(Connection connection, ByteBuffer frame) {
                    throw boom;
                }

                @Override
                public void onClosed(Connection connection, Throwable causeOrNull) {
                    super.onClosed(connection, causeOrNull);
                    throw new IllegalStateException("and onClosed throws too: ignored");
                }
            };
            bad.add(r);
            Connection c = transport.connect(peer.address(), r).get(5, TimeUnit.SECONDS);
            c.write(TestFrames.frame(0, i, 16, false), null);
            c.write(TestFrames.frame(0, i + 1, 16, false), null);
        }
        for (int i = 0; i < 30; i++) {
            int index = i;
            Await.until(() -> bad.get(index).closed.isDone(), "onClosed of throwing connection " + i);
            assertSame(thrown.get(i), bad.get(i).closed.getNow(null));
            assertEquals(1, bad.get(i).closes.get());
        }
        for (int i = 0; i < 50; i++) {
            roundTrip(good, healthy);
        }
        assertTrue(good.isOpen());
    }

    @EachTransport
    void aBlockingHandlerStallsItsOwnLoopOnly(String name) throws Exception {
        NioEchoPeer peer = closer.add(new NioEchoPeer(0));
        Transport transport = closer.add(Transports.create(name, TransportConfig.builder().loops(2).build()));
        AtomicInteger blocks = new AtomicInteger();
        Echoes blocking = new Echoes() {
            @Override
            public void onFrame(Connection connection, ByteBuffer frame) {
                super.onFrame(connection, frame);
                if (frame.getInt(frame.position() + TestFrames.HEADER + 4) >= 1_000) {
                    blocks.incrementAndGet();
                    try {
                        Thread.sleep(100); // the documented mistake: blocking the loop thread
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
            }
        };
        Echoes otherLoop = new Echoes();
        Echoes sameLoop = new Echoes();
        // Round-robin assignment puts the first and third connection on one loop, the second on the other.
        Connection a = transport.connect(peer.address(), blocking).get(5, TimeUnit.SECONDS);
        Connection b = transport.connect(peer.address(), otherLoop).get(5, TimeUnit.SECONDS);
        Connection c = transport.connect(peer.address(), sameLoop).get(5, TimeUnit.SECONDS);
        roundTrip(a, blocking);
        roundTrip(b, otherLoop);
        roundTrip(c, sameLoop);
        assertSame(blocking.thread, sameLoop.thread, "the first and third connection share a loop");
        assertNotEquals(blocking.thread, otherLoop.thread, "the second connection is on the other loop");

        // Ten echoes whose handling blocks 100 ms each: one second of a stalled loop.
        for (int i = 0; i < 10; i++) {
            a.write(TestFrames.frame(0, 1_000 + i, 16, false), null);
        }
        Await.until(() -> blocks.get() > 0, "the blocking handler to start blocking");
        long start = System.nanoTime();
        long otherTrips = 0;
        long sameTrips = 0;
        long sameStart = sameLoop.count.get();
        c.write(TestFrames.frame(0, 0, 16, false), null); // queued behind the stall
        while (blocks.get() < 10) {
            roundTrip(b, otherLoop);
            otherTrips++;
        }
        long stalledMillis = Kit.millisSince(start);
        sameTrips = sameLoop.count.get() - sameStart;
        System.out.printf("liveness[%s]: during %d ms of a blocked loop, %d round trips on the other loop, %d on"
                + " the blocked one%n", name, stalledMillis, otherTrips, sameTrips);
        assertTrue(stalledMillis >= 800, "the handler blocked only " + stalledMillis + " ms in all");
        // The other loop kept answering: at least one round trip per 20 ms of the stall on this 2-core machine.
        assertTrue(otherTrips >= stalledMillis / 20, otherTrips + " round trips on the other loop in " + stalledMillis
                + " ms");
        assertTrue(sameTrips <= 1, "a connection on the blocked loop was served " + sameTrips + " times");
        roundTrip(c, sameLoop); // and once the handler stops blocking, its loop-mates are served again
        assertTrue(a.isOpen() && b.isOpen() && c.isOpen());
    }

    @EachTransport
    void aSleepingLoopWokenBy64ThreadsAtOnceLosesNoWakeup(String name) throws Exception {
        NioEchoPeer peer = closer.add(new NioEchoPeer(0));
        // The wakeup is what this is about: with write-through a caller often writes without the loop, and a loop
        // still polling needs no wakeup; both off (settings other transports ignore), every write goes through it.
        Transport transport = closer.add(Transports.create(name, TransportConfig.builder().loops(1)
                .writeThrough(false).pollsBeforeSleep(0).build()));
        int threads = 64;
        List<Connection> connections = new ArrayList<>();
        List<Echoes> handlers = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            Echoes e = new Echoes();
            handlers.add(e);
            connections.add(transport.connect(peer.address(), e).get(5, TimeUnit.SECONDS));
        }
        Echoes sharedEchoes = new Echoes();
        Connection shared = transport.connect(peer.address(), sharedEchoes).get(5, TimeUnit.SECONDS);
        int rounds = 200;
        CyclicBarrier barrier = new CyclicBarrier(threads);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> writers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int index = t;
            Thread w = new Thread(() -> {
                try {
                    for (int r = 0; r < rounds; r++) {
                        barrier.await(30, TimeUnit.SECONDS);
                        // All 64 at once: each to its own connection and all to one shared connection.
                        connections.get(index).write(TestFrames.frame(0, r, 16, false), null);
                        shared.write(TestFrames.frame(0, r, 16, false), null);
                        long want = r + 1;
                        Await.until(() -> handlers.get(index).count.get() >= want, Kit.seconds(10),
                                () -> "echo " + want + " on connection " + index);
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                    barrier.reset();
                }
            }, "kit-waker-" + t);
            w.setDaemon(true);
            writers.add(w);
            w.start();
        }
        for (Thread w : writers) {
            w.join(TimeUnit.SECONDS.toMillis(80));
            assertFalse(w.isAlive(), w.getName() + " still waiting");
        }
        if (failure.get() != null) {
            throw new AssertionError("a wakeup was lost", failure.get());
        }
        long expected = (long) threads * rounds;
        Await.until(() -> sharedEchoes.count.get() == expected, Kit.seconds(10),
                () -> "every echo on the shared connection: " + sharedEchoes.count.get() + " of " + expected);
        for (Echoes e : handlers) {
            assertEquals(rounds, e.count.get());
        }
    }
}
