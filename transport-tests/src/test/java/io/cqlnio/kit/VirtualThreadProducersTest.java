package io.cqlnio.kit;

import io.cqlnio.spi.Connection;
import io.cqlnio.spi.ConnectionStats;
import io.cqlnio.spi.FrameHandler;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;
import io.cqlnio.spi.WriteListener;
import io.cqlnio.testkit.Await;
import io.cqlnio.testkit.TestFrames;
import jdk.jfr.consumer.RecordedEvent;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Producers on virtual threads (JDK 21+; skipped, saying why, on 17): 10,000 virtual threads share 4 connections
 * to an echo peer, the way a driver called from a virtual-thread-per-request server writes. Each producer writes a
 * burst of frames (mixed sizes, the story's frame among them, some multi-part, some direct), then parks until all of
 * them came back, and does that again. Checked: every echo byte-exact, on its producer's connection, in that
 * producer's order (invariant 1); every listener told exactly once, with success, in per-producer order
 * (invariants 2 and 6); and, through JFR, that no virtual thread blocked while pinned to its carrier.
 *
 * <p>Every claim a producer wins writes through ({@code writeThroughQuietTime} 0): the question on a virtual thread
 * is whether a caller's own socket write, or its wakeup of the loop, holds the carrier, and the default quiet time
 * would leave nearly every write of 10,000 busy producers to the loop. Run twice per implementation: with 4 KiB
 * socket buffers, where most writes end short (invariant 1 under pressure; most claims then end on the loop), and
 * with the OS defaults, where most writes complete and nio's producers write tens of thousands of frames through
 * on their own virtual threads.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class VirtualThreadProducersTest {

    private static final int PRODUCERS = (int) Kit.longProperty("cqlnio.vthreads.producers", 10_000);
    private static final int CONNECTIONS = 4;
    private static final int ROUNDS = 2;
    private static final int BURST = 3;
    private static final int PER_PRODUCER = ROUNDS * BURST;
    private static final long SEED = 21;
    /** The stream id of the warm-up frames, outside the producers' range. */
    private static final int WARM_UP = Short.MAX_VALUE;
    private static final String PREFIX = "vt-producer-";
    private static final String TINY = "4 KiB";
    private static final String DEFAULT = "default";

    @BeforeEach
    void needsVirtualThreads() {
        VirtualThreads.assumeAvailable();
    }

    /** Every implementation with 4 KiB socket buffers (short writes) and with the OS defaults (writes through). */
    static Stream<Arguments> implementationsAndBuffers() {
        return Kit.implementations().flatMap(name -> Stream.of(Arguments.of(name, TINY), Arguments.of(name, DEFAULT)));
    }

    @ParameterizedTest(name = "[{0}, {1} socket buffers]")
    @MethodSource("implementationsAndBuffers")
    void tenThousandVirtualThreadsOnFourConnectionsEveryEchoWholeAndInOrder(String name, String buffers)
            throws Exception {
        assertTrue(PRODUCERS < WARM_UP, "producers must fit a stream id");
        Echoes echoes = new Echoes();
        Listeners listeners = new Listeners();
        // A 4 KiB send buffer here and a 4 KiB receive buffer at the peer: the kernel pushes back and most writes end
        // short, so most claims end on the loop. With the OS defaults most writes complete, and producers write
        // through on their own threads. Not a 4 KiB receive buffer here: with the echoes' window below one segment,
        // Linux sends them back on its zero-window probe timer, whose backoff once (in ~100 runs) made the echoes
        // of one connection crawl past the test's timeout with the transport idle in select, waiting to read.
        boolean tiny = buffers.equals(TINY);
        TransportConfig.Builder config = TransportConfig.builder().writeThroughQuietTime(Duration.ZERO);
        if (tiny) {
            config.sendBufferSize(4096);
        }
        try (NioEchoPeer peer = new NioEchoPeer(tiny ? 4096 : 0);
             Transport transport = Transports.create(name, config.build())) {
            Connection[] connections = new Connection[CONNECTIONS];
            for (int i = 0; i < CONNECTIONS; i++) {
                connections[i] = transport.connect(peer.address(), echoes.handler(i)).get(10, TimeUnit.SECONDS);
            }
            warmUp(connections, echoes);

            long start = System.nanoTime();
            List<RecordedEvent> pinned;
            try (PinnedRecording recording = new PinnedRecording()) {
                ThreadFactory virtual = VirtualThreads.factory(PREFIX);
                CountDownLatch go = new CountDownLatch(1);
                CountDownLatch finished = new CountDownLatch(PRODUCERS);
                for (int p = 0; p < PRODUCERS; p++) {
                    int producer = p;
                    Connection c = connections[p % CONNECTIONS];
                    virtual.newThread(() -> {
                        try {
                            produce(c, producer, go, echoes, listeners);
                        } finally {
                            finished.countDown();
                        }
                    }).start();
                }
                go.countDown();
                // A torn stream leaves producers waiting for echoes that never come: stop at the first breach.
                try {
                    Await.until(() -> finished.getCount() == 0 || !echoes.breaches.isEmpty(), Kit.seconds(90),
                            () -> finished.getCount() + " producers still running; echoed " + echoes.echoed.get()
                                    + " of " + total() + "; " + stats(connections) + "; peer errors " + peer.errors()
                                    + "; " + peer.describe() + "\n" + stacks("cqlnio-", "kit-echo-peer"));
                } catch (AssertionError stalled) {
                    // A stall may be a pin (a carrier blocked): say what the recording saw before giving up.
                    List<RecordedEvent> soFar = recording.stop();
                    throw new AssertionError(stalled.getMessage() + "\njdk.VirtualThreadPinned so far: " + soFar.size()
                            + "\n" + PinnedRecording.describe(soFar.subList(0, Math.min(5, soFar.size())), 40)
                            + "\n" + VirtualThreads.stacksOf(PREFIX), stalled);
                }
                pinned = recording.stop();
            }
            long millis = Kit.millisSince(start);

            assertEquals(List.of(), echoes.breaches, "echoes");
            assertEquals(List.of(), echoes.stalled, "producers that waited in vain for their echoes");
            assertEquals(total(), echoes.echoed.get(), "frames echoed");
            listeners.awaitAndAssert();
            for (Connection c : connections) {
                Await.until(() -> c.pendingBytes() == 0, Kit.seconds(10), () -> "pending drains: " + c.stats());
                assertTrue(c.isOpen(), c + " closed");
            }
            assertEquals(0, echoes.closes.get(), "connections closed during the run");
            assertEquals(List.of(), peer.errors(), "peer errors");

            ConnectionStats sum = connections[0].stats();
            for (int i = 1; i < CONNECTIONS; i++) {
                sum = sum.plus(connections[i].stats());
            }
            List<RecordedEvent> ours = pinned.stream().filter(VirtualThreadProducersTest::ours)
                    .collect(Collectors.toList());
            System.out.printf("vthreads[%s, %s socket buffers] on JDK %s: %,d virtual threads, %,d frames (%,d bytes) echoed over %d "
                            + "connections in %,d ms; listeners told on a virtual thread %,d (of their own frame %,d); "
                            + "%,d write calls, %,d short; jdk.VirtualThreadPinned events %d (ours %d)%n",
                    name, buffers, Runtime.version(), PRODUCERS, total(), echoes.bytes.get(), CONNECTIONS, millis,
                    listeners.onVirtual.get(), listeners.onOwnProducer.get(), sum.writeCalls(), sum.shortWrites(),
                    pinned.size(), ours.size());
            if (!pinned.isEmpty()) {
                System.out.println(PinnedRecording.describe(pinned.subList(0, Math.min(10, pinned.size())), 40));
            }
            assertEquals(0, ours.size(), () -> "virtual threads blocked while pinned to their carrier:\n"
                    + PinnedRecording.describe(ours.subList(0, Math.min(5, ours.size())), 40));
            if (tiny && sum.writeCalls() > 0) {
                // Implementations that count their write calls (ours) must have met the short writes of invariant 1.
                assertTrue(sum.shortWrites() > 100, "too few short writes to prove anything: " + sum);
            }
            if (!tiny && name.equals("nio")) {
                // nio's write-through makes the socket write on the caller's thread: unless some frames were
                // retired there, this run never had a virtual thread write to the socket and proved little.
                assertTrue(listeners.onVirtual.get() > 0, "no frame was written through on a virtual thread");
            }
        }
    }

    /**
     * The pinned check can fail: a virtual thread that sleeps inside a class initialiser stays pinned on every JDK
     * (JEP 491 left class initialisers pinned), and the recording must see it, with that initialiser on its stack.
     */
    @Test
    void thePinnedCheckSeesAVirtualThreadThatSleepsInAClassInitialiser() throws Exception {
        List<RecordedEvent> events;
        try (PinnedRecording recording = new PinnedRecording()) {
            Thread t = VirtualThreads.factory(PREFIX + "control-").newThread(SleepsWhileInitialised::touch);
            t.start();
            t.join(10_000);
            assertFalse(t.isAlive(), "the control thread is stuck");
            events = recording.stop();
        }
        assertTrue(events.stream().anyMatch(e -> ours(e)
                        && PinnedRecording.describe(e, 64).contains(SleepsWhileInitialised.class.getName())),
                () -> "no pinned event for the control thread; recorded: " + PinnedRecording.describe(events, 20));
    }

    /**
     * Loads the classes of the write and read paths from this platform thread, so that no virtual thread waits on a
     * class initialiser (a wait the JDK still pins for, once per class and JVM: not the transport's doing).
     */
    private static void warmUp(Connection[] connections, Echoes echoes) throws InterruptedException {
        SplittableRandom random = new SplittableRandom(SEED);
        int sent = 0;
        for (Connection c : connections) {
            ByteBuffer heap = TestFrames.frame(WARM_UP, 0, 100, false);
            ByteBuffer direct = TestFrames.frame(WARM_UP, 1, 200, true);
            ByteBuffer parts = TestFrames.frame(WARM_UP, 2, 300, false);
            c.write(heap, null);
            c.write(direct, failure -> { });
            c.write(TestFrames.parts(parts, random), failure -> { });
            sent += 3;
        }
        int expected = sent;
        Await.until(() -> echoes.warmUps.get() == expected, Kit.seconds(10),
                () -> "warm-up echoes: " + echoes.warmUps.get() + " of " + expected);
    }

    /** One producer: {@link #ROUNDS} bursts of {@link #BURST} frames, each burst's echoes awaited (parked). */
    private static void produce(Connection c, int producer, CountDownLatch go, Echoes echoes, Listeners listeners) {
        SplittableRandom random = new SplittableRandom(SEED * 1_000_003L + producer);
        Thread self = Thread.currentThread();
        try {
            go.await();
            for (int round = 0; round < ROUNDS; round++) {
                for (int b = 0; b < BURST; b++) {
                    int seq = round * BURST + b;
                    ByteBuffer frame = TestFrames.frame(producer, seq, TestFrames.mixedBody(random),
                            random.nextInt(4) == 0);
                    WriteListener listener = listeners.of(producer, seq, self);
                    if (random.nextInt(4) == 0) {
                        c.write(TestFrames.parts(frame, random), listener);
                    } else {
                        c.write(frame, listener);
                    }
                }
                if (!echoes.permits[producer].tryAcquire(BURST, 60, TimeUnit.SECONDS)) {
                    echoes.stalled.add(producer + " in round " + round);
                    return;
                }
            }
        } catch (InterruptedException e) {
            echoes.stalled.add(producer + " interrupted");
        }
    }

    private static long total() {
        return (long) PRODUCERS * PER_PRODUCER;
    }

    private static boolean ours(RecordedEvent e) {
        return e.getThread() != null && e.getThread().getJavaName() != null
                && e.getThread().getJavaName().startsWith(PREFIX);
    }

    private static String stats(Connection[] connections) {
        StringBuilder s = new StringBuilder();
        for (Connection c : connections) {
            s.append(c).append(c.isOpen() ? " open " : " closed ").append(c.stats()).append(' ');
        }
        return s.toString();
    }

    /** The stacks of the platform threads whose names start with one of {@code prefixes}: what a stall stalls on. */
    private static String stacks(String... prefixes) {
        StringBuilder s = new StringBuilder();
        Thread.getAllStackTraces().forEach((t, stack) -> {
            for (String prefix : prefixes) {
                if (t.getName().startsWith(prefix)) {
                    s.append(t.getName()).append(' ').append(t.getState()).append('\n');
                    for (StackTraceElement e : stack) {
                        s.append("    at ").append(e).append('\n');
                    }
                    break;
                }
            }
        });
        return s.toString();
    }

    /** The client side of the echo: checks each frame that comes back, and wakes its producer. */
    private static final class Echoes {
        final Semaphore[] permits = new Semaphore[PRODUCERS];
        /** Next sequence due back per producer; each producer's frames come back on one connection's loop only. */
        final int[] next = new int[PRODUCERS];
        final AtomicLong echoed = new AtomicLong();
        final AtomicLong bytes = new AtomicLong();
        final AtomicInteger warmUps = new AtomicInteger();
        final AtomicInteger closes = new AtomicInteger();
        final List<String> breaches = new CopyOnWriteArrayList<>();
        final List<String> stalled = new CopyOnWriteArrayList<>();

        Echoes() {
            for (int p = 0; p < PRODUCERS; p++) {
                permits[p] = new Semaphore(0);
            }
        }

        FrameHandler handler(int index) {
            return new FrameHandler() {
                @Override
                public void onFrame(Connection connection, ByteBuffer frame) {
                    int producer = frame.getShort(frame.position() + 2);
                    if (producer == WARM_UP) {
                        TestFrames.check(frame, WARM_UP);
                        warmUps.incrementAndGet();
                        return;
                    }
                    try {
                        if (producer < 0 || producer >= PRODUCERS) {
                            throw new AssertionError("stream id " + producer + ": the stream is torn");
                        }
                        if (producer % CONNECTIONS != index) {
                            throw new AssertionError("producer " + producer + "'s frame came back on connection "
                                    + index);
                        }
                        int seq = TestFrames.check(frame, producer);
                        if (seq != next[producer]) {
                            throw new AssertionError("producer " + producer + ": frame " + seq + " came back where "
                                    + next[producer] + " was due");
                        }
                        next[producer]++;
                        echoed.incrementAndGet();
                        bytes.addAndGet(frame.remaining());
                        permits[producer].release();
                    } catch (AssertionError e) {
                        if (breaches.size() < 10) {
                            breaches.add("connection " + index + ": " + e.getMessage());
                        }
                    }
                }

                @Override
                public void onClosed(Connection connection, Throwable causeOrNull) {
                    closes.incrementAndGet();
                }
            };
        }
    }

    /** Every producer's write listeners: told once each, with success, in that producer's order. */
    private static final class Listeners {
        final AtomicIntegerArray fired = new AtomicIntegerArray(PRODUCERS * PER_PRODUCER);
        final AtomicIntegerArray next = new AtomicIntegerArray(PRODUCERS);
        final AtomicLong told = new AtomicLong();
        final AtomicLong onVirtual = new AtomicLong();
        final AtomicLong onOwnProducer = new AtomicLong();
        final List<String> breaches = new CopyOnWriteArrayList<>();
        final List<Throwable> failures = new CopyOnWriteArrayList<>();

        WriteListener of(int producer, int seq, Thread writer) {
            int slot = producer * PER_PRODUCER + seq;
            return failure -> {
                if (fired.incrementAndGet(slot) > 1) {
                    breaches.add("listener of " + producer + "/" + seq + " told " + fired.get(slot) + " times");
                }
                if (failure != null) {
                    failures.add(failure);
                }
                // No lock here: a listener may run on a virtual thread, and the run is about what pins.
                int due = next.get(producer);
                if (due != seq || !next.compareAndSet(producer, seq, seq + 1)) {
                    breaches.add("listener of " + producer + "/" + seq + " told where " + due + " was due");
                }
                Thread current = Thread.currentThread();
                if (current.getName().startsWith(PREFIX)) {
                    onVirtual.incrementAndGet();
                    if (current == writer) {
                        onOwnProducer.incrementAndGet();
                    }
                }
                told.incrementAndGet();
            };
        }

        void awaitAndAssert() throws InterruptedException {
            Await.until(() -> told.get() >= total(), Kit.seconds(30),
                    () -> "every listener: " + told.get() + " of " + total() + " told");
            assertEquals(List.of(), breaches.subList(0, Math.min(5, breaches.size())), "listener breaches");
            assertEquals(List.of(), failures.subList(0, Math.min(3, failures.size())), "frames failed");
            for (int i = 0; i < fired.length(); i++) {
                assertEquals(1, fired.get(i), "listener " + i / PER_PRODUCER + "/" + i % PER_PRODUCER);
            }
        }
    }

    /** The control's class: initialising it sleeps, which pins the initialising virtual thread. */
    private static final class SleepsWhileInitialised {
        static {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        static void touch() {
        }
    }
}
