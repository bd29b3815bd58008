package io.cqlnio.kit;

import io.cqlnio.spi.Connection;
import io.cqlnio.spi.FrameCodec;
import io.cqlnio.spi.IdleKind;
import io.cqlnio.spi.ProtocolException;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;
import io.cqlnio.testkit.Await;
import io.cqlnio.testkit.Closer;
import io.cqlnio.testkit.LoopbackPeer;
import io.cqlnio.testkit.TestFrames;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bad-input fuzz (invariant 4), for every implementation: a hostile peer sends (a) random bytes, (b) valid
 * frames with one header field mutated, (c) a 2 GiB declared length, (d) an endless trickle of a valid huge frame,
 * (e) garbage after a valid frame. The expected outcome of every input is computed here from the configured
 * {@link FrameCodec} (the same rules, walked over the bytes): the frames before the first invalid header are
 * delivered whole and byte-exact, then the connection closes with a {@link ProtocolException}; an input that is
 * valid but ends mid-frame closes with the peer's EOF as cause. Throughout, a healthy connection on the same loop
 * keeps exchanging frames, memory stays bounded (heap after GC plus direct buffers), and no transport thread dies.
 *
 * <p>(d) is the documented read-idle behaviour: a frame that never completes keeps its connection open (every
 * byte is progress; memory grows only with the bytes that actually arrived, never from the declared length), and
 * {@link io.cqlnio.spi.FrameHandler#onIdle} reports {@link IdleKind#READ} after {@code readIdleTimeout} without a
 * whole frame; the driver aborts there.
 *
 * <p>Seeded: {@code -Dcqlnio.fuzz.seed=N} replays a run; every failure names its seed.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class BadInputFuzzTest {

    private static final int MAX_FRAME = 256 << 20;
    private static final long MEMORY_SLACK = 64L << 20;

    private final long seed = Kit.longProperty("cqlnio.fuzz.seed", 0xC0FFEE);
    private final Closer closer = new Closer();
    private Transport transport;
    private ServerSocket hostile;
    private Connection healthy;
    private final AtomicLong echoes = new AtomicLong();
    private final AtomicInteger pinged = new AtomicInteger();
    private Set<Thread> transportThreads;

    private void setUp(String name, TransportConfig.Builder config) throws Exception {
        Set<Thread> before = new HashSet<>(Thread.getAllStackTraces().keySet());
        transport = closer.add(Transports.create(name, config.loops(1).maxFrameLength(MAX_FRAME).build()));
        LoopbackPeer echo = closer.add(new LoopbackPeer(0, false, LoopbackPeer.frames(null, true)));
        hostile = closer.add(new ServerSocket(0, 50, InetAddress.getLoopbackAddress()));
        healthy = transport.connect(echo.address(), new Recorder() {
            @Override
            public void onFrame(Connection connection, ByteBuffer frame) {
                echoes.incrementAndGet();
            }
        }).get(5, TimeUnit.SECONDS);
        assertHealthy();
        transportThreads = new HashSet<>(Thread.getAllStackTraces().keySet());
        transportThreads.removeAll(before);
        transportThreads.removeIf(t -> t.getName().startsWith("kit-"));
    }

    @BeforeEach
    void reset() {
        echoes.set(0);
        pinged.set(0);
    }

    @AfterEach
    void closeAll() throws Exception {
        closer.close();
    }

    /** The healthy connection on the same loop answers 5 frames within 5 s. */
    private void assertHealthy() throws InterruptedException {
        for (int i = 0; i < 5; i++) {
            healthy.write(TestFrames.frame(1, pinged.getAndIncrement(), 64, false), null);
        }
        int expected = pinged.get();
        Await.until(() -> echoes.get() == expected, Kit.seconds(5),
                () -> "the healthy connection on the same loop to answer (seed " + seed + "): " + echoes.get() + " of "
                        + expected);
        assertTrue(healthy.isOpen(), "the healthy connection closed");
    }

    private void assertNoThreadDied() {
        for (Thread t : transportThreads) {
            assertTrue(t.isAlive(), "transport thread " + t.getName() + " died (seed " + seed + ")");
        }
    }

    /** Heap in use after a full GC, plus every direct and mapped buffer: what the process really holds. */
    static long memoryHeld() throws InterruptedException {
        for (int i = 0; i < 2; i++) {
            System.gc();
            Thread.sleep(20);
        }
        long held = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
        for (BufferPoolMXBean pool : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) {
            held += pool.getMemoryUsed();
        }
        return held;
    }

    /** What a transport must do with {@code input}: the frames it delivers, and whether it ends in a protocol error. */
    record Expected(List<ByteBuffer> frames, boolean protocolError) {
    }

    static Expected expect(byte[] input, FrameCodec codec, int maxFrameLength) {
        List<ByteBuffer> frames = new ArrayList<>();
        ByteBuffer in = ByteBuffer.wrap(input);
        int at = 0;
        while (input.length - at >= codec.headerLength()) {
            int length;
            try {
                length = codec.frameLength(in, at);
            } catch (ProtocolException e) {
                return new Expected(frames, true);
            }
            if (length > maxFrameLength || length < codec.headerLength()) {
                return new Expected(frames, true);
            }
            if (input.length - at < length) {
                break;
            }
            frames.add(ByteBuffer.wrap(input, at, length).slice());
            at += length;
        }
        return new Expected(frames, false);
    }

    /** Connects a fresh connection to the hostile peer, which sends {@code input} then ends its output. */
    private void feed(String what, byte[] input) throws Exception {
        Expected expected = expect(input, TransportConfig.defaults().frameCodec(), MAX_FRAME);
        Recorder handler = new Recorder();
        CompletableFuture<Connection> connecting = transport.connect((InetSocketAddress) hostile.getLocalSocketAddress(),
                handler);
        try (Socket s = hostile.accept()) {
            Connection c = connecting.get(5, TimeUnit.SECONDS);
            OutputStream out = s.getOutputStream();
            out.write(input);
            out.flush();
            s.shutdownOutput();
            Throwable cause = handler.closed.get(10, TimeUnit.SECONDS);
            String context = what + " (seed " + seed + ", " + input.length + " bytes, expected "
                    + expected.frames.size() + " frames then " + (expected.protocolError ? "a ProtocolException"
                    : "EOF") + "): cause " + cause;
            assertNotNull(cause, context);
            if (expected.protocolError) {
                assertInstanceOf(ProtocolException.class, cause, context);
            } else {
                assertTrue(!(cause instanceof ProtocolException), context);
            }
            assertEquals(expected.frames.size(), handler.frames.size(), "frames delivered: " + context);
            for (int i = 0; i < expected.frames.size(); i++) {
                assertEquals(expected.frames.get(i), handler.frames.get(i), "frame " + i + ": " + context);
            }
            assertEquals(1, handler.closes.get(), context);
            assertTrue(handler.breaches.isEmpty(), handler.breaches + ": " + context);
            assertTrue(!c.isOpen(), context);
        }
    }

    private static byte[] validFrames(SplittableRandom random, int count) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < count; i++) {
            ByteBuffer f = TestFrames.response(0, i, random.nextInt(3) == 0 ? random.nextInt(20_000) : random.nextInt(200));
            out.write(f.array(), 0, f.remaining());
        }
        return out.toByteArray();
    }

    private void runChecked(String name, String what, ThrowingRunnable body) throws Exception {
        try {
            body.run();
        } catch (Throwable t) {
            throw new AssertionError("fuzz[" + name + "] " + what + " failed with seed " + seed
                    + " (-Dcqlnio.fuzz.seed=" + seed + " to replay): " + t.getMessage(), t);
        }
    }

    @FunctionalInterface
    interface ThrowingRunnable {
        void run() throws Exception;
    }

    @EachTransport
    void randomBytesMutatedHeadersHugeLengthsAndTrailingGarbage(String name) throws Exception {
        runChecked(name, "bad input", () -> {
            setUp(name, TransportConfig.builder());
            SplittableRandom random = new SplittableRandom(seed);
            long before = memoryHeld();
            // (a) random bytes
            for (int round = 0; round < 40; round++) {
                byte[] input = new byte[1 + random.nextInt(round % 4 == 0 ? 100_000 : 64)];
                random.nextBytes(input);
                feed("(a) random bytes, round " + round, input);
            }
            assertHealthy();
            // (b) valid frames, one header field of one frame mutated
            for (int round = 0; round < 60; round++) {
                int count = 1 + random.nextInt(5);
                byte[] input = validFrames(random, count);
                int target = random.nextInt(count);
                int at = offsetOfFrame(input, target);
                int field = random.nextInt(4);
                ByteBuffer b = ByteBuffer.wrap(input);
                switch (field) {
                    case 0 -> b.put(at, (byte) random.nextInt(256));                       // version
                    case 1 -> b.put(at + 1, (byte) random.nextInt(256));                   // flags
                    case 2 -> b.put(at + 4, (byte) random.nextInt(256));                   // opcode
                    default -> b.putInt(at + 5, switch (random.nextInt(4)) {               // body length
                        case 0 -> -1 - random.nextInt(Integer.MAX_VALUE);
                        case 1 -> MAX_FRAME + random.nextInt(1 << 20);
                        case 2 -> random.nextInt(64);
                        default -> b.getInt(at + 5) + 1 + random.nextInt(100);
                    });
                }
                feed("(b) frame " + target + " of " + count + ", header field " + field + " mutated, round " + round,
                        input);
            }
            assertHealthy();
            // (c) 2 GiB declared lengths: the codec's largest, and the first one past it
            for (int length : new int[]{Integer.MAX_VALUE - 9, Integer.MAX_VALUE, Integer.MIN_VALUE}) {
                byte[] header = java.util.Arrays.copyOf(TestFrames.response(0, 0, 8).array(), TestFrames.HEADER);
                ByteBuffer.wrap(header).putInt(5, length);
                byte[] input = new byte[TestFrames.HEADER + 4096];
                System.arraycopy(header, 0, input, 0, header.length);
                feed("(c) declared body length " + length, input);
            }
            assertHealthy();
            // (e) garbage after a valid frame
            for (int round = 0; round < 20; round++) {
                byte[] good = validFrames(random, 1);
                byte[] garbage = new byte[1 + random.nextInt(5000)];
                random.nextBytes(garbage);
                garbage[0] = (byte) (0x07 + random.nextInt(0x79)); // never a valid version byte: 0x07..0x7f
                byte[] input = java.util.Arrays.copyOf(good, good.length + garbage.length);
                System.arraycopy(garbage, 0, input, good.length, garbage.length);
                feed("(e) garbage after a valid frame, round " + round, input);
            }
            assertHealthy();
            assertNoThreadDied();
            long grown = memoryHeld() - before;
            assertTrue(grown < MEMORY_SLACK, "memory held grew by " + grown + " bytes over the fuzz");
        });
    }

    private static int offsetOfFrame(byte[] input, int index) {
        int at = 0;
        for (int i = 0; i < index; i++) {
            at += TestFrames.HEADER + ByteBuffer.wrap(input).getInt(at + 5);
        }
        return at;
    }

    @EachTransport
    void anEndlessTrickleOfAHugeValidFrameHoldsOnlyWhatArrivedAndGoesReadIdle(String name) throws Exception {
        runChecked(name, "(d) trickle", () -> {
            setUp(name, TransportConfig.builder().readIdleTimeout(Duration.ofMillis(400)));
            long before = memoryHeld();
            int declaredBody = 200 << 20;
            AtomicInteger readIdles = new AtomicInteger();
            IllegalStateException deadline = new IllegalStateException("no whole frame within the read-idle timeout");
            Recorder handler = new Recorder() {
                @Override
                public void onIdle(Connection connection, IdleKind kind) {
                    if (kind == IdleKind.READ && readIdles.incrementAndGet() == 3) {
                        connection.abort(deadline); // what a driver does: its heartbeat or request deadline passed
                    }
                }
            };
            CompletableFuture<Connection> connecting = transport.connect(
                    (InetSocketAddress) hostile.getLocalSocketAddress(), handler);
            try (Socket s = hostile.accept()) {
                Connection c = connecting.get(5, TimeUnit.SECONDS);
                OutputStream out = s.getOutputStream();
                ByteBuffer first = TestFrames.response(0, 0, 8);
                first.putInt(5, declaredBody);
                out.write(first.array(), 0, TestFrames.HEADER);
                out.write(new byte[1 << 20]); // 1 MiB of the 200 MiB at once, then a trickle
                out.flush();
                long start = System.nanoTime();
                long trickled = 0;
                // Trickle a byte every 2 ms until the transport reports read-idle three times and the driver aborts.
                while (!handler.closed.isDone() && Kit.millisSince(start) < 10_000) {
                    try {
                        out.write(0x5a);
                        out.flush();
                        trickled++;
                    } catch (java.io.IOException e) {
                        break; // aborted under us: that is the end we wait for
                    }
                    Thread.sleep(2);
                    if (trickled == 200) {
                        assertHealthy(); // the loop serves others while one frame trickles in
                        long held = memoryHeld() - before;
                        assertTrue(held < MEMORY_SLACK, "holding " + held + " bytes for a frame of which "
                                + ((1 << 20) + trickled) + " bytes arrived (declared " + declaredBody + ")");
                    }
                }
                long trickleMillis = Kit.millisSince(start);
                // Read-idle means "no whole frame", not "no byte": a trickle must not keep resetting it.
                assertTrue(trickleMillis < 10_000, "read-idle did not fire during " + trickleMillis + " ms of trickle"
                        + " (" + readIdles.get() + " READ idles): is it reset by bytes instead of whole frames?");
                assertEquals(deadline, handler.closed.get(5, TimeUnit.SECONDS), "read-idle never fired: "
                        + readIdles.get() + " READ idles in " + trickleMillis + " ms of trickle");
                assertTrue(trickled >= 200, "trickled only " + trickled + " bytes");
                assertEquals(0, handler.frames.size());
                assertTrue(!c.isOpen());
            }
            assertHealthy();
            assertNoThreadDied();
            long grown = memoryHeld() - before;
            assertTrue(grown < MEMORY_SLACK, "memory held grew by " + grown + " bytes");
        });
    }
}
