package io.cqlnio.v5;

import io.cqlnio.frame.Segments;
import io.cqlnio.spi.Connection;
import io.cqlnio.spi.ConnectionStats;
import io.cqlnio.spi.FrameHandler;
import io.cqlnio.spi.Framing;
import io.cqlnio.spi.ProtocolException;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Kit-style checks of {@code nio} with v5 segment framing switched on, over loopback against {@link SegmentPeer}
 * (no Cassandra): ordering and byte-exactness through short writes, the accounting of segment overhead, frames of
 * every size class (empty, small, exactly one payload, one byte over, 1 MiB), pause and resume in the middle of
 * segments, the switch taking its place in the write order, and the CRC checks failing when a bit flips. The
 * naive control runs against the same checking peer to show the checks can fail.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class V5LoopbackTest {

    private static final long WAIT_S = 30;
    /** Frame sizes (header included) that hit every packing case of the write path. */
    private static final int[] SIZES = {9, 73, 1_033, 23_933, Segments.MAX_PAYLOAD, Segments.MAX_PAYLOAD + 1, 300,
            (1 << 20) + 9, 9, 64_000, 64_000, 5_000};

    /**
     * The smallest send buffer the kernel allows: with megabytes queued our writes come up short again and again.
     * The receive buffer stays at its default on purpose: with minimal windows at both ends of an echo, loopback
     * TCP was seen to stall for tens of seconds (loop idle in select, peer blocked in write), which is the
     * kernel's zero-window probing, not what these tests are about.
     */
    private static TransportConfig smallest() {
        return TransportConfig.builder().sendBufferSize(1).build();
    }

    /** A request frame of {@code size} bytes (header included): v5 header, body = seq then a seq-derived pattern. */
    static byte[] frame(int seq, int size) {
        ByteBuffer f = ByteBuffer.allocate(size);
        f.put((byte) 0x05).put((byte) 0).putShort((short) (seq & 0x7fff)).put((byte) 0x07).putInt(size - 9);
        if (size >= 13) {
            f.putInt(seq);
        }
        while (f.hasRemaining()) {
            f.put((byte) (f.position() * 31 + seq));
        }
        return f.array();
    }

    /** Collects delivered frames (copied: the transport owns the buffer) and the close. */
    static final class Collector implements FrameHandler {
        final List<byte[]> frames = new CopyOnWriteArrayList<>();
        final CompletableFuture<Throwable> closed = new CompletableFuture<>();
        final int pauseEvery;

        Collector(int pauseEvery) {
            this.pauseEvery = pauseEvery;
        }

        @Override
        public void onFrame(Connection connection, ByteBuffer frame) {
            byte[] copy = new byte[frame.remaining()];
            frame.duplicate().get(copy);
            frames.add(copy);
            if (pauseEvery > 0 && frames.size() % pauseEvery == 0) {
                // Stop mid-segment (more frames of the same payload are usually in hand), resume from the loop a
                // moment later: every held frame must still come, once, in order.
                connection.pauseReading();
                connection.schedule(connection::resumeReading, 2, TimeUnit.MILLISECONDS);
            }
        }

        @Override
        public void onClosed(Connection connection, Throwable causeOrNull) {
            closed.complete(causeOrNull);
        }

        boolean await(int count) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_S);
            while (frames.size() < count && !closed.isDone()) {
                if (System.nanoTime() > deadline) {
                    return false;
                }
                Thread.sleep(5);   // polling with a deadline
            }
            return frames.size() >= count;
        }
    }

    @Test
    void everyFrameComesBackInOrderByteExactThroughShortWritesAndTheAccountingAddsUp() throws Exception {
        runEcho(0, 3);
    }

    @Test
    void pausingInTheMiddleOfSegmentsLosesAndReordersNothing() throws Exception {
        runEcho(3, 3);
    }

    private void runEcho(int pauseEvery, int rounds) throws Exception {
        List<byte[]> sent = new ArrayList<>();
        for (int r = 0; r < rounds; r++) {
            for (int size : SIZES) {
                sent.add(frame(sent.size(), size));
            }
        }
        // Many small frames in a burst: they share segments.
        for (int i = 0; i < 2_000; i++) {
            sent.add(frame(sent.size(), 9 + (i % 50)));
        }
        Collector collector = new Collector(pauseEvery);
        List<Integer> listenerOrder = new CopyOnWriteArrayList<>();
        AtomicReference<Throwable> listenerFailure = new AtomicReference<>();
        try (SegmentPeer peer = new SegmentPeer(0, true, -1);
             Transport nio = Transports.create("nio", smallest())) {
            Connection c = nio.connect(peer.address(), collector).get(WAIT_S, TimeUnit.SECONDS);
            // A dumb echo peer: both directions switch at once, before the first byte.
            c.switchFraming(Framing.V5_SEGMENTS);
            long frameBytes = 0;
            for (int i = 0; i < sent.size(); i++) {
                int seq = i;
                frameBytes += sent.get(i).length;
                c.write(split(sent.get(i), i), failure -> {
                    if (failure != null) {
                        listenerFailure.compareAndSet(null, failure);
                    }
                    listenerOrder.add(seq);
                });
            }
            assertTrue(collector.await(sent.size()), "echoed " + collector.frames.size() + " of " + sent.size()
                    + "; closed: " + collector.closed.getNow(null) + "; peer: " + peer.violation() + ", "
                    + peer.frames().size() + " frames, " + peer.segments() + " segments, " + peer.bytesReceived()
                    + " bytes; " + c.stats() + "; listeners run: " + listenerOrder.size());
            assertNull(peer.violation(), "the peer found the stream invalid");
            assertEquals(sent.size(), peer.frames().size());
            for (int i = 0; i < sent.size(); i++) {
                assertArrayEquals(sent.get(i), peer.frames().get(i), "frame " + i + " as the peer saw it");
                assertArrayEquals(sent.get(i), collector.frames.get(i), "frame " + i + " back through our reader");
            }
            assertNull(listenerFailure.get());
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_S);
            while (listenerOrder.size() < sent.size() && System.nanoTime() < deadline) {
                Thread.sleep(5);   // listeners run on the loop: poll with a deadline
            }
            List<Integer> expectedOrder = new ArrayList<>();
            for (int i = 0; i < sent.size(); i++) {
                expectedOrder.add(i);
            }
            assertEquals(expectedOrder, listenerOrder, "each listener once, in acceptance order");

            ConnectionStats stats = c.stats();
            assertTrue(stats.shortWrites() > 0, "no short write: the run proved nothing about them: " + stats);
            assertEquals(sent.size(), stats.framesWritten(), stats.toString());
            assertEquals(sent.size(), stats.framesRead(), stats.toString());
            assertEquals(0, stats.pendingBytes(), stats.toString());
            // Every byte handed to the kernel is a frame byte or one segment's 10 bytes of header and trailer,
            // counted once however many writes a segment took.
            assertEquals(frameBytes + 10L * peer.segments(), stats.bytesWritten(), stats + ", " + peer.segments()
                    + " segments");
            assertEquals(stats.bytesWritten(), peer.bytesReceived());
            assertEquals(stats.bytesWritten(), stats.bytesRead(), "the echo returns every byte");
            assertTrue(peer.segments() < sent.size(), "small frames share segments: " + peer.segments());
            c.close().get(WAIT_S, TimeUnit.SECONDS);
            assertNull(collector.closed.get(WAIT_S, TimeUnit.SECONDS), "a graceful local close has no cause");
        }
    }

    /** Frames as 1, 2 or 3 parts, as drivers hand them over (header apart from body, body in pieces). */
    private static ByteBuffer[] split(byte[] frame, int i) {
        int parts = 1 + i % 3;
        if (parts == 1 || frame.length < 12) {
            return new ByteBuffer[] {ByteBuffer.wrap(frame)};
        }
        if (parts == 2) {
            return new ByteBuffer[] {ByteBuffer.wrap(frame, 0, 9).slice(), ByteBuffer.wrap(frame, 9, frame.length - 9).slice()};
        }
        int mid = 9 + (frame.length - 9) / 2;
        return new ByteBuffer[] {ByteBuffer.wrap(frame, 0, 9).slice(), ByteBuffer.wrap(frame, 9, mid - 9).slice(),
                ByteBuffer.wrap(frame, mid, frame.length - mid).slice()};
    }

    @Test
    void fourProducersKeepTheirOwnOrderAndListenersFireInWireOrder() throws Exception {
        int producers = 4;
        int each = 400;
        Collector collector = new Collector(0);
        List<Integer> listenerOrder = new CopyOnWriteArrayList<>();
        try (SegmentPeer peer = new SegmentPeer(0, true, -1);
             Transport nio = Transports.create("nio", smallest())) {
            Connection c = nio.connect(peer.address(), collector).get(WAIT_S, TimeUnit.SECONDS);
            c.switchFraming(Framing.V5_SEGMENTS);
            CountDownLatch go = new CountDownLatch(1);
            List<Thread> threads = new ArrayList<>();
            for (int p = 0; p < producers; p++) {
                int producer = p;
                Thread t = new Thread(() -> {
                    try {
                        go.await();
                    } catch (InterruptedException e) {
                        return;
                    }
                    for (int i = 0; i < each; i++) {
                        int seq = producer * each + i;   // seq encodes producer and its own order
                        int size = i % 50 == 0 ? Segments.MAX_PAYLOAD + 100 : 13 + (i * 97) % 3_000;
                        c.write(ByteBuffer.wrap(frame(seq, size)), failure -> listenerOrder.add(failure == null ? seq : -1));
                    }
                });
                t.start();
                threads.add(t);
            }
            go.countDown();
            for (Thread t : threads) {
                t.join(TimeUnit.SECONDS.toMillis(WAIT_S));
            }
            int total = producers * each;
            assertTrue(collector.await(total), collector.frames.size() + " of " + total + "; " + peer.violation());
            assertNull(peer.violation());
            List<Integer> wireOrder = new ArrayList<>();
            int[] next = new int[producers];
            for (byte[] f : collector.frames) {
                int seq = ByteBuffer.wrap(f).getInt(9);
                wireOrder.add(seq);
                int producer = seq / each;
                assertEquals(producer * each + next[producer], seq, "producer " + producer + " out of order");
                next[producer]++;
                assertArrayEquals(frame(seq, f.length), f, "frame " + seq);
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_S);
            while (listenerOrder.size() < total && System.nanoTime() < deadline) {
                Thread.sleep(5);   // listeners run on the loop: poll with a deadline
            }
            assertEquals(wireOrder, listenerOrder, "listeners fire once each, in the order the frames hit the wire");
            assertTrue(c.stats().shortWrites() > 0, c.stats().toString());
        }
    }

    @Test
    void framesAcceptedBeforeTheSwitchGoOutBareAndEveryLaterOneInSegments() throws Exception {
        int before = 200;
        int after = 200;
        try (SegmentPeer peer = new SegmentPeer(before, false, -1);
             Transport nio = Transports.create("nio", smallest())) {
            Collector collector = new Collector(0);
            Connection c = nio.connect(peer.address(), collector).get(WAIT_S, TimeUnit.SECONDS);
            List<byte[]> sent = new ArrayList<>();
            // From a producer thread, racing the loop: the switch's place in the queue decides, not timing.
            CountDownLatch done = new CountDownLatch(1);
            Thread producer = new Thread(() -> {
                for (int i = 0; i < before + after; i++) {
                    if (i == before) {
                        c.switchFraming(Framing.V5_SEGMENTS);   // the peer sends nothing, so off-loop is safe
                    }
                    byte[] f = frame(i, i % 7 == 0 ? 40_000 : 9 + i);
                    synchronized (sent) {
                        sent.add(f);
                    }
                    c.write(ByteBuffer.wrap(f), null);
                }
                done.countDown();
            });
            producer.start();
            assertTrue(done.await(WAIT_S, TimeUnit.SECONDS));
            assertTrue(peer.awaitFrames(before + after, WAIT_S, TimeUnit.SECONDS),
                    peer.frames().size() + " frames; " + peer.violation());
            assertNull(peer.violation());
            assertEquals(before, peer.bareFramesSeen());
            for (int i = 0; i < sent.size(); i++) {
                assertArrayEquals(sent.get(i), peer.frames().get(i), "frame " + i);
            }
            assertTrue(c.stats().shortWrites() > 0, c.stats().toString());
        }
    }

    @Test
    void aFlippedPayloadBitClosesTheConnectionWithACrc32ProtocolException() throws Exception {
        Throwable cause = corruptEchoAt(Segments.HEADER_LENGTH + 20);
        assertTrue(cause.getMessage().contains("CRC32 mismatch"), cause.getMessage());
    }

    @Test
    void aFlippedHeaderBitClosesTheConnectionWithACrc24ProtocolException() throws Exception {
        Throwable cause = corruptEchoAt(4);
        assertTrue(cause.getMessage().contains("CRC24 mismatch"), cause.getMessage());
    }

    @Test
    void aFlippedTrailerBitInALaterSegmentIsCaughtToo() throws Exception {
        // The first segment holds the first burst; its trailer's last byte is at this offset when frame 0 is
        // 1,033 bytes and alone in its segment (written before anything else is queued).
        Throwable cause = corruptEchoAt(Segments.HEADER_LENGTH + 1_033 + Segments.TRAILER_LENGTH - 1);
        assertTrue(cause.getMessage().contains("CRC32 mismatch"), cause.getMessage());
    }

    /** Echoes our segments with one bit flipped at {@code offset}; returns what closed the connection. */
    private Throwable corruptEchoAt(long offset) throws Exception {
        try (SegmentPeer peer = new SegmentPeer(0, true, offset);
             Transport nio = Transports.create("nio", smallest())) {
            Collector collector = new Collector(0);
            Connection c = nio.connect(peer.address(), collector).get(WAIT_S, TimeUnit.SECONDS);
            c.switchFraming(Framing.V5_SEGMENTS);
            c.write(ByteBuffer.wrap(frame(0, 1_033))).get(WAIT_S, TimeUnit.SECONDS);
            for (int i = 1; i < 50; i++) {
                c.write(ByteBuffer.wrap(frame(i, 2_000)), null);
            }
            Throwable cause = collector.closed.get(WAIT_S, TimeUnit.SECONDS);
            assertNotNull(cause, "the corrupt echo was accepted");
            assertInstanceOf(ProtocolException.class, cause);
            assertTrue(collector.frames.size() < 50, "frames after the flipped bit were delivered");
            return cause;
        }
    }

    @Test
    void theNaiveControlFailsTheSameCheckingPeer() throws Exception {
        // The control ignores its write counts: with big frames and the smallest buffers the peer sees segments
        // cut short, so a segment "header" is read from the middle of a payload and fails its CRC24, or a payload
        // fails its CRC32. Proves the peer's check (used above for nio) can fail.
        try (SegmentPeer peer = new SegmentPeer(0, false, -1, true);
             Transport naive = Transports.create("naive", smallest())) {
            Connection c = naive.connect(peer.address(), new Collector(0)).get(WAIT_S, TimeUnit.SECONDS);
            c.switchFraming(Framing.V5_SEGMENTS);
            // One frame per batch (the control's listener fires right after its write): one segment per write, each
            // cut where the kernel stopped taking bytes.
            for (int i = 0; i < 100; i++) {
                c.write(ByteBuffer.wrap(frame(i, 23_933))).get(WAIT_S, TimeUnit.SECONDS);
            }
            // Let the control "send" everything (it drops what the kernel did not take), then hang up.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_S);
            while (c.pendingBytes() > 0) {
                assertTrue(System.nanoTime() < deadline, "the control never emptied its queue");
                Thread.sleep(5);   // polling with a deadline
            }
            assertTrue(c.stats().shortWrites() > 0, "the control made no short write: " + c.stats());
            c.close().get(WAIT_S, TimeUnit.SECONDS);
            assertTrue(peer.awaitEnd(WAIT_S, TimeUnit.SECONDS), "the peer never saw the close");
            assertNotNull(peer.violation(), "the peer accepted a stream with dropped bytes: "
                    + peer.frames().size() + " frames, " + c.stats());
            assertTrue(peer.violation().contains("CRC"), peer.violation());
        }
    }

    /** Guards the size table: every frame is at least its header. */
    static {
        if (Arrays.stream(SIZES).anyMatch(s -> s < 9)) {
            throw new AssertionError("a frame is at least its 9-byte header");
        }
    }
}
