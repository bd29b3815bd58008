package io.cqlnio.cql;

import io.cqlnio.spi.Cancellable;
import io.cqlnio.spi.Connection;
import io.cqlnio.spi.ConnectionClosedException;
import io.cqlnio.spi.ConnectionStats;
import io.cqlnio.spi.FrameHandler;
import io.cqlnio.spi.Framing;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportStats;
import io.cqlnio.spi.WriteListener;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.EOFException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The client against a scripted in-memory connection: multiplexing, errors, timeouts, orphans, closing. */
class CqlClientTest {

    private static final Duration WAIT = Duration.ofSeconds(5);

    private FakeTransport transport;
    private CqlClient client;

    @BeforeEach
    void connect() throws Exception {
        transport = new FakeTransport();
        client = connectWith(CqlClient.Options.defaults());
    }

    @AfterEach
    void close() {
        client.close();
    }

    private CqlClient connectWith(CqlClient.Options options) throws Exception {
        CompletableFuture<CqlClient> connecting = CqlClient.connect(transport, new InetSocketAddress("127.0.0.1", 9042),
                options);
        Sent startup = transport.connection.next();
        assertEquals(Frames.STARTUP, startup.opcode);
        assertEquals(options.version(), startup.version);
        transport.connection.respond(Responses.ready(startup.streamId));
        return connecting.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    }

    @Test
    void thirtyTwoThousandSevenHundredSixtyEightRequestsInFlightAnsweredOutOfOrder() throws Exception {
        List<CompletableFuture<CqlResult>> futures = new ArrayList<>();
        for (int i = 0; i < CqlClient.MAX_STREAMS; i++) {
            futures.add(client.query("USE ks" + i));
        }
        assertEquals(CqlClient.MAX_STREAMS, client.inFlight());
        ExecutionException full = assertThrows(ExecutionException.class, () -> client.query("one too many").get());
        assertInstanceOf(IllegalStateException.class, full.getCause());

        List<Sent> sent = new ArrayList<>();
        BitSet ids = new BitSet();
        for (int i = 0; i < CqlClient.MAX_STREAMS; i++) {
            Sent s = transport.connection.next();
            assertFalse(ids.get(s.streamId), "stream id " + s.streamId + " used twice while in flight");
            ids.set(s.streamId);
            sent.add(s);
        }
        Collections.shuffle(sent);
        for (Sent s : sent) {
            // Answer each with the keyspace named in its own query, so a mix-up would show.
            transport.connection.respond(Responses.setKeyspace(s.streamId, s.queryText().substring(4)));
        }
        for (int i = 0; i < futures.size(); i++) {
            assertEquals(new CqlResult.SetKeyspace("ks" + i), futures.get(i).get(WAIT.toSeconds(), TimeUnit.SECONDS));
        }
        assertEquals(0, client.inFlight());
    }

