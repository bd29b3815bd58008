package io.cqlnio.v5;

import io.cqlnio.frame.Segments;
import io.cqlnio.spi.Connection;
import io.cqlnio.spi.FrameHandler;
import io.cqlnio.spi.Framing;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static io.cqlnio.v5.GoldenSegments.bytes;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The server's real bytes ({@link GoldenSegments}) replayed to {@code nio} by a scripted peer: the switch made in
 * {@code onFrame} on READY must unwrap the very next byte, however the bytes are cut into reads (READY and the
 * first segment in one TCP write, READY itself split, the large frame's two segments byte by byte). Then what
 * closing does to frames inside segments: a graceful close delivers all, an abort fails a suffix, every listener
 * once.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class V5ReplayAndCloseTest {

    private static final long WAIT_S = 30;

    /** Switches on the first frame (READY), then records every frame (copied). */
    static final class SwitchOnReady implements FrameHandler {
        final List<byte[]> frames = new CopyOnWriteArrayList<>();
        final CompletableFuture<Throwable> closed = new CompletableFuture<>();

        @Override
        public void onFrame(Connection connection, ByteBuffer frame) {
            byte[] copy = new byte[frame.remaining()];
            frame.duplicate().get(copy);
            if (frames.isEmpty()) {
                connection.switchFraming(Framing.V5_SEGMENTS);
            }
            frames.add(copy);
        }

        @Override
        public void onClosed(Connection connection, Throwable causeOrNull) {
            closed.complete(causeOrNull);
        }

        boolean await(int count) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_S);
            while (frames.size() < count && !closed.isDone() && System.nanoTime() < deadline) {
                Thread.sleep(5);   // polling with a deadline
            }
            return frames.size() >= count;
        }
    }

    /** The server's stream after STARTUP: READY, two small segments, then the big frame's two segments. */
    private static byte[] serverStream() {
        byte[] big = GoldenSegments.bigResultFrame();
        byte[] seg1 = concat(bytes(GoldenSegments.BIG_SEGMENT_1_HEADER),
                Arrays.copyOfRange(big, 0, GoldenSegments.BIG_SEGMENT_1_PAYLOAD),
                bytes(GoldenSegments.BIG_SEGMENT_1_TRAILER));
        byte[] seg2 = concat(bytes(GoldenSegments.BIG_SEGMENT_2_HEADER),
                Arrays.copyOfRange(big, GoldenSegments.BIG_SEGMENT_1_PAYLOAD, big.length),
                bytes(GoldenSegments.BIG_SEGMENT_2_TRAILER));
        return concat(bytes(GoldenSegments.READY_FRAME), bytes(GoldenSegments.USE_SYSTEM_STREAM_1),
                bytes(GoldenSegments.SUPPORTED_STREAM_2), seg1, seg2);
    }

    private static List<byte[]> expectedFrames() {
        return List.of(bytes(GoldenSegments.READY_FRAME), payload(GoldenSegments.USE_SYSTEM_STREAM_1),
                payload(GoldenSegments.SUPPORTED_STREAM_2), GoldenSegments.bigResultFrame());
    }

    @Test
    void readyAndTheFirstSegmentsInOneWrite() throws Exception {
        replay(new int[] {Integer.MAX_VALUE});
    }

    @Test
    void readySplitAcrossWritesThenTheRestAtOnce() throws Exception {
        replay(new int[] {4, Integer.MAX_VALUE});
    }

    @Test
    void everySegmentBoundaryAndEveryHeaderSplit() throws Exception {
        // Cuts inside READY, right after it, inside a segment header, inside a trailer, inside a payload.
        replay(new int[] {1, 9, 3, 3, 17, 4, 100, 5, 1, 70_000, 61_000, 3, 7, Integer.MAX_VALUE});
    }

    /** Writes the server stream in chunks of the given sizes (flushing each, TCP_NODELAY) and checks delivery. */
    private static void replay(int[] chunks) throws Exception {
        byte[] stream = serverStream();
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             Transport nio = Transports.create("nio", TransportConfig.defaults())) {
            SwitchOnReady handler = new SwitchOnReady();
            CompletableFuture<Connection> connecting = nio.connect(
                    new InetSocketAddress(InetAddress.getLoopbackAddress(), server.getLocalPort()), handler);
            try (Socket peer = server.accept()) {
                peer.setTcpNoDelay(true);
                Connection c = connecting.get(WAIT_S, TimeUnit.SECONDS);
                OutputStream out = peer.getOutputStream();
                int at = 0;
                for (int chunk : chunks) {
                    int n = Math.min(chunk, stream.length - at);
                    out.write(stream, at, n);
                    out.flush();
                    at += n;
                    // Each cut should reach the client as its own read when it can: wait until the client has
                    // read everything sent so far (bounded), so the next chunk arrives in a later read.
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                    while (c.stats().bytesRead() < at && System.nanoTime() < deadline) {
                        Thread.sleep(1);
                    }
                }
                assertTrue(handler.await(4), handler.frames.size() + " frames; closed: " + handler.closed.getNow(null));
                List<byte[]> expected = expectedFrames();
                for (int i = 0; i < expected.size(); i++) {
                    assertArrayEquals(expected.get(i), handler.frames.get(i), "frame " + i);
                }
                assertEquals(4, handler.frames.size());
                assertTrue(c.isOpen());
            }
        }
    }

    @Test
    void aFrameOverMaxFrameLengthIsRefusedFromItsFirstSegment() throws Exception {
        // The big frame (200,050 bytes) declares its length in its first segment's payload: refused there,
        // before any carry buffer is sized from it; the frames before it were delivered.
        byte[] stream = serverStream();
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             Transport nio = Transports.create("nio", TransportConfig.builder().maxFrameLength(100_000).build())) {
            SwitchOnReady handler = new SwitchOnReady();
            CompletableFuture<Connection> connecting = nio.connect(
                    new InetSocketAddress(InetAddress.getLoopbackAddress(), server.getLocalPort()), handler);
            try (Socket peer = server.accept()) {
                connecting.get(WAIT_S, TimeUnit.SECONDS);
                try {
                    peer.getOutputStream().write(stream);
                } catch (IOException hungUp) {
                    // the client may close before it has read everything: that is the point
                }
                Throwable cause = handler.closed.get(WAIT_S, TimeUnit.SECONDS);
                assertTrue(cause instanceof io.cqlnio.spi.ProtocolException, String.valueOf(cause));
                assertTrue(cause.getMessage().contains("200050") && cause.getMessage().contains("100000"),
                        cause.getMessage());
                assertEquals(3, handler.frames.size());
            }
        }
    }

    @Test
    void aGracefulCloseSendsEveryAcceptedSegmentFirst() throws Exception {
        try (SegmentPeer peer = new SegmentPeer(0, false, -1, true);
             Transport nio = Transports.create("nio", TransportConfig.builder().sendBufferSize(1).build())) {
            Connection c = nio.connect(peer.address(), new SwitchOnReady()).get(WAIT_S, TimeUnit.SECONDS);
            c.switchFraming(Framing.V5_SEGMENTS);
            List<CompletableFuture<Void>> written = new ArrayList<>();
            for (int i = 0; i < 300; i++) {
                written.add(c.write(ByteBuffer.wrap(V5LoopbackTest.frame(i, i % 10 == 0 ? 140_000 : 5_000))));
            }
            c.close().get(WAIT_S, TimeUnit.SECONDS);
            for (CompletableFuture<Void> w : written) {
                assertNull(w.get(WAIT_S, TimeUnit.SECONDS));
            }
            assertTrue(peer.awaitEnd(WAIT_S, TimeUnit.SECONDS));
            assertNull(peer.violation());
            assertEquals(300, peer.frames().size());
        }
    }

    @Test
    void anAbortMidStreamFailsASuffixAndEveryListenerRunsOnce() throws Exception {
        try (SegmentPeer peer = new SegmentPeer(0, false, -1, true);
             Transport nio = Transports.create("nio", TransportConfig.builder().sendBufferSize(1).build())) {
            Connection c = nio.connect(peer.address(), new SwitchOnReady()).get(WAIT_S, TimeUnit.SECONDS);
            c.switchFraming(Framing.V5_SEGMENTS);
            int n = 2_000;
            int[] outcome = new int[n];   // 0 none, 1 success, 2 failure, 3 more than once
            AtomicInteger calls = new AtomicInteger();
            for (int i = 0; i < n; i++) {
                int seq = i;
                c.write(ByteBuffer.wrap(V5LoopbackTest.frame(i, 3_000)), failure -> {
                    synchronized (outcome) {
                        outcome[seq] = outcome[seq] == 0 ? (failure == null ? 1 : 2) : 3;
                    }
                    calls.incrementAndGet();
                });
            }
            // Abort once some frames went out and most have not.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_S);
            while (c.stats().framesWritten() < 10 && System.nanoTime() < deadline) {
                Thread.sleep(1);
            }
            c.abort(new IOException("test abort"));
            while (calls.get() < n && System.nanoTime() < deadline) {
                Thread.sleep(5);   // polling with a deadline
            }
            assertOnceEachThenASuffixFailed(outcome, calls, n, true);
            assertEquals(0, c.pendingBytes());
            assertTrue(peer.awaitEnd(WAIT_S, TimeUnit.SECONDS));
            // A frame the peer got whole (its segment's trailer arrived and checked) was reported a success: the
            // converse need not hold, an abort may discard what the kernel still held.
            long successes;
            synchronized (outcome) {
                successes = Arrays.stream(outcome).filter(o -> o == 1).count();
            }
            assertTrue(peer.frames().size() <= successes, peer.frames().size() + " frames seen, " + successes
                    + " successes");
        }
    }

    @Test
    void aPeerResetMidSegmentFailsASuffixAndEveryListenerRunsOnce() throws Exception {
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             Transport nio = Transports.create("nio", TransportConfig.builder().sendBufferSize(1).build())) {
            SwitchOnReady handler = new SwitchOnReady();
            CompletableFuture<Connection> connecting = nio.connect(
                    new InetSocketAddress(InetAddress.getLoopbackAddress(), server.getLocalPort()), handler);
            try (Socket peer = server.accept()) {
                Connection c = connecting.get(WAIT_S, TimeUnit.SECONDS);
                c.switchFraming(Framing.V5_SEGMENTS);
                int n = 500;
                int[] outcome = new int[n];
                AtomicInteger calls = new AtomicInteger();
                for (int i = 0; i < n; i++) {
                    int seq = i;
                    c.write(ByteBuffer.wrap(V5LoopbackTest.frame(i, 20_000)), failure -> {
                        synchronized (outcome) {
                            outcome[seq] = outcome[seq] == 0 ? (failure == null ? 1 : 2) : 3;
                        }
                        calls.incrementAndGet();
                    });
                }
                // Read an odd number of bytes (inside some segment), then reset: linger 0 sends RST, not FIN.
                peer.getInputStream().readNBytes(50_001);
                peer.setSoLinger(true, 0);
                peer.close();
                Throwable cause = handler.closed.get(WAIT_S, TimeUnit.SECONDS);
                assertTrue(cause != null, "a reset is not a graceful close");
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_S);
                while (calls.get() < n && System.nanoTime() < deadline) {
                    Thread.sleep(5);   // polling with a deadline
                }
                // Frames whose segment's trailer never reached the kernel fail, even if their own bytes did:
                // with ~6 frames per segment the first may well fail, so no success is required here.
                assertOnceEachThenASuffixFailed(outcome, calls, n, false);
                assertEquals(0, c.pendingBytes());
            }
        }
    }

    /**
     * Every listener ran exactly once; the successes are a prefix, the failures the rest; some failed and, if
     * {@code someSucceeded}, some succeeded.
     */
    private static void assertOnceEachThenASuffixFailed(int[] outcome, AtomicInteger calls, int n,
                                                        boolean someSucceeded) {
        synchronized (outcome) {
            assertEquals(n, calls.get(), "every listener runs, once");
            int firstFailure = n;
            for (int i = 0; i < n; i++) {
                assertTrue(outcome[i] == 1 || outcome[i] == 2, "frame " + i + ": outcome " + outcome[i]);
                if (outcome[i] == 2 && firstFailure == n) {
                    firstFailure = i;
                }
                if (i > firstFailure) {
                    assertEquals(2, outcome[i], "frame " + i + " succeeded after frame " + firstFailure + " failed");
                }
            }
            assertTrue(firstFailure < n, "nothing failed");
            assertTrue(!someSucceeded || firstFailure > 0, "nothing succeeded");
        }
    }

    private static byte[] payload(String segmentHex) {
        byte[] s = bytes(segmentHex);
        return Arrays.copyOfRange(s, Segments.HEADER_LENGTH, s.length - Segments.TRAILER_LENGTH);
    }

    private static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        byte[] all = new byte[n];
        int at = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, all, at, p.length);
            at += p.length;
        }
        return all;
    }
}
