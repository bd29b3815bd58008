package io.cqlnio.kit;

import io.cqlnio.spi.Connection;
import io.cqlnio.spi.ConnectionStats;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;
import io.cqlnio.testkit.Await;
import io.cqlnio.testkit.LoopbackPeer;
import io.cqlnio.testkit.TestFrames;
import org.junit.jupiter.api.Timeout;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The short-write storm (invariants 1 and 2 at volume): 16 producers write 1,000,000 frames on one connection,
 * sizes drawn from a heavy-tailed distribution from 1 byte to 1 MiB with the origin story's 23,937-byte frame
 * common, SO_SNDBUF 4 KiB, and a throttled peer with a 4 KiB receive buffer that also pauses now and then.
 * Zero corrupted frames, zero lost or repeated listeners, listeners in per-producer order.
 *
 * <p>Frames here are not CQL frames (a 1-byte frame has no room for a header; the write path never looks inside
 * a frame): each frame's first byte is {@code 0xA0 | producer}, every other byte a function of (producer,
 * sequence, index), and the peer replays each producer's seeded size sequence, so it knows every frame's length
 * and content and a tear, a shift or a reorder fails at the first wrong byte.
 *
 * <p>System properties: {@code cqlnio.storm.frames} (default 1,000,000; raise it for a soak),
 * {@code cqlnio.storm.seed}, {@code cqlnio.storm.peerBytesPerSecond} (default 64 MiB/s), and
 * {@code cqlnio.storm.transports} (default: every kit implementation).
 */
class ShortWriteStormTest {

    private static final int PRODUCERS = 16;
    private static final int MAX_FRAME = 1 << 20;
    private static final long IN_FLIGHT_BYTES = 16L << 20;

    /** One producer's frame sizes: the story's frame 2 % of the time, else Pareto(alpha 0.8) over 1 B .. 1 MiB. */
    static int nextSize(SplittableRandom random) {
        if (random.nextInt(50) == 0) {
            return TestFrames.STORY_FRAME;
        }
        double u = 1.0 - random.nextDouble(); // (0, 1]
        double size = Math.pow(u, -1.0 / 0.8);
        return size >= MAX_FRAME ? MAX_FRAME : Math.max(1, (int) size);
    }

    static byte fill(int producer, int seq, int index) {
        return (byte) (producer * 31 + seq * 17 + index * 7 + (index >>> 8));
    }

    @EachTransport
    @Timeout(value = 8, unit = TimeUnit.MINUTES)
    void aMillionHeavyTailedFramesThroughShortWrites(String name) throws Exception {
        String only = System.getProperty("cqlnio.storm.transports", "");
        org.junit.jupiter.api.Assumptions.assumeTrue(only.isBlank() || List.of(only.split(",")).contains(name),
                "storm not asked for " + name);
        long frames = Kit.longProperty("cqlnio.storm.frames", 1_000_000);
        long seed = Kit.longProperty("cqlnio.storm.seed", 20_261_126);
        long peerRate = Kit.longProperty("cqlnio.storm.peerBytesPerSecond", 64L << 20);
        int perProducer = (int) (frames / PRODUCERS);
        try {
            run(name, perProducer, seed, peerRate);
        } catch (Throwable t) {
            throw new AssertionError("storm[" + name + "] failed with seed " + seed + " (-Dcqlnio.storm.seed=" + seed
                    + " to replay): " + t.getMessage(), t);
        }
    }

