package io.cqlnio.nio;

import io.cqlnio.testkit.TestFrames;
import io.cqlnio.spi.CqlFrameCodec;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLException;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.LongUnaryOperator;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The TLS write and read paths through a seam: the client's {@link TlsWire} talks to a server
 * {@link SSLEngine} in memory over a wire that takes exactly as many ciphertext bytes per call as its script
 * says (0 included) and hands back the server's ciphertext in pieces of a chosen size. Nothing here depends on
 * what the kernel happens to do.
 *
 * <p>What must hold, at every step: the server decrypts the frames byte-exact and in order (no byte of the
 * ciphertext remainder lost or reordered), and a frame's listener has fired only if the server can already
 * decrypt all of that frame from the bytes the wire took (no plaintext acknowledged before its ciphertext is
 * with the "kernel"), and has fired for every frame the server can decrypt (acknowledged record by record).
 */
class TlsWritePathTest {

    static Stream<Arguments> writeScripts() {
        // k bytes per call; every third call takes nothing when zeroes is true (that is what blocks a flush).
        return IntStream.of(1, 3, 64, 1000, 5000, 16_000, 16_709, 17_000, 70_000, 1 << 20).boxed()
                .flatMap(k -> Stream.of(Arguments.of(k, true, 1024), Arguments.of(k, false, 1024),
                        Arguments.of(k, true, 2)));
    }

    @ParameterizedTest(name = "k={0} zeroes={1} iov={2}")
    @MethodSource("writeScripts")
    void shortCiphertextWritesKeepFramesWholeAndAcknowledgeOnlyWhatTheKernelHas(int k, boolean zeroes, int iovLength)
            throws Exception {
        Pipe wire = new Pipe(call -> zeroes && call % 3 == 2 ? 0 : k, Integer.MAX_VALUE);
        TlsWire tls = handshake(wire);

        List<ByteBuffer> frames = frames(new SplittableRandom(k * 31L + iovLength));
        ByteArrayOutputStream expected = new ByteArrayOutputStream();
        long[] ends = new long[frames.size()];
        List<Integer> acknowledged = new ArrayList<>();
        TestWriter writer = new TestWriter("tls-test", new WriteEntry.Pool(64), 1L << 40, 1L << 39,
                256 * 1024, 16);
        for (int i = 0; i < frames.size(); i++) {
            ByteBuffer f = frames.get(i);
            expected.write(f.array(), f.arrayOffset() + f.position(), f.remaining());
            ends[i] = expected.size();
            int index = i;
            if (i % 5 == 4) {
                ByteBuffer header = f.duplicate().limit(f.position() + TestFrames.HEADER);
                ByteBuffer body = f.duplicate().position(f.position() + TestFrames.HEADER);
                writer.enqueue(null, new ByteBuffer[]{header, body}, failure -> acknowledged.add(failure == null ? index : -1));
            } else {
                writer.enqueue(f, null, failure -> acknowledged.add(failure == null ? index : -1));
            }
        }

        ByteBuffer[] iov = new ByteBuffer[iovLength];
        int checked = 0;
        for (int turn = 0; ; turn++) {
            assertTrue(turn < 5_000_000, "no progress after " + turn + " flushes");
            FrameWriter.Flush result = writer.flush(tls, iov);
            wire.server.pump();
            long decrypted = wire.server.plaintext.size();
            for (; checked < acknowledged.size(); checked++) {
                int index = acknowledged.get(checked);
                assertEquals(checked, index, "listeners out of order or failed: " + acknowledged);
                assertTrue(ends[index] <= decrypted, "frame " + index + " acknowledged when the server could decrypt"
                        + " only " + decrypted + " of its " + ends[index] + " bytes (ciphertext still ours)");
            }
            // And the converse, record by record: a frame the server can already decrypt is reported written,
            // so a connection that dies now fails no frame the peer has.
            int due = 0;
            while (due < ends.length && ends[due] <= decrypted) {
                due++;
            }
            assertEquals(due, acknowledged.size(), "frames whose records the kernel has are not reported written");
            if (result == FrameWriter.Flush.DRAINED) {
                break;
            }
        }
        assertEquals(frames.size(), acknowledged.size(), "every frame acknowledged once");
        assertEquals(0, tls.unacknowledged());
        assertArrayEquals(expected.toByteArray(), wire.server.plaintext.toByteArray(),
                "the server decrypted a different stream");
        if (zeroes && k < 70_000) {
            assertTrue(writer.shortWrites() > 0, "no short write happened, the case proved nothing");
        }
    }

    static Stream<Arguments> readSplits() {
        return IntStream.of(1, 2, 5, 100, 4096, 16_709, 16_710, 65_536).boxed()
                .flatMap(j -> Stream.of(Arguments.of(j, 64 * 1024), Arguments.of(j, 100)));
    }

