package io.cqlnio.nio;

import io.cqlnio.testkit.TestFrames;
import io.cqlnio.testkit.Closer;
import io.cqlnio.spi.Connection;
import io.cqlnio.spi.CqlFrameCodec;
import io.cqlnio.spi.FrameHandler;
import io.cqlnio.spi.TlsConfig;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * TLS at the edges of a connection's life: the peer's close_notify alone or behind a frame, a key update while
 * the writer is blocked, frames in the server's last handshake flight or held inside TLS across pauses, untrusted
 * servers, slow delegated tasks, v5 segments through short ciphertext writes. In-memory tests use {@link TlsWritePathTest.Pipe}/{@link TlsWritePathTest.MemoryServer};
 * end-to-end tests drive a raw-{@link SSLEngine} server over a plain socket so that the test decides exactly
 * which records share one TCP write.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TlsEdgeCasesTest {

    private static final ByteBuffer EMPTY = ByteBuffer.allocate(0);

    @RegisterExtension
    final Closer closer = Closer.quiet();

    // ---------------------------------------------------------------- peer close_notify behind a frame

    /**
     * Coverage (passes on JDK 17): after the server's last frame and its close_notify arrive in one read, the
     * engine is half-closed (inbound closed, outbound open). TlsWire.write loops on
     * {@code left > 0 || wantsWrap()}; had the engine reported NEED_WRAP there with wraps that produce nothing
     * (as its half-closed state does inside a handshake context), the loop thread would spin. It must return.
     */
    @Test
    void aWriteAfterThePeersCloseNotifyMustNotSpin() throws Exception {
        TlsWritePathTest.Pipe wire = new TlsWritePathTest.Pipe(call -> Long.MAX_VALUE, Integer.MAX_VALUE);
        TlsWire tls = handshake(wire);
        assertEquals("TLSv1.3", tls.engine().getSession().getProtocol());
        wire.server.send(TestFrames.frame(0, 1, 100, false));
        serverCloseNotify(wire.server);

        ByteBuffer shared = ByteBuffer.allocate(64 * 1024);
        FrameReader reader = new FrameReader("tls-edge", CqlFrameCodec.INSTANCE, 1 << 20, shared, shared.duplicate());
        List<Integer> frames = new ArrayList<>();
        int n = reader.read(tls, f -> frames.add(TestFrames.check(f, 0)));
        assertEquals(List.of(1), frames, "the frame before close_notify is delivered");

        // The handler answers on the loop thread (or any thread) before the connection learns of the close.
        TestWriter writer = new TestWriter("tls-edge", new WriteEntry.Pool(16), 1L << 40, 1L << 39,
                256 * 1024, 16);
        AtomicReference<Throwable> outcome = new AtomicReference<>();
        CountDownLatch done = new CountDownLatch(1);
        writer.enqueue(TestFrames.frame(0, 2, 100, false), null, f -> { });
        Thread flusher = new Thread(() -> {
            try {
                writer.flush(tls, new ByteBuffer[16]);
            } catch (Throwable t) {
                outcome.set(t);
            }
            done.countDown();
        }, "tls-edge-flusher");
        flusher.setDaemon(true);
        flusher.start();
        boolean returned = done.await(3, TimeUnit.SECONDS);
        HandshakeStatus status = tls.engine().getHandshakeStatus();
        if (!returned) {
            // Break the spin so the test JVM does not burn a core: the next wrap sees the engine closed and throws.
            tls.engine().closeOutbound();
            done.await(5, TimeUnit.SECONDS);
        }
        assertTrue(returned, "FrameWriter.flush -> TlsWire.write did not return within 3 s after the peer's"
                + " close_notify (read returned " + n + ", engine handshake status " + status + "): the wrap loop"
                + " spins on wantsWrap() with wraps that produce nothing");
    }

    /**
     * The same arrival end to end: the connection must end (onClosed with a cause) when the peer's close_notify
     * comes in the same TCP segment as its last frame and the peer keeps the socket open (a TLS 1.3 peer may:
     * close_notify is a half-close; a TLS 1.2 peer waits for our close_notify). Today the frame is delivered,
     * then nothing: TlsWire.read returned the frame's bytes with inboundClosed set (or, when the frame filled
     * the read buffer, FrameReader.read swallowed the -1 of its next read because total > 0), hasBufferedInput()
     * is false once inboundClosed, and the socket has no byte left to raise OP_READ.
     */
    @org.junit.jupiter.params.ParameterizedTest(name = "{0} readBuffer={1} body={2}")
    @org.junit.jupiter.params.provider.CsvSource({
            "TLSv1.3, 65536, 100",
            "TLSv1.2, 65536, 100",
            "TLSv1.3, 1024, 1015", // the frame fills the read buffer: close_notify is unwrapped by the 2nd read
    })
    void thePeersCloseNotifyArrivingWithAFrameEndsTheConnection(String protocol, int readBuffer, int body)
            throws Exception {
        RawTlsServer server = closer.add(new RawTlsServer(protocol));
        Recorder handler = new Recorder();
        Transport transport = closer.add(Transports.create("nio", TransportConfig.builder().readBufferSize(readBuffer)
                .tls(TlsConfig.of(TestTls.clientContext())).build()));
        Connection c = transport.connect(server.address(), handler).get(10, TimeUnit.SECONDS);
        assertEquals(protocol, c.tlsSession().getProtocol());
        server.awaitHandshake();
        server.sendFrameThenCloseNotifyInOneWrite(TestFrames.frame(0, 1, body, false));
        assertTrue(handler.firstFrame.await(5, TimeUnit.SECONDS), "the frame before close_notify arrived");
        Throwable cause = null;
        try {
            cause = handler.closed.get(5, TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            fail("the peer's close_notify came with its last frame and the socket stayed open: 5 s later the"
                    + " connection is still open (isOpen=" + c.isOpen() + "), onClosed never fired");
        }
        assertNotNull(cause, "a peer's close gives a non-null cause");
    }

    // ---------------------------------------------------------------- key update reply flushed by a read

    /**
     * TLS 1.3 KeyUpdate(update_requested) from the server while the writer is BLOCKED with wrapped frames whose
     * ciphertext is still in netOut. Before 4f0749a the read path (afterUnwrap) wrapped the reply behind that
     * ciphertext and flushed netOut itself; when the kernel took it all, hasCiphertext() was false with
     * unacknowledged() > 0, and the next flush (OP_WRITE still armed) took the frames for aliased buffers and
     * threw IllegalStateException ("2009 bytes counted when frames were written are no longer in their
     * buffers"): the connection closed and frames the server already had were failed. Now: the reply waits for
     * the writer, the frame succeeds once, and both directions work under the new keys.
     */
    @Test
    void aKeyUpdateWhileTheWriterIsBlockedAcknowledgesOnceAndKeepsBothDirections() throws Exception {
        long[] allow = {Long.MAX_VALUE};
        TlsWritePathTest.Pipe wire = new TlsWritePathTest.Pipe(call -> allow[0], Integer.MAX_VALUE);
        TlsWire tls = handshake(wire);
        assertEquals("TLSv1.3", tls.engine().getSession().getProtocol());
        ByteBuffer dst = ByteBuffer.allocate(64 * 1024);
        tls.read(dst); // the session tickets
        assertEquals(0, dst.position());

        TestWriter writer = new TestWriter("tls-edge", new WriteEntry.Pool(16), 1L << 40, 1L << 39,
                256 * 1024, 16);
        List<Throwable> outcomes = new CopyOnWriteArrayList<>();
        ByteBuffer frame = TestFrames.frame(0, 1, 2000, false);
        writer.enqueue(frame.duplicate(), null, f -> outcomes.add(f == null ? new Exception("ok") : f));
        ByteBuffer[] iov = new ByteBuffer[16];
        allow[0] = 0; // the kernel's send buffer is full
        assertEquals(FrameWriter.Flush.BLOCKED, writer.flush(tls, iov));
        assertTrue(tls.unacknowledged() > 0 && tls.hasBacklog(), "the frame waits wrapped, unacknowledged");

        wire.server.engine.beginHandshake(); // TLS 1.3 after the handshake: KeyUpdate(update_requested)
        wire.server.pump();
        allow[0] = Long.MAX_VALUE; // the kernel has room again (OP_WRITE is armed and about to fire)
        dst.clear();
        tls.read(dst); // OP_READ came first: the key update is read and answered
        assertTrue(outcomes.isEmpty(), "no listener fired from the read path: " + outcomes);

        FrameWriter.Flush result = null;
        for (int i = 0; i < 10 && result != FrameWriter.Flush.DRAINED; i++) {
            try {
                result = writer.flush(tls, iov); // OP_WRITE
            } catch (IllegalStateException e) {
                fail("the flush after a key update reply threw: " + e);
            }
        }
        assertEquals(FrameWriter.Flush.DRAINED, result);
        assertEquals(1, outcomes.size(), "one outcome");
        assertEquals("ok", outcomes.get(0).getMessage(), "the frame succeeded");
        assertEquals(0, tls.unacknowledged());
        assertFalse(tls.hasBacklog());
        wire.server.pump();
        assertEquals(frame.remaining(), wire.server.plaintext.size(), "the server decrypted the frame");

        // Both directions under the new keys.
        ByteBuffer second = TestFrames.frame(0, 2, 500, false);
        writer.enqueue(second.duplicate(), null, f -> outcomes.add(f == null ? new Exception("ok") : f));
        assertEquals(FrameWriter.Flush.DRAINED, writer.flush(tls, iov));
        wire.server.pump();
        assertEquals(frame.remaining() + second.remaining(), wire.server.plaintext.size());
        wire.server.send(TestFrames.frame(0, 3, 300, false));
        dst.clear();
        tls.read(dst);
        assertEquals(TestFrames.HEADER + 300, dst.position(), "the client decrypts the server's new keys");
    }

    // ================================================================ coverage that passes

    /**
     * Coverage (passes): TLS 1.2, the server's Finished and its first frame in one socket write. The frame sits
     * in netIn when the handshake ends; no readiness event will announce it, and the connection reads it anyway.
     */
    @Test
    void aFrameThatCameWithTheServersLastHandshakeFlightIsDelivered() throws Exception {
        RawTlsServer server = closer.add(new RawTlsServer("TLSv1.2"));
        server.withLastFlight = TestFrames.frame(0, 1, 300, false);
        Recorder handler = new Recorder();
        Transport transport = closer.add(Transports.create("nio", TransportConfig.builder()
                .tls(TlsConfig.of(TestTls.clientContext())).build()));
        Connection c = transport.connect(server.address(), handler).get(10, TimeUnit.SECONDS);
        assertEquals("TLSv1.2", c.tlsSession().getProtocol());
        assertTrue(handler.firstFrame.await(5, TimeUnit.SECONDS),
                "the frame that came with the server's Finished was never delivered");
        assertEquals(List.of(1), handler.frames);
    }

    /**
     * Coverage (passes): a 64-byte read buffer (so TLS holds plaintext and whole records after every
     * MAX_READS_PER_TURN turn) and pauseReading/resumeReading from the handler and from another thread: every
     * frame of one big socket write arrives, in order, with no readiness event after the write.
     */
    @Test
    void framesHeldInsideTlsArriveAcrossReadTurnsAndPauses() throws Exception {
        RawTlsServer server = closer.add(new RawTlsServer());
        int count = 200;
        CountDownLatch all = new CountDownLatch(count);
        List<Integer> frames = new CopyOnWriteArrayList<>();
        FrameHandler handler = new FrameHandler() {
            @Override
            public void onFrame(Connection connection, ByteBuffer frame) {
                int seq = TestFrames.check(frame, 0);
                frames.add(seq);
                all.countDown();
                if (seq % 37 == 0) {
                    connection.pauseReading();
                    new Thread(() -> {
                        try {
                            Thread.sleep(20);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                        connection.resumeReading();
                    }).start();
                }
            }
        };
        Transport transport = closer.add(Transports.create("nio", TransportConfig.builder().readBufferSize(64)
                .tls(TlsConfig.of(TestTls.clientContext())).build()));
        transport.connect(server.address(), handler).get(10, TimeUnit.SECONDS);
        server.awaitHandshake();
        server.writeRecords((engine, out) -> {
            for (int i = 0; i < count; i++) {
                ByteBuffer f = TestFrames.frame(0, i, 100 + (i * 13) % 900, false);
                while (f.hasRemaining()) {
                    engine.wrap(f, out);
                }
            }
        });
        assertTrue(all.await(10, TimeUnit.SECONDS), "only " + frames.size() + " of " + count + " frames arrived");
        for (int i = 0; i < count; i++) {
            assertEquals(i, frames.get(i));
        }
    }

    /** Coverage (passes): an untrusted server certificate fails connect with the SSL cause, inside the timeout. */
    @Test
    void anUntrustedServerFailsConnectWithTheSslCause() throws Exception {
        RawTlsServer server = closer.add(new RawTlsServer());
        javax.net.ssl.SSLContext trustsNothing = javax.net.ssl.SSLContext.getInstance("TLS");
        trustsNothing.init(null, new javax.net.ssl.TrustManager[]{new javax.net.ssl.X509TrustManager() {
            @Override
            public void checkClientTrusted(java.security.cert.X509Certificate[] chain, String authType) {
            }

            @Override
            public void checkServerTrusted(java.security.cert.X509Certificate[] chain, String authType)
                    throws java.security.cert.CertificateException {
                throw new java.security.cert.CertificateException("not trusted");
            }

            @Override
            public java.security.cert.X509Certificate[] getAcceptedIssuers() {
                return new java.security.cert.X509Certificate[0];
            }
        }}, null);
        Transport transport = closer.add(Transports.create("nio", TransportConfig.builder()
                .connectTimeout(java.time.Duration.ofSeconds(5)).tls(TlsConfig.of(trustsNothing)).build()));
        CompletableFuture<Connection> connecting = transport.connect(server.address(), new Recorder());
        Throwable failure = org.junit.jupiter.api.Assertions.assertThrows(
                java.util.concurrent.ExecutionException.class, () -> connecting.get(10, TimeUnit.SECONDS)).getCause();
        assertTrue(failure instanceof io.cqlnio.spi.TransportException, String.valueOf(failure));
        assertTrue(failure.getCause() instanceof javax.net.ssl.SSLException, "cause: " + failure.getCause());
        assertTrue(failure.getMessage().contains("TLS handshake"), failure.getMessage());
    }

    /**
     * Coverage (passes): v5 segments through TLS with short ciphertext writes (0 every third call): the server
     * decrypts the plain frames then the segments byte-exact, every listener fires once in order, and only once
     * the server can decrypt the trailer of the segment carrying the frame.
     */
    @Test
    void v5SegmentsOverTlsSurviveShortCiphertextWrites() throws Exception {
        for (int k : new int[]{7, 1000, 16_709, 70_000}) {
            TlsWritePathTest.Pipe wire = new TlsWritePathTest.Pipe(call -> call % 3 == 2 ? 0 : k, Integer.MAX_VALUE);
            TlsWire tls = handshake(wire);
            TestWriter writer = new TestWriter("v5-tls", new WriteEntry.Pool(64), 1L << 40, 1L << 39,
                    256 * 1024, 16);
            List<Long> ackedAt = new ArrayList<>();
            List<ByteBuffer> all = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                ByteBuffer f = TestFrames.frame(1, i, 20 + i, false);
                all.add(f.duplicate());
                writer.enqueue(f, null, failure -> {
                    assertEquals(null, failure);
                    ackedAt.add((long) decrypted(wire));
                });
            }
            writer.enqueueSwitchToSegments();
            for (int i = 0; i < 60; i++) {
                int body = i == 20 ? TestFrames.STORY_BODY : i == 40 ? 300_000 : 8 + i * 7;
                ByteBuffer f = TestFrames.frame(2, i, body, i % 2 == 0);
                all.add(f.duplicate());
                writer.enqueue(f, null, failure -> {
                    assertEquals(null, failure);
                    ackedAt.add((long) decrypted(wire));
                });
            }
            ByteBuffer[] iov = new ByteBuffer[1024];
            for (int turn = 0; writer.flush(tls, iov) != FrameWriter.Flush.DRAINED; turn++) {
                assertTrue(turn < 5_000_000, "no progress");
                wire.server.pump();
            }
            wire.server.pump();
            SegmentFramingTest.Decoded d = SegmentFramingTest.decode(wire.server.plaintext.toByteArray(), 3);
            assertEquals(all.size() - 3, d.frames().size(), "k=" + k);
            for (int i = 0; i < all.size(); i++) {
                ByteBuffer f = all.get(i);
                byte[] expected = new byte[f.remaining()];
                f.duplicate().get(expected);
                byte[] got = i < 3 ? d.plainFrames().get(i) : d.frames().get(i - 3);
                org.junit.jupiter.api.Assertions.assertArrayEquals(expected, got, "frame " + i + " k=" + k);
            }
            assertEquals(all.size(), ackedAt.size(), "every listener once, k=" + k);
            for (int i = 3; i < ackedAt.size(); i++) {
                assertTrue(ackedAt.get(i) >= d.frameSegmentEnds().get(i - 3), "frame " + i + " acknowledged when"
                        + " the server had decrypted " + ackedAt.get(i) + " bytes, before its segment's end at "
                        + d.frameSegmentEnds().get(i - 3) + " (k=" + k + ")");
            }
        }
    }

    /** What the server can decrypt from the ciphertext the wire has taken so far. */
    private static int decrypted(TlsWritePathTest.Pipe wire) {
        try {
            wire.server.pump();
        } catch (javax.net.ssl.SSLException e) {
            throw new AssertionError(e);
        }
        return wire.server.plaintext.size();
    }

    /** Coverage (passes): close_notify alone, the socket left open, ends the connection with a cause. */
    @org.junit.jupiter.params.ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.ValueSource(strings = {"TLSv1.3", "TLSv1.2"})
    void thePeersCloseNotifyAloneEndsTheConnection(String protocol) throws Exception {
        RawTlsServer server = closer.add(new RawTlsServer(protocol));
        Recorder handler = new Recorder();
        Transport transport = closer.add(Transports.create("nio", TransportConfig.builder()
                .tls(TlsConfig.of(TestTls.clientContext())).build()));
        Connection c = transport.connect(server.address(), handler).get(10, TimeUnit.SECONDS);
        server.awaitHandshake();
        server.writeRecords((engine, out) -> {
            engine.closeOutbound();
            while (!engine.isOutboundDone() && engine.wrap(EMPTY, out).bytesProduced() > 0) {
                // close_notify
            }
        });
        Throwable cause = handler.closed.get(5, TimeUnit.SECONDS);
        assertNotNull(cause, "a peer's close gives a non-null cause");
        assertFalse(c.isOpen());
    }

    /**
     * Coverage (passes): delegated tasks that take longer than connectTimeout: connect fails at the timeout with
     * a TLS handshake message; the late resume finds the connection closed and the loop keeps serving.
     */
    @Test
    void slowDelegatedTasksAreCoveredByConnectTimeout() throws Exception {
        RawTlsServer server = closer.add(new RawTlsServer());
        java.util.concurrent.ExecutorService slow = java.util.concurrent.Executors.newCachedThreadPool();
        closer.add(slow::shutdownNow);
        CountDownLatch lateResume = new CountDownLatch(1);
        TlsConfig tls = TlsConfig.of(TestTls.clientContext()).delegatedTaskExecutor(r -> slow.execute(() -> {
            try {
                Thread.sleep(1500);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            r.run();
            lateResume.countDown();
        }));
        Transport transport = closer.add(Transports.create("nio", TransportConfig.builder().loops(1)
                .connectTimeout(java.time.Duration.ofMillis(400)).tls(tls).build()));
        long start = System.nanoTime();
        CompletableFuture<Connection> connecting = transport.connect(server.address(), new Recorder());
        Throwable failure = org.junit.jupiter.api.Assertions.assertThrows(
                java.util.concurrent.ExecutionException.class, () -> connecting.get(10, TimeUnit.SECONDS)).getCause();
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertTrue(failure.getMessage().contains("TLS handshake"), failure.getMessage());
        assertTrue(millis < 1400, "failed after " + millis + " ms, not at the 400 ms connectTimeout");
        assertTrue(lateResume.await(10, TimeUnit.SECONDS));
        Thread.sleep(100); // the late continueHandshake has run on the loop by now
        // The same single loop still serves: a second connect (to a silent server) fails on time, as the first.
        try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            CompletableFuture<Connection> again = transport.connect(
                    (InetSocketAddress) silent.getLocalSocketAddress(), new Recorder());
            Throwable second = org.junit.jupiter.api.Assertions.assertThrows(
                    java.util.concurrent.ExecutionException.class, () -> again.get(5, TimeUnit.SECONDS)).getCause();
            assertTrue(second.getMessage().contains("400 ms"), second.getMessage());
        }
    }

    // ================================================================ helpers

    static final class Recorder implements FrameHandler {
        final CountDownLatch firstFrame = new CountDownLatch(1);
        final CompletableFuture<Throwable> closed = new CompletableFuture<>();
        final List<Integer> frames = new CopyOnWriteArrayList<>();

        @Override
        public void onFrame(Connection connection, ByteBuffer frame) {
            frames.add(TestFrames.check(frame, 0));
            firstFrame.countDown();
        }

        @Override
        public void onClosed(Connection connection, Throwable causeOrNull) {
            closed.complete(causeOrNull);
        }
    }

    /** The server's close_notify, queued behind what it sent already. */
    static void serverCloseNotify(TlsWritePathTest.MemoryServer server) throws Exception {
        server.engine.closeOutbound();
        while (!server.engine.isOutboundDone()) {
            server.out.compact();
            try {
                SSLEngineResult r = server.engine.wrap(EMPTY, server.out);
                if (r.bytesProduced() == 0) {
                    break;
                }
            } finally {
                server.out.flip();
            }
        }
    }

    static TlsWire handshake(TlsWritePathTest.Pipe wire) throws Exception {
        return TlsWritePathTest.handshake(wire);
    }

    /**
     * A TLS server over a plain blocking socket, driven by an {@link SSLEngine}: the test decides which records
     * go out in one socket write. One connection.
     */
    static final class RawTlsServer implements AutoCloseable {
        private final ServerSocket listener;
        private final SSLEngine engine;
        private final CompletableFuture<Socket> accepted = new CompletableFuture<>();
        private final CountDownLatch handshakeDone = new CountDownLatch(1);
        private final AtomicReference<Throwable> error = new AtomicReference<>();
        private final ByteBuffer netIn = ByteBuffer.allocate(1 << 20);
        private final ByteBuffer app = ByteBuffer.allocate(1 << 20);
        private final ByteBuffer netOut = ByteBuffer.allocate(1 << 20);
        private volatile Socket socket;
        /** Plaintext wrapped right behind the server's last handshake message, in the same socket write. */
        volatile ByteBuffer withLastFlight;

        RawTlsServer() throws Exception {
            this(null);
        }

        RawTlsServer(String protocol) throws Exception {
            listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            engine = TestTls.serverEngine();
            if (protocol != null) {
                engine.setEnabledProtocols(new String[]{protocol});
            }
            Thread t = new Thread(this::run, "raw-tls-server");
            t.setDaemon(true);
            t.start();
        }

        InetSocketAddress address() {
            return new InetSocketAddress("localhost", listener.getLocalPort());
        }

        SSLEngine engine() {
            return engine;
        }

        void awaitHandshake() throws Exception {
            assertTrue(handshakeDone.await(10, TimeUnit.SECONDS), "server handshake: " + error.get());
        }

        private void run() {
            try {
                Socket s = listener.accept();
                s.setTcpNoDelay(true);
                socket = s;
                accepted.complete(s);
                InputStream in = s.getInputStream();
                OutputStream out = s.getOutputStream();
                engine.beginHandshake();
                byte[] chunk = new byte[64 * 1024];
                while (true) {
                    HandshakeStatus hs = engine.getHandshakeStatus();
                    if (hs == HandshakeStatus.NEED_TASK) {
                        TestTls.runDelegatedTasks(engine);
                    } else if (hs == HandshakeStatus.NEED_WRAP) {
                        netOut.clear();
                        SSLEngineResult r = engine.wrap(EMPTY, netOut);
                        ByteBuffer early = withLastFlight;
                        if (early != null && r.getHandshakeStatus() == HandshakeStatus.FINISHED) {
                            while (early.hasRemaining()) {
                                engine.wrap(early, netOut);
                            }
                        }
                        out.write(netOut.array(), 0, netOut.position());
                    } else if (hs == HandshakeStatus.NEED_UNWRAP) {
                        netIn.flip();
                        app.clear();
                        SSLEngineResult r = engine.unwrap(netIn, app);
                        netIn.compact();
                        if (r.getStatus() == SSLEngineResult.Status.BUFFER_UNDERFLOW) {
                            int n = in.read(chunk);
                            if (n < 0) {
                                throw new IOException("client closed during the handshake");
                            }
                            netIn.put(chunk, 0, n);
                        }
                    } else {
                        break;
                    }
                }
                handshakeDone.countDown();
            } catch (Throwable t) {
                error.set(t);
                handshakeDone.countDown();
            }
        }

        /** One socket write: the frame's record(s) and then close_notify. The socket stays open. */
        synchronized void sendFrameThenCloseNotifyInOneWrite(ByteBuffer frame) throws Exception {
            netOut.clear();
            while (frame.hasRemaining()) {
                engine.wrap(frame, netOut);
            }
            engine.closeOutbound();
            while (!engine.isOutboundDone()) {
                if (engine.wrap(EMPTY, netOut).bytesProduced() == 0) {
                    break;
                }
            }
            socket.getOutputStream().write(netOut.array(), 0, netOut.position());
        }

        /** One socket write of whatever records {@code wraps} puts in a buffer. */
        synchronized void writeRecords(WrapScript wraps) throws Exception {
            netOut.clear();
            wraps.wrapInto(engine, netOut);
            socket.getOutputStream().write(netOut.array(), 0, netOut.position());
        }

        interface WrapScript {
            void wrapInto(SSLEngine engine, ByteBuffer out) throws Exception;
        }

        @Override
        public void close() throws Exception {
            listener.close();
            Socket s = socket;
            if (s != null) {
                s.close();
            }
        }
    }
}