    @Test
    void anErrorBecomesAnExceptionWithCodeAndMessage() throws Exception {
        CompletableFuture<CqlResult> f = client.query("SELEC");
        Sent s = transport.connection.next();
        transport.connection.respond(Responses.error(s.streamId, 0x2000, "line 1:0 no viable alternative"));
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(5, TimeUnit.SECONDS));
        CqlServerException server = assertInstanceOf(CqlServerException.class, e.getCause());
        assertEquals(0x2000, server.code());
        assertEquals("line 1:0 no viable alternative", server.serverMessage());
        assertEquals(s.streamId, server.streamId());
        assertEquals(1, client.serverErrors());
        assertEquals(0, client.protocolErrors());
        assertEquals(0, client.inFlight(), "an error frees the stream id");
    }

    @Test
    void protocolErrorsAreCountedEvenOnStreamsNobodyUsed() {
        String message = "Invalid or unsupported protocol version (95); supported versions are (3/v3, 4/v4, 5/v5, 6/v6-beta)";
        transport.connection.respond(Responses.error(24369, CqlServerException.PROTOCOL_ERROR, message));
        assertEquals(1, client.protocolErrors());
        assertEquals(1, client.unmatchedResponses());
        assertEquals(message, client.firstProtocolError());
    }

    @Test
    void aTimedOutRequestOrphansItsStreamIdUntilTheLateResponse() throws Exception {
        client.close();
        client = connectWith(CqlClient.Options.defaults().withRequestTimeout(Duration.ofMillis(50)));
        CompletableFuture<CqlResult> slow = client.query("slow");
        Sent first = transport.connection.next();
        ExecutionException e = assertThrows(ExecutionException.class, () -> slow.get(5, TimeUnit.SECONDS));
        assertInstanceOf(CqlTimeoutException.class, e.getCause());
        assertEquals(1, client.timeouts());
        assertEquals(1, client.orphanedStreams());
        assertEquals(1, client.inFlight(), "the orphan keeps its id");

        CompletableFuture<CqlResult> next = client.query("next");
        Sent second = transport.connection.next();
        assertNotEquals(first.streamId, second.streamId, "an orphaned id must not be reused");

        transport.connection.respond(Responses.voidResult(first.streamId));   // the late answer
        assertEquals(0, client.orphanedStreams());
        assertFalse(next.isDone(), "a late answer must not complete another request");
        transport.connection.respond(Responses.setKeyspace(second.streamId, "ks"));
        assertEquals(new CqlResult.SetKeyspace("ks"), next.get(5, TimeUnit.SECONDS));
        assertEquals(0, client.inFlight());
    }

    @Test
    void aRequestMayCarryItsOwnTimeout() throws Exception {
        CompletableFuture<CqlResult> quick = client.query(Duration.ofMillis(20), "x");
        CompletableFuture<CqlResult> patient = client.query("y");   // the client's 10 s
        Sent q = transport.connection.next();
        Sent p = transport.connection.next();
        ExecutionException e = assertThrows(ExecutionException.class, () -> quick.get(5, TimeUnit.SECONDS));
        assertTrue(e.getCause().getMessage().contains("PT0.02S"), e.getCause().getMessage());
        assertFalse(patient.isDone());
        transport.connection.respond(Responses.voidResult(p.streamId));
        transport.connection.respond(Responses.voidResult(q.streamId));
        assertEquals(new CqlResult.Void(), patient.get(5, TimeUnit.SECONDS));
        assertEquals(0, client.orphanedStreams());
        assertThrows(ExecutionException.class, () -> client.query(Duration.ZERO, "z").get(5, TimeUnit.SECONDS));
    }

    @Test
    void optionsAreValidated() {
        assertThrows(IllegalArgumentException.class, () -> new CqlClient.Options(2, Duration.ofSeconds(1)));
        assertThrows(IllegalArgumentException.class, () -> new CqlClient.Options(6, Duration.ofSeconds(1)));
        assertThrows(IllegalArgumentException.class, () -> new CqlClient.Options(4, Duration.ZERO));
    }

    @Test
    void aFailedWriteFailsItsRequestAndFreesTheId() {
        RuntimeException cause = new ConnectionClosedException("boom");
        transport.connection.failNextWrite = cause;
        CompletableFuture<CqlResult> f = client.query("x");
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(5, TimeUnit.SECONDS));
        assertEquals(cause, e.getCause());
        assertEquals(0, client.inFlight());
    }

    @Test
    void closingTheConnectionFailsEveryPendingRequestAndLaterOnes() throws Exception {
        CompletableFuture<CqlResult> a = client.query("a");
        CompletableFuture<CqlResult> b = client.query("b");
        EOFException eof = new EOFException("peer closed");
        transport.connection.handler.onClosed(transport.connection, eof);
        for (CompletableFuture<CqlResult> f : List.of(a, b, client.query("after"))) {
            ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(5, TimeUnit.SECONDS));
            ConnectionClosedException closed = assertInstanceOf(ConnectionClosedException.class, e.getCause());
            assertNotNull(closed.getMessage());
        }
        assertEquals(0, client.inFlight());
    }

    @Test
    void skipsTracingWarningsAndCustomPayloadBeforeTheBody() throws Exception {
        CompletableFuture<CqlResult> f = client.query("x");
        Sent s = transport.connection.next();
        int flags = Frames.FLAG_TRACING | Frames.FLAG_WARNING | Frames.FLAG_CUSTOM_PAYLOAD;
        transport.connection.respond(Responses.frame(4, flags, s.streamId, Frames.RESULT, w -> {
            w.putRaw(new byte[16]);          // tracing id
            w.putShort(1);
            w.string("Batch too large");     // warnings
            w.putShort(1);
            w.string("k");
            w.value(new byte[] {1});         // custom payload
            w.putInt(3);
            w.string("ks");
        }));
        assertEquals(new CqlResult.SetKeyspace("ks"), f.get(5, TimeUnit.SECONDS));
    }

    @Test
    void optionsDecodesSupported() throws Exception {
        CompletableFuture<Map<String, List<String>>> f = client.options();
        Sent s = transport.connection.next();
        assertEquals(Frames.OPTIONS, s.opcode);
        transport.connection.respond(Responses.frame(4, 0, s.streamId, Frames.SUPPORTED, w -> {
            w.putShort(1);
            w.string("PROTOCOL_VERSIONS");
            w.putShort(1);
            w.string("4/v4");
        }));
        assertEquals(Map.of("PROTOCOL_VERSIONS", List.of("4/v4")), f.get(5, TimeUnit.SECONDS));
    }

    @Test
    void aMalformedResponseFailsOnlyItsRequest() throws Exception {
        CompletableFuture<CqlResult> f = client.query("x");
        Sent s = transport.connection.next();
        transport.connection.respond(Responses.frame(4, 0, s.streamId, Frames.RESULT, w -> w.putInt(77)));
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(5, TimeUnit.SECONDS));
        assertInstanceOf(IllegalArgumentException.class, e.getCause());
        assertTrue(transport.connection.isOpen());
    }

    @Test
    void v4NeverSwitchesFraming() {
        assertEquals(List.of(), transport.connection.switches);
        assertFalse(client.segmented());
    }

    @Test
    void v5SwitchesToSegmentsOnReadyBeforeStartupCompletes() throws Exception {
        client.close();
        transport = new FakeTransport();
        CompletableFuture<CqlClient> connecting = CqlClient.connect(transport, new InetSocketAddress("127.0.0.1", 9042),
                CqlClient.Options.defaults().withVersion(5));
        Sent startup = transport.connection.next();
        assertEquals(5, startup.version, "STARTUP carries the v5 header");
        assertEquals(List.of(), transport.connection.switches, "no switch before READY");
        // What the caller's first callback sees: the switch must already be there.
        CompletableFuture<List<Framing>> seenOnReady = connecting.thenApply(c -> List.copyOf(transport.connection.switches));
        transport.connection.respond(Responses.frame(5, 0, startup.streamId, Frames.READY, w -> { }));
        client = connecting.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        assertEquals(List.of(Framing.V5_SEGMENTS), seenOnReady.get(WAIT.toMillis(), TimeUnit.MILLISECONDS));
        assertTrue(client.segmented());
    }

    @Test
    void lz4AsksForCompressionInStartupAndSwitchesToLz4Segments() throws Exception {
        client.close();
        transport = new FakeTransport();
        CompletableFuture<CqlClient> connecting = CqlClient.connect(transport, new InetSocketAddress("127.0.0.1", 9042),
                CqlClient.Options.defaults().withVersion(5).withCompression(CqlClient.Options.LZ4));
        Sent startup = transport.connection.next();
        assertEquals(Map.of("CQL_VERSION", List.of("3.0.0"), "COMPRESSION", List.of("lz4")),
                stringMap(startup.body().duplicate()));
        transport.connection.respond(Responses.frame(5, 0, startup.streamId, Frames.READY, w -> { }));
        client = connecting.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        assertEquals(List.of(Framing.V5_SEGMENTS_LZ4), transport.connection.switches);
        assertEquals("lz4", client.compression());
        assertTrue(client.toString().contains("v5 lz4"), client.toString());
    }

    @Test
    void compressionIsLz4InV5OrNothing() {
        CqlClient.Options v5 = CqlClient.Options.defaults().withVersion(5);
        assertEquals("lz4", v5.withCompression("lz4").compression());
        assertThrows(IllegalArgumentException.class, () -> v5.withCompression("snappy"));
        assertThrows(IllegalArgumentException.class, () -> CqlClient.Options.defaults().withCompression("lz4"),
                "v4 frame-body compression is not implemented");
        assertEquals(null, v5.withCompression("lz4").withVersion(4).compression(), "dropped below v5");
    }

    /** A [string map] read as a multimap of one value each, to compare with Map.of. */
    private static Map<String, List<String>> stringMap(ByteBuffer b) {
        Map<String, List<String>> map = new java.util.TreeMap<>();
        for (int n = b.getShort(); n > 0; n--) {
            byte[] k = new byte[b.getShort()];
            b.get(k);
            byte[] v = new byte[b.getShort()];
            b.get(v);
            map.put(new String(k, java.nio.charset.StandardCharsets.UTF_8),
                    List.of(new String(v, java.nio.charset.StandardCharsets.UTF_8)));
        }
        return map;
    }

    @Test
    void v5SwitchesOnAuthenticateTooBecauseTheServerDoes() {
        client.close();
        transport = new FakeTransport();
        CompletableFuture<CqlClient> connecting = CqlClient.connect(transport, new InetSocketAddress("127.0.0.1", 9042),
                CqlClient.Options.defaults().withVersion(5));
        Sent startup = transport.connection.next();
        transport.connection.respond(Responses.frame(5, 0, startup.streamId, Frames.AUTHENTICATE,
                w -> w.string("org.apache.cassandra.auth.PasswordAuthenticator")));
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> connecting.get(WAIT.toMillis(), TimeUnit.MILLISECONDS));
        assertInstanceOf(IllegalStateException.class, e.getCause(), "authentication is not supported");
        assertEquals(List.of(Framing.V5_SEGMENTS), transport.connection.switches);
    }

    @Test
    void v5StartupFailsWithTheReasonWhenTheTransportCannotSwitch() {
        client.close();
        transport = new FakeTransport();
        CompletableFuture<CqlClient> connecting = CqlClient.connect(transport, new InetSocketAddress("127.0.0.1", 9042),
                CqlClient.Options.defaults().withVersion(5));
        Sent startup = transport.connection.next();
        transport.connection.refuseSwitch = true;
        transport.connection.respond(Responses.frame(5, 0, startup.streamId, Frames.READY, w -> { }));
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> connecting.get(WAIT.toMillis(), TimeUnit.MILLISECONDS));
        assertInstanceOf(UnsupportedOperationException.class, e.getCause());
        assertFalse(transport.connection.isOpen(), "a connection that cannot read the server's segments is aborted");
    }

    /** One request frame as the client wrote it. */
    record Sent(int version, int streamId, int opcode, ByteBuffer body) {
        String queryText() {
            return new Frames.Reader(body.duplicate()).readLongString();
        }
    }

    static final class FakeTransport implements Transport {
        FakeConnection connection;

        @Override
        public CompletableFuture<Connection> connect(InetSocketAddress remote, FrameHandler handler) {
            connection = new FakeConnection(remote, handler);
            return CompletableFuture.completedFuture(connection);
        }

        @Override
        public void close() {
        }

        @Override
        public void close(Duration grace) {
        }

        @Override
        public TransportStats stats() {
            return new TransportStats(1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        }
    }

    /** Records written frames; {@link #respond} delivers a frame as the transport's loop would. */
    static final class FakeConnection implements Connection {
        final InetSocketAddress remote;
        final FrameHandler handler;
        final LinkedBlockingQueue<Sent> written = new LinkedBlockingQueue<>();
        volatile RuntimeException failNextWrite;
        volatile boolean open = true;
        /** Every switchFraming call, in order. */
        final List<Framing> switches = new java.util.concurrent.CopyOnWriteArrayList<>();
        volatile boolean refuseSwitch;

        FakeConnection(InetSocketAddress remote, FrameHandler handler) {
            this.remote = remote;
            this.handler = handler;
        }

        Sent next() {
            try {
                Sent s = written.poll(5, TimeUnit.SECONDS);
                assertNotNull(s, "nothing written within 5 s");
                return s;
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }

        synchronized void respond(ByteBuffer frame) {
            handler.onFrame(this, frame);
        }

        @Override
        public void write(ByteBuffer frame, WriteListener listener) {
            write(new ByteBuffer[] {frame}, listener);
        }

        @Override
        public void write(ByteBuffer[] parts, WriteListener listener) {
            RuntimeException failure = failNextWrite;
            failNextWrite = null;
            if (failure == null) {
                int total = 0;
                for (ByteBuffer p : parts) {
                    total += p.remaining();
                }
                ByteBuffer all = ByteBuffer.allocate(total);
                for (ByteBuffer p : parts) {
                    all.put(p.duplicate());
                }
                all.flip();
                assertEquals(total - 9, all.getInt(5), "declared body length");
                written.add(new Sent(all.get(0), all.getShort(2), all.get(4), all.position(9).slice()));
            }
            if (listener != null) {
                listener.onComplete(failure);
            }
        }

        @Override
        public boolean isWritable() {
            return true;
        }

        @Override
        public long pendingBytes() {
            return 0;
        }

        @Override
        public CompletableFuture<Void> close() {
            if (open) {
                open = false;
                handler.onClosed(this, null);
            }
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public void abort(Throwable cause) {
            if (open) {
                open = false;
                handler.onClosed(this, cause);
            }
        }

        @Override
        public void execute(Runnable task) {
            task.run(); // this fake has no loop: the calling thread stands in for it
        }

        @Override
        public Cancellable schedule(Runnable task, long delay, TimeUnit unit) {
            throw new UnsupportedOperationException("not used by the client under test");
        }

        @Override
        public void pauseReading() {
        }

        @Override
        public void switchFraming(Framing framing) {
            if (refuseSwitch) {
                throw new UnsupportedOperationException("this fake refuses " + framing);
            }
            switches.add(framing);
        }

        @Override
        public void resumeReading() {
        }

        @Override
        public boolean isOpen() {
            return open;
        }

        @Override
        public InetSocketAddress remoteAddress() {
            return remote;
        }

        @Override
        public ConnectionStats stats() {
            return new ConnectionStats(0, 0, 0, 0, 0, 0, 0, 0, 0);
        }
    }
}