    /** Records split at every boundary on the way in, into a read buffer larger or smaller than one record. */
    @ParameterizedTest(name = "piece={0} readBuffer={1}")
    @MethodSource("readSplits")
    void splitRecordsBecomeWholeFrames(int piece, int readBufferSize) throws Exception {
        Pipe wire = new Pipe(call -> Long.MAX_VALUE, piece);
        TlsWire tls = handshake(wire);
        List<ByteBuffer> frames = frames(new SplittableRandom(piece));
        for (ByteBuffer f : frames) {
            wire.server.send(f.duplicate());
        }
        ByteBuffer shared = ByteBuffer.allocate(readBufferSize);
        FrameReader reader = new FrameReader("tls-test", CqlFrameCodec.INSTANCE, 1 << 20, shared, shared.duplicate());
        List<ByteBuffer> received = new ArrayList<>();
        FrameReader.Sink sink = frame -> {
            ByteBuffer copy = ByteBuffer.allocate(frame.remaining());
            copy.put(frame).flip();
            received.add(copy);
            return true;
        };
        for (int turn = 0; received.size() < frames.size(); turn++) {
            assertTrue(turn < 10_000_000, "stalled at " + received.size() + " of " + frames.size() + " frames");
            int n = reader.read(tls, sink);
            // What the connection does: no readiness event will announce what TLS holds, so it asks.
            assertTrue(n > 0 || tls.hasBufferedInput() || wire.toClient.hasRemaining()
                            || received.size() == frames.size(),
                    "frames stuck inside TLS with nothing to wake the reader");
        }
        assertEquals(frames.size(), received.size());
        for (int i = 0; i < frames.size(); i++) {
            assertEquals(frames.get(i), received.get(i), "frame " + i);
        }
    }

