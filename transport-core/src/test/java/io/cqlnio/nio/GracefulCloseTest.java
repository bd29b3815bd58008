package io.cqlnio.nio;

import io.cqlnio.spi.Connection;
import io.cqlnio.spi.FrameHandler;
import io.cqlnio.spi.TlsConfig;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;
import io.cqlnio.testkit.Await;
import io.cqlnio.testkit.Closer;
import io.cqlnio.testkit.LoopbackPeer;
import io.cqlnio.testkit.TestFrames;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A graceful {@code close()} must not destroy what it reported written. Closing a socket with unread bytes in
 * its receive queue (or receiving bytes after it closed) makes Linux send a reset, and the reset discards what is
 * still in our send queue: frames whose listeners had succeeded. So close() sends FIN after the last frame and
 * reads until the peer ends its side (delivering what comes) or {@code closeDrainTimeout} passes, then drops what
 * is still unread and closes. The tests of unread data and of replies fail on the old close path
 * (docs/controls/close-without-drain.patch); the late reader's fail when the unread bytes are not dropped
 * (docs/controls/drain-keeps-unread.patch).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class GracefulCloseTest {

    private static final int FRAME_BODY = 32 * 1024;
    private static final int FRAMES = 64; // 2 MiB: far more than the peer's window, so most of it waits in ours

    @RegisterExtension
    final Closer closer = new Closer();

    /**
     * The peer sent 8 KiB we never read (reading is paused), and reads our 2 MiB slowly after we close: with a
     * plain close, the kernel resets the connection and the peer loses the tail of frames already reported written.
     * The peer ends its side long before this drain's deadline, but with reading paused we cannot see it: the
     * deadline ends the drain, dropping the unread bytes first.
     */
    @Test
    void framesReportedWrittenReachAPeerThatHasUnreadDataAndReadsSlowly() throws Exception {
        unreadDataThenASlowReader(Duration.ofSeconds(1));
    }

    /**
     * The peer reads nothing until the close has completed at a 50 ms deadline, with its 8 KiB still unread by us:
     * dropping them before the close is what keeps it a FIN, and the kernel then sends our frames on its own.
     */
    @Test
    void aDeadlineThatPassesBeforeThePeerReadsLosesNothing() throws Exception {
        unreadDataThenALateReader(Duration.ofMillis(50), (c, transport) -> c.close().get(10, TimeUnit.SECONDS));
    }

    /** A transport closed while a connection drains: every frame is with the kernel, so no reset may destroy them. */
    @Test
    void aTransportClosedDuringTheDrainLosesNothing() throws Exception {
        unreadDataThenALateReader(Duration.ofMinutes(10), (c, transport) -> {
            CompletableFuture<Void> closed = c.close();
            Await.until(() -> ((NioConnection) c).state() == ConnectionState.DRAINING, "the drain");
            transport.close();
            closed.get(10, TimeUnit.SECONDS);
        });
    }

    /**
     * 64 KiB of frames fit in our send buffer (256 KiB asked) and the peer's window, so the flush ends while the
     * peer reads nothing; the peer has sent 8 KiB we never read (reading is paused). The peer reads only once
     * {@code ending} has closed the socket: whatever the kernel had not sent by then is lost to a reset.
     */
    private void unreadDataThenALateReader(Duration drain, Ending ending) throws Exception {
        CountDownLatch paused = new CountDownLatch(1);
        CountDownLatch socketClosed = new CountDownLatch(1);
        CountDownLatch peerSent = new CountDownLatch(1);
        SlowReader reader = new SlowReader();
        LoopbackPeer peer = closer.add(new LoopbackPeer(16 * 1024, false, (index, socket) -> {
            paused.await();
            socket.getOutputStream().write(new byte[8 * 1024]);
            peerSent.countDown();
            socketClosed.await();
            reader.readToEnd(socket, 64 * 1024, 0);
        }));
        Recorder handler = new Recorder();
        Transport transport = closer.add(Transports.create("nio", TransportConfig.builder()
                .sendBufferSize(256 * 1024).closeDrainTimeout(drain).build()));
        Connection c = transport.connect(peer.address(), handler).get(5, TimeUnit.SECONDS);
        c.pauseReading();
        c.execute(paused::countDown);
        int frames = 2;
        AtomicInteger written = new AtomicInteger();
        for (int i = 0; i < frames; i++) {
            c.write(TestFrames.frame(0, i, FRAME_BODY, true), error -> {
                if (error == null) {
                    written.incrementAndGet();
                }
            });
        }
        // The peer's bytes must be in our kernel before the end drops what is unread: bytes arriving after the
        // close would make the kernel reset the connection whatever the transport did (a loopback write is in
        // the receiver's queue when it returns).
        assertTrue(peerSent.await(10, TimeUnit.SECONDS), "the peer's 8 KiB");
        ending.end(c, transport);
        socketClosed.countDown();

        assertEquals(frames, written.get());
        byte[] got = reader.result.get(20, TimeUnit.SECONDS);
        assertEquals(frames * (TestFrames.HEADER + FRAME_BODY), got.length, "bytes at the peer");
        assertEquals(frames, TestFrames.checkInterleaved(got, 1));
        assertEquals(1, handler.closes.get());
    }

    @FunctionalInterface
    private interface Ending {
        void end(Connection c, Transport transport) throws Exception;
    }

    /** An abort that lands just before the drain's deadline fires keeps its cause: the deadline then does nothing. */
    @Test
    void anAbortRacingTheDeadlineKeepsItsCause() throws Exception {
        CountDownLatch testDone = testDone();
        LoopbackPeer peer = closer.add(new LoopbackPeer(0, false, (index, socket) -> testDone.await()));
        Recorder handler = new Recorder();
        Transport transport = closer.add(Transports.create("nio", TransportConfig.builder()
                .closeDrainTimeout(Duration.ofMinutes(10)).build()));
        NioConnection c = (NioConnection) transport.connect(peer.address(), handler).get(5, TimeUnit.SECONDS);
        CompletableFuture<Void> closed = c.close();
        Await.until(() -> c.state() == ConnectionState.DRAINING, "the drain");
        IllegalStateException cause = new IllegalStateException("aborted");
        c.execute(() -> {
            c.abort(cause);     // CLOSED at once; its close is a task behind this one
            c.drainTimedOut();  // the deadline, due in the same loop turn
        });
        closed.get(10, TimeUnit.SECONDS);
        assertSame(cause, handler.closedCause.get(5, TimeUnit.SECONDS));
        assertEquals(1, handler.closes.get());
    }

    private void unreadDataThenASlowReader(Duration drain) throws Exception {
        CountDownLatch paused = new CountDownLatch(1);
        CountDownLatch closeCalled = new CountDownLatch(1);
        SlowReader reader = new SlowReader();
        LoopbackPeer peer = closer.add(new LoopbackPeer(16 * 1024, false, (index, socket) -> {
            paused.await();
            OutputStream out = socket.getOutputStream();
            for (int i = 0; i < 8; i++) {
                out.write(bytes(TestFrames.response(0, i, 1024 - TestFrames.HEADER)));
            }
            out.flush();
            closeCalled.await();
            reader.readToEnd(socket, 8 * 1024, 1);
        }));
        Recorder handler = new Recorder();
        Transport transport = closer.add(Transports.create("nio", TransportConfig.builder()
                .closeDrainTimeout(drain).build()));
        Connection c = transport.connect(peer.address(), handler).get(5, TimeUnit.SECONDS);
        c.pauseReading();
        c.execute(paused::countDown); // after the pause took effect on the loop: the peer's bytes stay unread

        AtomicLong bytesReportedWritten = new AtomicLong();
        AtomicInteger outcomes = new AtomicInteger();
        for (int i = 0; i < FRAMES; i++) {
            c.write(TestFrames.frame(0, i, FRAME_BODY, true), error -> {
                outcomes.incrementAndGet();
                if (error == null) {
                    bytesReportedWritten.addAndGet(TestFrames.HEADER + FRAME_BODY);
                }
            });
        }
        CompletableFuture<Void> closed = c.close();
        closeCalled.countDown();

        closed.get(20, TimeUnit.SECONDS);
        assertNull(handler.closedCause.get(5, TimeUnit.SECONDS), "a graceful close reports no cause");
        assertEquals(FRAMES, outcomes.get());
        assertEquals((long) FRAMES * (TestFrames.HEADER + FRAME_BODY), bytesReportedWritten.get());
        byte[] got = reader.result.get(20, TimeUnit.SECONDS);
        assertEquals(bytesReportedWritten.get(), got.length, "bytes at the peer, of those reported written");
        assertEquals(FRAMES, TestFrames.checkInterleaved(got, 1));
        assertEquals(List.of(), peer.errors());
        assertEquals(0, handler.frames.size(), "reading stayed paused");
    }

    /**
     * Replies to requests in flight when close() is called arrive after our FIN: the drain delivers every one
     * before {@code onClosed}, and ends on the peer's end of stream, long before the deadline.
     */
    @Test
    void repliesArrivingAfterTheFinAreDeliveredBeforeOnClosed() throws Exception {
        repliesAfterTheFin(null);
    }

    /** The same over TLS: close_notify, then FIN, then the replies still come and are delivered. */
    @Test
    void repliesArrivingAfterCloseNotifyAreDeliveredBeforeOnClosed() throws Exception {
        repliesAfterTheFin(TlsConfig.of(TestTls.clientContext()));
    }

    private void repliesAfterTheFin(TlsConfig tls) throws Exception {
        CountDownLatch closeCalled = new CountDownLatch(1);
        LoopbackPeer peer = closer.add(new LoopbackPeer(0, false, 50, tls == null ? null : TestTls.serverContext(),
                (index, socket) -> {
                    closeCalled.await(); // every reply goes out after the client's close()
                    LoopbackPeer.frames(null, true).serve(index, socket);
                }));
        Recorder handler = new Recorder();
        Transport transport = closer.add(Transports.create("nio", TransportConfig.builder().tls(tls)
                .closeDrainTimeout(Duration.ofSeconds(30)).build()));
        Connection c = transport.connect(peer.address(), handler).get(5, TimeUnit.SECONDS);
        int requests = 200;
        for (int i = 0; i < requests; i++) {
            c.write(TestFrames.frame(0, i, 1000, false), null);
        }
        long start = System.nanoTime();
        CompletableFuture<Void> closed = c.close();
        closeCalled.countDown();

        closed.get(20, TimeUnit.SECONDS);
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(20),
                "the peer's end of stream ended the drain, not the 30 s deadline");
        assertNull(handler.closedCause.get(5, TimeUnit.SECONDS));
        assertEquals(requests, handler.repliesBeforeClosed.get(), "replies delivered before onClosed");
        assertEquals(requests, handler.frames.size());
        for (int i = 0; i < requests; i++) {
            assertEquals(i, TestFrames.check(handler.frames.get(i), 0));
        }
        assertEquals(List.of(), peer.errors());
    }

    /** A peer that reads to our FIN but never ends its side: close() ends at the deadline, not before, not never. */
    @Test
    void aPeerThatNeverEndsItsSideIsClosedAtTheDeadline() throws Exception {
        CountDownLatch sawFin = new CountDownLatch(1);
        CountDownLatch testDone = testDone();
        LoopbackPeer peer = closer.add(new LoopbackPeer(0, false, readsToTheFinThenStays(sawFin, testDone)));
        Recorder handler = new Recorder();
        Duration drain = Duration.ofMillis(300);
        Transport transport = closer.add(Transports.create("nio", TransportConfig.builder()
                .closeDrainTimeout(drain).build()));
        Connection c = transport.connect(peer.address(), handler).get(5, TimeUnit.SECONDS);
        c.write(TestFrames.frame(0, 0, 100, false), null);
        long start = System.nanoTime();

        c.close().get(10, TimeUnit.SECONDS);
        long took = System.nanoTime() - start;
        assertTrue(took >= drain.toNanos(), "closed after " + took / 1_000_000 + " ms, before the deadline");
        assertTrue(sawFin.await(5, TimeUnit.SECONDS), "the half-close's FIN");
        assertNull(handler.closedCause.get(5, TimeUnit.SECONDS));
        assertEquals(1, handler.closes.get());
    }

    @Test
    void abortEndsTheDrainAtOnce() throws Exception {
        CountDownLatch sawFin = new CountDownLatch(1);
        CountDownLatch testDone = testDone();
        LoopbackPeer peer = closer.add(new LoopbackPeer(0, false, readsToTheFinThenStays(sawFin, testDone)));
        Recorder handler = new Recorder();
        Transport transport = closer.add(Transports.create("nio", TransportConfig.builder()
                .closeDrainTimeout(Duration.ofMinutes(10)).build()));
        Connection c = transport.connect(peer.address(), handler).get(5, TimeUnit.SECONDS);
        c.write(TestFrames.frame(0, 0, 100, false), null);
        CompletableFuture<Void> closed = c.close();
        assertTrue(sawFin.await(10, TimeUnit.SECONDS), "the half-close's FIN");
        assertFalse(closed.isDone(), "the drain waits for the peer");

        IllegalStateException cause = new IllegalStateException("enough");
        c.abort(cause);
        closed.get(10, TimeUnit.SECONDS);
        assertSame(cause, handler.closedCause.get(5, TimeUnit.SECONDS));
        assertEquals(1, handler.closes.get());
    }

    @Test
    void aZeroDrainTimeoutClosesRightAfterTheFin() throws Exception {
        CountDownLatch testDone = testDone();
        LoopbackPeer peer = closer.add(new LoopbackPeer(0, false, (index, socket) -> testDone.await()));
        Recorder handler = new Recorder();
        Transport transport = closer.add(Transports.create("nio", TransportConfig.builder()
                .closeDrainTimeout(Duration.ZERO).build()));
        Connection c = transport.connect(peer.address(), handler).get(5, TimeUnit.SECONDS);
        c.write(TestFrames.frame(0, 0, 100, false), null);
        c.close().get(10, TimeUnit.SECONDS); // the peer never reads nor closes: no drain to wait for
        assertNull(handler.closedCause.get(5, TimeUnit.SECONDS));
    }

    /** A peer that reads our frames and the FIN of the half-close, then keeps its own side open until the test ends. */
    private static LoopbackPeer.Server readsToTheFinThenStays(CountDownLatch sawFin, CountDownLatch testDone) {
        return (index, socket) -> {
            InputStream in = socket.getInputStream();
            while (in.read() >= 0) {
                // our frames, then the FIN
            }
            sawFin.countDown();
            testDone.await();
        };
    }

    /** Released when the test ends, so a peer thread parked on it does not outlive the test. */
    private CountDownLatch testDone() {
        CountDownLatch done = new CountDownLatch(1);
        closer.add((AutoCloseable) done::countDown);
        return done;
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] a = new byte[b.remaining()];
        b.get(a);
        return a;
    }

    /** The peer's reader: {@code chunk} bytes, then a pause of {@code millis}, until end of stream. */
    private static final class SlowReader {
        final CompletableFuture<byte[]> result = new CompletableFuture<>();

        void readToEnd(Socket socket, int chunk, long millis) throws Exception {
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            byte[] buf = new byte[chunk];
            InputStream in = socket.getInputStream();
            try {
                int n;
                while ((n = in.read(buf)) >= 0) {
                    got.write(buf, 0, n);
                    if (millis > 0) {
                        Thread.sleep(millis); // a slow consumer, not a timing assumption
                    }
                }
            } catch (IOException e) {
                result.completeExceptionally(new AssertionError("the peer's read failed after " + got.size()
                        + " bytes: " + e, e));
                return;
            }
            result.complete(got.toByteArray());
        }
    }

    /** Inbound frames (copied), and onClosed: how often, with what cause, and how many frames came before it. */
    private static final class Recorder implements FrameHandler {
        final List<ByteBuffer> frames = new CopyOnWriteArrayList<>();
        final CompletableFuture<Throwable> closedCause = new CompletableFuture<>();
        final AtomicInteger closes = new AtomicInteger();
        final AtomicInteger repliesBeforeClosed = new AtomicInteger(-1);

        @Override
        public void onFrame(Connection connection, ByteBuffer frame) {
            ByteBuffer copy = ByteBuffer.allocate(frame.remaining()).put(frame).flip();
            frames.add(copy);
        }

        @Override
        public void onClosed(Connection connection, Throwable causeOrNull) {
            repliesBeforeClosed.set(frames.size());
            closes.incrementAndGet();
            closedCause.complete(causeOrNull);
        }
    }
}
