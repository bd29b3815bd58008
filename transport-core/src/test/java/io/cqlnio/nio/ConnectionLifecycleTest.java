package io.cqlnio.nio;

import io.cqlnio.spi.Connection;
import io.cqlnio.spi.ConnectionClosedException;
import io.cqlnio.spi.FrameHandler;
import io.cqlnio.spi.ProtocolException;
import io.cqlnio.spi.TlsConfig;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportException;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;
import io.cqlnio.testkit.Await;
import io.cqlnio.testkit.Closer;
import io.cqlnio.testkit.LoopbackPeer;
import io.cqlnio.testkit.TestFrames;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Invariants 2, 3, 5 and 6 over real sockets: every listener fires exactly once on success, close, abort,
 * peer reset and transport close; onClosed fires once with the right cause; one bad connection leaves
 * the others alone.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ConnectionLifecycleTest {

    @RegisterExtension
    final Closer closer = new Closer();

    private Transport transport(TransportConfig.Builder config) {
        return closer.add(Transports.create("nio", config.build()));
    }

    private static TransportConfig.Builder tiny() {
        return TransportConfig.builder().sendBufferSize(4096).receiveBufferSize(4096);
    }

    /** Records every callback of one connection, in order. */
    static class Recorder implements FrameHandler {
        final List<Object> events = new CopyOnWriteArrayList<>();
        final AtomicInteger closes = new AtomicInteger();
        final CompletableFuture<Throwable> closed = new CompletableFuture<>();
        volatile boolean frameAfterClose;

        @Override
        public void onFrame(Connection connection, ByteBuffer frame) {
            if (closes.get() > 0) {
                frameAfterClose = true;
            }
            events.add("frame");
        }

        @Override
        public void onWritabilityChanged(Connection connection, boolean writable) {
            events.add(writable);
        }

        @Override
        public void onClosed(Connection connection, Throwable causeOrNull) {
            closes.incrementAndGet();
            events.add("closed");
            closed.complete(causeOrNull);
        }
    }

    /** Listener outcomes, and the order successes and failures came in. */
    static final class Outcomes {
        final AtomicIntegerArray fired;
        final List<Throwable> failures = new CopyOnWriteArrayList<>();
        final List<Integer> order = Collections.synchronizedList(new ArrayList<>());

        Outcomes(int frames) {
            fired = new AtomicIntegerArray(frames);
        }

        io.cqlnio.spi.WriteListener listener(int i) {
            return failure -> {
                fired.incrementAndGet(i);
                order.add(failure == null ? i : -1 - i);
                if (failure != null) {
                    failures.add(failure);
                }
            };
        }

        void awaitAll() throws InterruptedException {
            for (int i = 0; i < fired.length(); i++) {
                int index = i;
                Await.until(() -> fired.get(index) > 0, "listener " + i);
            }
        }

        /** Exactly once each; the successes form a prefix (invariant 6) followed only by failures. */
        void assertExactlyOnceSuccessesFirst() {
            for (int i = 0; i < fired.length(); i++) {
                assertEquals(1, fired.get(i), "listener " + i + " fired " + fired.get(i) + " times");
            }
            boolean failing = false;
            int expected = 0;
            for (int value : order) {
                if (value < 0) {
                    failing = true;
                    assertEquals(expected, -1 - value, "failure out of order");
                } else {
                    assertFalse(failing, "frame " + value + " succeeded after an earlier frame failed");
                    assertEquals(expected, value, "success out of order");
                }
                expected++;
            }
        }
    }

    /** Writes until the kernel buffers on both sides are full and frames are staged. */
    private static Outcomes fillAgainstStalledPeer(Connection c, int frames) throws InterruptedException {
        Outcomes outcomes = new Outcomes(frames);
        for (int i = 0; i < frames; i++) {
            c.write(TestFrames.frame(0, i, 1000, true), outcomes.listener(i));
        }
        Await.until(() -> c.stats().shortWrites() > 0 && c.pendingBytes() > 0, "a short write");
        return outcomes;
    }

    @Test
    void abortFailsEveryUnwrittenFrameExactlyOnceWithTheCause() throws Exception {
        LoopbackPeer peer = closer.add(new LoopbackPeer(4096, true, LoopbackPeer.frames(null)));
        Recorder handler = new Recorder();
        Connection c = transport(tiny()).connect(peer.address(), handler).get(5, TimeUnit.SECONDS);
        Outcomes outcomes = fillAgainstStalledPeer(c, 2000);

        IllegalStateException cause = new IllegalStateException("driver gave up");
        c.abort(cause);
        assertFalse(c.isOpen());
        assertSame(cause, handler.closed.get(5, TimeUnit.SECONDS));
        outcomes.awaitAll();
        outcomes.assertExactlyOnceSuccessesFirst();
        assertFalse(outcomes.failures.isEmpty(), "nothing was pending at the abort");
        outcomes.failures.forEach(f -> assertSame(cause, f));
        assertEquals(0, c.pendingBytes());
        assertEquals(1, handler.closes.get());
        // A write after the abort is refused at once, on this thread.
        AtomicReference<Throwable> refused = new AtomicReference<>();
        c.write(TestFrames.frame(0, 9999, 8, false), refused::set);
        assertInstanceOf(ConnectionClosedException.class, refused.get());
    }

    @Test
    void peerResetFailsEveryUnwrittenFrameExactlyOnce() throws Exception {
        LoopbackPeer peer = closer.add(new LoopbackPeer(4096, true, LoopbackPeer.frames(null)));
        Recorder handler = new Recorder();
        Connection c = transport(tiny()).connect(peer.address(), handler).get(5, TimeUnit.SECONDS);
        Outcomes outcomes = fillAgainstStalledPeer(c, 2000);
        Await.until(() -> !peer.sockets().isEmpty(), "peer accepted");

        peer.resetAll();
        Throwable cause = handler.closed.get(10, TimeUnit.SECONDS);
        assertInstanceOf(ConnectionClosedException.class, cause, String.valueOf(cause));
        outcomes.awaitAll();
        outcomes.assertExactlyOnceSuccessesFirst();
        assertFalse(outcomes.failures.isEmpty());
        outcomes.failures.forEach(f -> assertInstanceOf(ConnectionClosedException.class, f));
        assertEquals(0, c.pendingBytes());
        assertEquals(1, handler.closes.get());
    }

    @ParameterizedTest(name = "tls={0}")
    @ValueSource(booleans = {false, true})
    void gracefulCloseFlushesWhatWasAcceptedThenRefuses(boolean tls) throws Exception {
        List<Integer> received = new CopyOnWriteArrayList<>();
        LoopbackPeer peer = closer.add(new LoopbackPeer(4096, true, 50, tls ? TestTls.serverContext() : null,
                LoopbackPeer.frames((conn, f) -> received.add(TestFrames.check(f, 0)))));
        Recorder handler = new Recorder();
        Connection c = transport(tiny().tls(tls ? TlsConfig.of(TestTls.clientContext()) : null))
                .connect(peer.address(), handler).get(5, TimeUnit.SECONDS);
        Outcomes outcomes = fillAgainstStalledPeer(c, 500);

        CompletableFuture<Void> closed = c.close();
        AtomicReference<Throwable> refused = new AtomicReference<>();
        c.write(TestFrames.frame(0, 9999, 8, false), refused::set);
        assertInstanceOf(ConnectionClosedException.class, refused.get());
        assertFalse(closed.isDone(), "closed before the accepted frames were flushed");

        peer.release();
        closed.get(10, TimeUnit.SECONDS);
        assertNull(handler.closed.get(5, TimeUnit.SECONDS), "graceful close must report a null cause");
        outcomes.awaitAll();
        outcomes.assertExactlyOnceSuccessesFirst();
        assertTrue(outcomes.failures.isEmpty(), "accepted frames failed: " + outcomes.failures);
        Await.until(() -> received.size() == 500, "all 500 frames at the peer");
        for (int i = 0; i < 500; i++) {
            assertEquals(i, received.get(i));
        }
        assertEquals(1, handler.closes.get());
        // The peer saw the stream end after the last frame, and over TLS by close_notify, not truncation.
        Await.until(() -> peer.cleanEnds() == 1 || !peer.errors().isEmpty(), "the peer to see the end");
        assertEquals(List.of(), peer.errors());
    }

    @Test
    void aTlsHandshakeThatNeverFinishesFailsConnectWithinConnectTimeout() throws Exception {
        try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            long start = System.nanoTime();
            CompletableFuture<Connection> connecting = transport(TransportConfig.builder()
                    .connectTimeout(java.time.Duration.ofMillis(300)).tls(TlsConfig.of(TestTls.clientContext())))
                    .connect((InetSocketAddress) silent.getLocalSocketAddress(), new Recorder());
            Throwable failure = assertThrows(java.util.concurrent.ExecutionException.class,
                    () -> connecting.get(5, TimeUnit.SECONDS)).getCause();
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertInstanceOf(TransportException.class, failure);
            assertTrue(failure.getMessage().contains("TLS handshake") && failure.getMessage().contains("300 ms"),
                    failure.getMessage());
            assertTrue(millis >= 250 && millis < 3000, "failed after " + millis + " ms");
        }
    }

    @Test
    void aPlaintextServerFailsTheTlsConnectWithTheSslCause() throws Exception {
        try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            CompletableFuture<Connection> connecting = transport(TransportConfig.builder()
                    .tls(TlsConfig.of(TestTls.clientContext())))
                    .connect((InetSocketAddress) server.getLocalSocketAddress(), new Recorder());
            try (Socket s = server.accept()) {
                // A CQL server without TLS answers the ClientHello as a bad frame: with a v4 ERROR frame.
                s.getOutputStream().write(new byte[]{(byte) 0x84, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 10});
                Throwable failure = assertThrows(java.util.concurrent.ExecutionException.class,
                        () -> connecting.get(5, TimeUnit.SECONDS)).getCause();
                assertInstanceOf(TransportException.class, failure);
                assertInstanceOf(javax.net.ssl.SSLException.class, failure.getCause(), String.valueOf(failure));
                assertTrue(failure.getMessage().contains("TLS handshake"), failure.getMessage());
            }
        }
    }

    @Test
    void peerEofClosesWithACause() throws Exception {
        LoopbackPeer peer = closer.add(new LoopbackPeer(0, false, LoopbackPeer.frames(null)));
        Recorder handler = new Recorder();
        Connection c = transport(TransportConfig.builder()).connect(peer.address(), handler).get(5, TimeUnit.SECONDS);
        Await.until(() -> !peer.sockets().isEmpty(), "peer accepted");
        peer.sockets().get(0).shutdownOutput();
        Throwable cause = handler.closed.get(5, TimeUnit.SECONDS);
        assertInstanceOf(ConnectionClosedException.class, cause);
        assertTrue(cause.getMessage().contains("closed by the peer"), cause.getMessage());
        assertFalse(c.isOpen());
    }

    @Test
    void badInboundVersionByteClosesWithAProtocolExceptionNamingIt() throws Exception {
        try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Recorder handler = new Recorder();
            CompletableFuture<Connection> connecting = transport(TransportConfig.builder())
                    .connect((InetSocketAddress) server.getLocalSocketAddress(), handler);
            try (Socket s = server.accept()) {
                Connection c = connecting.get(5, TimeUnit.SECONDS);
                OutputStream out = s.getOutputStream();
                out.write(TestFrames.frame(0, 0, 8, false).array()); // one good frame
                byte[] bad = TestFrames.frame(0, 1, 8, false).array();
                bad[0] = 0x5f;
                out.write(bad);
                out.flush();
                Throwable cause = handler.closed.get(5, TimeUnit.SECONDS);
                assertInstanceOf(ProtocolException.class, cause);
                assertTrue(cause.getMessage().contains("0x5f (95)"), cause.getMessage());
                assertTrue(cause.getMessage().contains(String.valueOf(server.getLocalPort())),
                        "names the connection: " + cause.getMessage());
                assertEquals(List.of("frame", "closed"), handler.events);
                assertFalse(c.isOpen());
            }
        }
    }

    @Test
    void aThrowingHandlerClosesOnlyItsOwnConnection() throws Exception {
        LoopbackPeer peer = closer.add(new LoopbackPeer(0, false, LoopbackPeer.frames(null, true)));
        Transport transport = transport(TransportConfig.builder().loops(1));
        RuntimeException boom = new RuntimeException("handler bug");
        Recorder bad = new Recorder() {
            @Override
            public void onFrame(Connection connection, ByteBuffer frame) {
                super.onFrame(connection, frame);
                throw boom;
            }
        };
        AtomicInteger echoes = new AtomicInteger();
        Recorder good = new Recorder() {
            @Override
            public void onFrame(Connection connection, ByteBuffer frame) {
                echoes.incrementAndGet();
            }
        };
        Connection a = transport.connect(peer.address(), bad).get(5, TimeUnit.SECONDS);
        Connection b = transport.connect(peer.address(), good).get(5, TimeUnit.SECONDS);
        a.write(TestFrames.frame(0, 0, 8, false));
        a.write(TestFrames.frame(0, 1, 8, false));
        assertSame(boom, bad.closed.get(5, TimeUnit.SECONDS));
        for (int i = 0; i < 100; i++) {
            b.write(TestFrames.frame(1, i, 8, false)).get(5, TimeUnit.SECONDS);
        }
        Await.until(() -> echoes.get() == 100, "100 echoes on the healthy connection");
        assertTrue(b.isOpen());
        assertEquals(1, bad.events.stream().filter("frame"::equals).count(), "a frame after the handler threw");
        assertFalse(bad.frameAfterClose);
    }

    @Test
    void writabilityFlipsOnceEachWayAcrossTheWatermarks() throws Exception {
        LoopbackPeer peer = closer.add(new LoopbackPeer(4096, true, LoopbackPeer.frames(null)));
        Recorder handler = new Recorder();
        Connection c = transport(tiny().writeHighWatermark(64 * 1024).writeLowWatermark(16 * 1024))
                .connect(peer.address(), handler).get(5, TimeUnit.SECONDS);
        int written = 0;
        while (c.isWritable()) {
            c.write(TestFrames.frame(0, written++, 1000, true), null);
        }
        assertTrue(c.pendingBytes() > 64 * 1024);
        Await.until(() -> handler.events.contains(false), "onWritabilityChanged(false)");
        for (int i = 0; i < 50; i++) {
            c.write(TestFrames.frame(0, written++, 1000, true), null); // still accepted while unwritable
        }
        peer.release();
        Await.until(() -> handler.events.contains(true), "onWritabilityChanged(true)");
        Await.until(() -> c.pendingBytes() == 0, "drain");
        assertEquals(List.of(false, true), handler.events);
        assertTrue(c.isWritable());
    }

    @Test
    void transportCloseFailsPendingFramesAndStopsItsThreads() throws Exception {
        LoopbackPeer peer = closer.add(new LoopbackPeer(4096, true, LoopbackPeer.frames(null)));
        Transport transport = Transports.create("nio", tiny().loops(2).build());
        Recorder h1 = new Recorder();
        Recorder h2 = new Recorder();
        Connection c1 = transport.connect(peer.address(), h1).get(5, TimeUnit.SECONDS);
        Connection c2 = transport.connect(peer.address(), h2).get(5, TimeUnit.SECONDS);
        Outcomes o1 = fillAgainstStalledPeer(c1, 1000);
        Outcomes o2 = fillAgainstStalledPeer(c2, 1000);
        transport.close();
        transport.close(); // idempotent
        o1.awaitAll();
        o2.awaitAll();
        o1.assertExactlyOnceSuccessesFirst();
        o2.assertExactlyOnceSuccessesFirst();
        assertInstanceOf(ConnectionClosedException.class, h1.closed.get(1, TimeUnit.SECONDS));
        assertInstanceOf(ConnectionClosedException.class, h2.closed.get(1, TimeUnit.SECONDS));
        assertEquals(0, c1.pendingBytes() + c2.pendingBytes());
        assertTrue(Thread.getAllStackTraces().keySet().stream()
                .noneMatch(t -> t.getName().startsWith("cqlnio-loop-") && t.isAlive()),
                "a loop thread outlived Transport.close()"); // every test closes its transports before the next
        // Writes racing the end are failed, never lost.
        AtomicReference<Throwable> late = new AtomicReference<>();
        c1.write(TestFrames.frame(0, 0, 8, false), late::set);
        assertInstanceOf(ConnectionClosedException.class, late.get());
        CompletableFuture<Connection> afterClose = transport.connect(peer.address(), new Recorder());
        assertTrue(afterClose.isCompletedExceptionally());
    }
}