    /**
     * One write call makes many socket writes under TLS; when a later one fails (the peer reset), the records
     * the kernel took before it are still written, and their frames must say so before the failure is reported.
     */
    @org.junit.jupiter.api.Test
    void aSocketThatFailsMidCallStillAcknowledgesTheRecordsItTook() throws Exception {
        long[] failFrom = {Long.MAX_VALUE};
        Pipe wire = new Pipe(call -> call >= failFrom[0] ? -1 : 20_000, Integer.MAX_VALUE);
        TlsWire tls = handshake(wire);
        failFrom[0] = wire.calls + 6; // six socket writes of 20,000 bytes go through, then a reset
        List<ByteBuffer> frames = frames(new SplittableRandom(7));
        long[] ends = new long[frames.size()];
        long total = 0;
        List<Throwable> outcomes = new ArrayList<>();
        TestWriter writer = new TestWriter("tls-test", new WriteEntry.Pool(64), 1L << 40, 1L << 39,
                1 << 20, 16);
        for (int i = 0; i < frames.size(); i++) {
            total += frames.get(i).remaining();
            ends[i] = total;
            writer.enqueue(frames.get(i), null, failure -> outcomes.add(failure));
        }
        ByteBuffer[] iov = new ByteBuffer[1024];
        assertEquals(FrameWriter.Flush.BLOCKED, writer.flush(tls, iov), "the failure waits for the next call");
        wire.server.pump();
        long decrypted = wire.server.plaintext.size();
        int due = 0;
        while (due < ends.length && ends[due] <= decrypted) {
            due++;
        }
        assertTrue(due > 0, "no record went through before the reset: the case proved nothing");
        assertEquals(due, outcomes.size(), "frames the server has must be reported written before the failure");
        outcomes.forEach(o -> assertEquals(null, o));
        java.io.IOException reset = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
                () -> writer.flush(tls, iov));
        assertEquals("Connection reset by peer (scripted)", reset.getMessage());
    }

    /** A TLS 1.2 server that asks to renegotiate mid-stream gets a clear refusal, not a silent handshake. */
    @org.junit.jupiter.api.Test
    void aTls12RenegotiationIsRefused() throws Exception {
        Pipe wire = new Pipe(call -> Long.MAX_VALUE, Integer.MAX_VALUE, "TLSv1.2");
        TlsWire tls = handshake(wire);
        assertEquals("TLSv1.2", tls.engine().getSession().getProtocol());
        wire.server.send(TestFrames.frame(0, 0, 100, false));
        wire.server.engine.beginHandshake(); // HelloRequest
        wire.server.pump();
        ByteBuffer dst = ByteBuffer.allocate(64 * 1024);
        SSLException refused = org.junit.jupiter.api.Assertions.assertThrows(SSLException.class, () -> {
            for (int i = 0; i < 100; i++) {
                tls.read(dst);
            }
        });
        assertTrue(refused.getMessage().contains("renegotiation refused"), refused.getMessage());
        assertEquals(TestFrames.HEADER + 100, dst.position(), "the frame before the request was delivered");
    }

    // ---------------------------------------------------------------- helpers

    /** Small CQL-shaped frames, mid-size ones and the origin story's frame, all heap so the test can copy them. */
    private static List<ByteBuffer> frames(SplittableRandom random) {
        List<ByteBuffer> frames = new ArrayList<>();
        for (int seq = 0; seq < 60; seq++) {
            int r = random.nextInt(10);
            int body = seq == 7 || seq == 41 ? TestFrames.STORY_BODY : r < 2 ? 1024 + random.nextInt(9000)
                    : 8 + random.nextInt(300);
            frames.add(TestFrames.frame(0, seq, body, false));
        }
        return frames;
    }

    /** A client TlsWire over {@code wire}, handshake done, the server's session tickets waiting in the wire. */
    static TlsWire handshake(Pipe wire) throws Exception {
        SSLEngine client = TestTls.clientContext().createSSLEngine("localhost", 9042);
        client.setUseClientMode(true);
        if (wire.protocol != null) {
            client.setEnabledProtocols(new String[]{wire.protocol});
        }
        TlsWire tls = new TlsWire("tls-test", client, wire, wire);
        tls.beginHandshake();
        for (int step = 0; ; step++) {
            assertTrue(step < 1_000_000, "handshake did not finish");
            TlsWire.Handshake h = tls.handshake();
            if (h == TlsWire.Handshake.DONE) {
                break;
            }
            if (h == TlsWire.Handshake.NEED_TASKS) {
                tls.runDelegatedTasks(Runnable::run, () -> { });
            }
            wire.server.pump();
        }
        wire.server.pump(); // the server's post-handshake messages (TLS 1.3 session tickets) now wait in the wire
        return tls;
    }

    /** The client's socket: writes go to the server as the script allows; reads come from it in pieces. */
    static final class Pipe implements ByteChannel {
        final MemoryServer server;
        final ByteBuffer toClient;
        private final LongUnaryOperator script;
        private final int readPiece;
        final String protocol;
        long calls;

        Pipe(LongUnaryOperator script, int readPiece) throws Exception {
            this(script, readPiece, null);
        }

        Pipe(LongUnaryOperator script, int readPiece, String protocol) throws Exception {
            this.script = script;
            this.readPiece = readPiece;
            this.protocol = protocol;
            this.server = new MemoryServer(protocol);
            this.toClient = server.out;
        }

        /** A negative allowance from the script is a reset. */
        @Override
        public int write(ByteBuffer src) throws java.io.IOException {
            long allowance = script.applyAsLong(calls++);
            if (allowance < 0) {
                throw new java.io.IOException("Connection reset by peer (scripted)");
            }
            int n = (int) Math.min(src.remaining(), allowance);
            ByteBuffer take = src.duplicate();
            take.limit(take.position() + n);
            server.in.put(take);
            src.position(src.position() + n);
            return n;
        }

        @Override
        public int read(ByteBuffer dst) {
            int n = Math.min(Math.min(dst.remaining(), toClient.remaining()), readPiece);
            if (n == 0) {
                return 0;
            }
            ByteBuffer piece = toClient.duplicate();
            piece.limit(piece.position() + n);
            dst.put(piece);
            toClient.position(toClient.position() + n);
            return n;
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {
        }
    }

    /** The server end: decrypts all it was given, and encrypts what the test sends. */
    static final class MemoryServer {
        private static final ByteBuffer EMPTY = ByteBuffer.allocate(0);
        final SSLEngine engine;
        /** Write mode: ciphertext from the client. */
        final ByteBuffer in = ByteBuffer.allocate(4 << 20);
        /** Read mode: ciphertext for the client. */
        final ByteBuffer out = ByteBuffer.allocate(4 << 20).flip();
        final ByteArrayOutputStream plaintext = new ByteArrayOutputStream();
        private final ByteBuffer app = ByteBuffer.allocate(64 * 1024);

        MemoryServer(String protocol) throws Exception {
            engine = TestTls.serverEngine();
            if (protocol != null) {
                engine.setEnabledProtocols(new String[]{protocol});
            }
            engine.beginHandshake();
        }

        void pump() throws SSLException {
            while (true) {
                HandshakeStatus hs = engine.getHandshakeStatus();
                if (hs == HandshakeStatus.NEED_TASK) {
                    TestTls.runDelegatedTasks(engine);
                    continue;
                }
                if (hs == HandshakeStatus.NEED_WRAP) {
                    wrap(EMPTY);
                    continue;
                }
                in.flip();
                app.clear();
                SSLEngineResult r;
                try {
                    r = engine.unwrap(in, app);
                } finally {
                    in.compact();
                }
                app.flip();
                plaintext.write(app.array(), 0, app.limit());
                if (r.getStatus() != SSLEngineResult.Status.OK
                        || (r.bytesConsumed() == 0 && engine.getHandshakeStatus() != HandshakeStatus.NEED_WRAP
                        && engine.getHandshakeStatus() != HandshakeStatus.NEED_TASK)) {
                    return;
                }
            }
        }

        void send(ByteBuffer plain) throws SSLException {
            while (plain.hasRemaining()) {
                wrap(plain);
            }
        }

        private void wrap(ByteBuffer src) throws SSLException {
            out.compact();
            try {
                SSLEngineResult r = engine.wrap(src, out);
                if (r.getStatus() != SSLEngineResult.Status.OK) {
                    throw new SSLException("server wrap: " + r);
                }
            } finally {
                out.flip();
            }
        }
    }
}