    private void run(String name, int perProducer, long seed, long peerRate) throws Exception {
        int total = perProducer * PRODUCERS;
        AtomicLong framesAtPeer = new AtomicLong();
        AtomicLong bytesAtPeer = new AtomicLong();
        List<Throwable> peerFailures = new CopyOnWriteArrayList<>();
        LoopbackPeer.Server verifier = (index, socket) -> verify(socket, perProducer, seed, peerRate, framesAtPeer,
                bytesAtPeer);
        try (LoopbackPeer peer = new LoopbackPeer(4096, false, verifier);
             Transport transport = Transports.create(name, TransportConfig.builder().sendBufferSize(4096)
                     .receiveBufferSize(4096).checkOutboundFrames(false).build())) { // raw byte frames, no CQL header
            Connection c = transport.connect(peer.address(), new Recorder()).get(5, TimeUnit.SECONDS);
            AtomicIntegerArray fired = new AtomicIntegerArray(total);
            int[] nextListener = new int[PRODUCERS];
            List<String> breaches = new CopyOnWriteArrayList<>();
            AtomicLong failures = new AtomicLong();
            AtomicLong bytesOffered = new AtomicLong();
            Semaphore inFlight = new Semaphore((int) IN_FLIGHT_BYTES);
            CountDownLatch go = new CountDownLatch(1);
            List<Thread> producers = new ArrayList<>();
            long start = System.nanoTime();
            for (int p = 0; p < PRODUCERS; p++) {
                int producer = p;
                Thread t = new Thread(() -> {
                    SplittableRandom sizes = new SplittableRandom(seed * 1_000_003L + producer);
                    SplittableRandom shapes = new SplittableRandom(~seed * 7 + producer);
                    try {
                        go.await();
                        for (int seq = 0; seq < perProducer; seq++) {
                            int size = nextSize(sizes);
                            int permits = (int) Math.min(size, IN_FLIGHT_BYTES);
                            inFlight.acquire(permits);
                            ByteBuffer frame = frame(producer, seq, size, shapes.nextInt(8) == 0);
                            bytesOffered.addAndGet(size);
                            int slot = producer * perProducer + seq;
                            int s = seq;
                            io.cqlnio.spi.WriteListener listener = failure -> {
                                inFlight.release(permits);
                                if (fired.incrementAndGet(slot) != 1) {
                                    breaches.add("listener " + producer + "/" + s + " fired again");
                                }
                                if (failure != null) {
                                    failures.incrementAndGet();
                                }
                                // One loop thread calls the listeners of one connection.
                                if (nextListener[producer] != s) {
                                    breaches.add("listener " + producer + "/" + s + " where " + nextListener[producer]
                                            + " was due");
                                }
                                nextListener[producer] = s + 1;
                            };
                            if (size >= 2 && shapes.nextInt(4) == 0) {
                                c.write(TestFrames.parts(frame, shapes), listener);
                            } else {
                                c.write(frame, listener);
                            }
                        }
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }, "storm-producer-" + p);
                t.setDaemon(true);
                producers.add(t);
                t.start();
            }
            go.countDown();
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(6);
            Await.until(() -> framesAtPeer.get() == total || !peer.errors().isEmpty(),
                    java.time.Duration.ofNanos(deadline - System.nanoTime()),
                    () -> "every frame at the peer: " + framesAtPeer.get() + " of " + total + "; " + c.stats());
            if (!peer.errors().isEmpty()) {
                throw new AssertionError("the peer saw a corrupt stream after " + framesAtPeer.get() + " good frames",
                        peer.errors().get(0));
            }
            for (Thread t : producers) {
                t.join(TimeUnit.SECONDS.toMillis(30));
            }
            Await.until(() -> inFlight.availablePermits() == IN_FLIGHT_BYTES, Kit.seconds(30),
                    () -> "every listener: " + (IN_FLIGHT_BYTES - inFlight.availablePermits()) + " bytes unreported");
            long millis = Kit.millisSince(start);
            for (int i = 0; i < total; i++) {
                assertEquals(1, fired.get(i), "listener of frame slot " + i);
            }
            assertTrue(breaches.isEmpty(), breaches.subList(0, Math.min(5, breaches.size())).toString());
            assertEquals(0, failures.get(), "frames failed");
            assertEquals(bytesOffered.get(), bytesAtPeer.get(), "bytes at the peer");
            assertTrue(peerFailures.isEmpty());
            ConnectionStats stats = c.stats();
            System.out.printf(Locale.ROOT, "storm[%s] seed %d: %,d frames, %,d bytes in %.1f s (%,.0f frames/s);"
                            + " stats: %,d write calls, %,d short writes (%,d zero-byte)%n", name, seed, total,
                    bytesAtPeer.get(), millis / 1000.0, total * 1000.0 / Math.max(1, millis), stats.writeCalls(),
                    stats.shortWrites(), stats.zeroByteWrites());
            if (stats.writeCalls() > 0) {
                // Implementations that count their write calls (ours) must have seen the storm they were built for.
                assertTrue(stats.shortWrites() > 1000, "too few short writes to prove anything: " + stats);
            }
        }
    }

    private static ByteBuffer frame(int producer, int seq, int size, boolean direct) {
        byte[] bytes = new byte[size];
        bytes[0] = (byte) (0xA0 | producer);
        for (int i = 1; i < size; i++) {
            bytes[i] = fill(producer, seq, i);
        }
        if (!direct) {
            return ByteBuffer.wrap(bytes);
        }
        return ByteBuffer.allocateDirect(size).put(bytes).flip();
    }

    /** The peer: replays every producer's sizes, checks every byte, reads at {@code rate} with a pause now and then. */
    private static void verify(Socket socket, int perProducer, long seed, long rate, AtomicLong frames,
                               AtomicLong bytes) throws IOException, InterruptedException {
        InputStream in = new BufferedInputStream(socket.getInputStream(), 64 * 1024);
        SplittableRandom[] sizes = new SplittableRandom[PRODUCERS];
        int[] next = new int[PRODUCERS];
        for (int p = 0; p < PRODUCERS; p++) {
            sizes[p] = new SplittableRandom(seed * 1_000_003L + p);
        }
        byte[] body = new byte[MAX_FRAME];
        long start = System.nanoTime();
        long read = 0;
        long nextPause = 32L << 20;
        while (true) {
            int first = in.read();
            if (first < 0) {
                return;
            }
            if ((first & 0xF0) != 0xA0) {
                throw new AssertionError(String.format("frame %,d starts with 0x%02x, not 0xA0|producer: the stream is"
                        + " torn after %,d bytes", frames.get(), first, read));
            }
            int producer = first & 0x0F;
            int seq = next[producer]++;
            if (seq >= perProducer) {
                throw new AssertionError("producer " + producer + " sent more than " + perProducer + " frames");
            }
            int size = nextSize(sizes[producer]);
            readFully(in, body, size - 1);
            for (int i = 1; i < size; i++) {
                if (body[i - 1] != fill(producer, seq, i)) {
                    throw new AssertionError(String.format("frame %d/%d (%,d bytes) byte %,d is wrong, %,d bytes into"
                            + " the stream", producer, seq, size, i, read));
                }
            }
            read += size;
            bytes.addAndGet(size);
            frames.incrementAndGet();
            if (rate > 0) {
                long due = start + read * 1_000_000_000L / rate;
                long wait = due - System.nanoTime();
                if (wait > 1_000_000) {
                    TimeUnit.NANOSECONDS.sleep(wait);
                }
            }
            if (read >= nextPause) {
                // A 20 ms pause every 32 MiB: the sender's kernel buffer fills and its writes return 0.
                nextPause += 32L << 20;
                Thread.sleep(20);
                start += 20_000_000L;
            }
        }
    }

    private static void readFully(InputStream in, byte[] b, int n) throws IOException {
        int at = 0;
        while (at < n) {
            int r = in.read(b, at, n - at);
            if (r < 0) {
                throw new EOFException("stream ended " + (n - at) + " bytes before the end of a frame");
            }
            at += r;
        }
    }
}
