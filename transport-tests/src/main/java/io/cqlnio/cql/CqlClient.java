package io.cqlnio.cql;

import io.cqlnio.spi.Connection;
import io.cqlnio.spi.ConnectionClosedException;
import io.cqlnio.spi.ConnectionStats;
import io.cqlnio.spi.FrameHandler;
import io.cqlnio.spi.Framing;
import io.cqlnio.spi.IdleKind;
import io.cqlnio.spi.Transport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * A minimal CQL client on one {@link Connection} of any {@link Transport}: what a driver author writes on top of
 * the SPI, and the proof that the SPI is enough. Protocol v3, v4 and v5.
 *
 * <p>Protocol v5: STARTUP goes out as an ordinary frame with a v5 header; the server's READY is the last
 * unwrapped frame, and from the next byte on both directions carry checksummed segments. The client switches
 * the connection ({@link Connection#switchFraming}) inside {@code onFrame} while it handles that READY, before
 * STARTUP's future completes, so nothing the caller sends next can go out unwrapped. With
 * {@link Options#withCompression compression "lz4"} STARTUP carries {@code COMPRESSION: lz4} and the switch is to
 * {@link Framing#V5_SEGMENTS_LZ4}: every segment is LZ4-compressed both ways (the transport needs
 * {@code at.yawk.lz4:lz4-java}). Without it the segments are uncompressed. Compression is v5 only here: the
 * client does not compress v4 frame bodies.
 *
 * <p>Requests are multiplexed on stream ids 0..32767: up to 32,768 in flight, each with its own future and
 * timeout. A request that times out keeps its stream id reserved (orphaned) until its late response arrives.
 * Every request uses consistency ONE.
 *
 * <p>Threads: every method may be called from any thread. Futures complete on the transport's loop thread
 * (responses), the client's timer thread (timeouts) or the calling thread (refused writes): do not block in
 * their callbacks, use the {@code *Async} forms to move work elsewhere.
 *
 * <pre>{@code
 * try (Transport transport = Transports.create("nio", TransportConfig.defaults());
 *      CqlClient client = CqlClient.connect(transport, node, CqlClient.Options.defaults()).get(10, SECONDS)) {
 *     client.query("CREATE KEYSPACE ks WITH replication = {'class':'SimpleStrategy','replication_factor':1}").get();
 *     CqlResult.Prepared insert = client.prepare("INSERT INTO ks.t (k, v) VALUES (?, ?)").get();
 *     client.execute(insert, 1, "one").get();
 * }
 * }</pre>
 */
public final class CqlClient implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(CqlClient.class);

    /** Stream ids per connection in protocol v3 and later (a signed short's non-negative half). */
    public static final int MAX_STREAMS = 32768;

    private static final AtomicInteger CLIENTS = new AtomicInteger();

    /**
     * Connection settings.
     *
     * @param version        protocol version 3, 4 or 5 (5: segments after READY, see the class comment)
     * @param requestTimeout how long a request may wait for its response
     * @param compression    {@code null} (none) or {@code "lz4"}: STARTUP's {@code COMPRESSION}, v5 only
     */
    public record Options(int version, Duration requestTimeout, String compression) {
        /** The compression this client can ask for: LZ4 segments in v5. */
        public static final String LZ4 = "lz4";

        /** Validates the values. */
        public Options {
            if (version < 3 || version > 5) {
                throw new IllegalArgumentException("version = " + version + " is invalid: must be 3..5");
            }
            Objects.requireNonNull(requestTimeout, "requestTimeout");
            if (requestTimeout.isNegative() || requestTimeout.isZero()) {
                throw new IllegalArgumentException("requestTimeout = " + requestTimeout + " must be positive");
            }
            if (compression != null && !(LZ4.equals(compression) && version == 5)) {
                throw new IllegalArgumentException("compression = " + compression + " is invalid in v" + version
                        + ": only \"lz4\" in protocol v5 (LZ4 segments), or none");
            }
        }

        /** Uncompressed. */
        public Options(int version, Duration requestTimeout) {
            this(version, requestTimeout, null);
        }

        /** Protocol v4, 10 s per request, no compression. */
        public static Options defaults() {
            return new Options(4, Duration.ofSeconds(10));
        }

        /** These options with another request timeout. */
        public Options withRequestTimeout(Duration timeout) {
            return new Options(version, timeout, compression);
        }

        /** These options with another protocol version (and no compression below v5). */
        public Options withVersion(int v) {
            return new Options(v, requestTimeout, v == 5 ? compression : null);
        }

        /** These options with {@code "lz4"} or {@code null} (none); {@code "lz4"} needs version 5. */
        public Options withCompression(String c) {
            return new Options(version, requestTimeout, c);
        }
    }

    /** One request waiting for its response. */
    private static final class Pending {
        final CompletableFuture<Object> future = new CompletableFuture<>();
        final int opcode;
        /** EXECUTE of a statement with result columns: how to decode rows sent without metadata; else null. */
        final List<CqlResult.ColumnSpec> resultColumns;
        /** WAITING, then TIMED_OUT (orphan) or ANSWERED; decides once who completes the future. */
        final AtomicInteger state = new AtomicInteger(WAITING);
        volatile ScheduledFuture<?> timeout;

        Pending(int opcode, List<CqlResult.ColumnSpec> resultColumns) {
            this.opcode = opcode;
            this.resultColumns = resultColumns;
        }
    }

    private static final int WAITING = 0;
    private static final int TIMED_OUT = 1;
    private static final int ANSWERED = 2;

    /** Marks a READY response: STARTUP's future completes with it. */
    private static final Object READY = new Object();

    private final Options options;
    private final String name;
    private final AtomicReferenceArray<Pending> inFlight = new AtomicReferenceArray<>(MAX_STREAMS);
    private final StreamIds ids = new StreamIds(MAX_STREAMS);
    private final ScheduledThreadPoolExecutor timer;
    private final AtomicLong protocolErrors = new AtomicLong();
    private final AtomicLong serverErrors = new AtomicLong();
    private final AtomicLong unmatchedResponses = new AtomicLong();
    private final AtomicLong timeouts = new AtomicLong();
    private final AtomicLong heartbeatsSent = new AtomicLong();
    private final AtomicLong heartbeatsAnswered = new AtomicLong();
    private final AtomicInteger orphaned = new AtomicInteger();
    /** onClosed calls: the SPI promises exactly one per connection, and fault tests check it. */
    private final AtomicInteger closedNotifications = new AtomicInteger();
    /** Completed by the first onClosed with its cause (null after a local graceful close). */
    private final CompletableFuture<Throwable> closeOutcome = new CompletableFuture<>();
    private volatile String firstProtocolError;
    private volatile Connection connection;
    private volatile Throwable closedBy;
    /** True once the connection was switched to v5 segments. */
    private volatile boolean segmented;

    private CqlClient(Options options) {
        this.options = options;
        this.name = "cql-client-" + CLIENTS.incrementAndGet();
        this.timer = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, name + "-timer");
            t.setDaemon(true);   // a forgotten client must not keep a JVM alive
            return t;
        });
        timer.setRemoveOnCancelPolicy(true);   // 32,768 cancelled timeouts must not pile up in the queue
    }

    /** Connects and sends STARTUP; the future completes once the server answered READY. */
    public static CompletableFuture<CqlClient> connect(Transport transport, InetSocketAddress node, Options options) {
        return open(transport, node, options).thenCompose(client -> client.startup().handle((ready, failure) -> {
            if (failure != null) {
                client.close();
                throw failure instanceof RuntimeException re ? re : new IllegalStateException(failure);
            }
            return client;
        }));
    }

    /** Connects without STARTUP: only {@link #options()} is meaningful until {@link #startup()}. */
    public static CompletableFuture<CqlClient> open(Transport transport, InetSocketAddress node, Options options) {
        CqlClient client = new CqlClient(options);
        return transport.connect(node, client.handler()).handle((connection, failure) -> {
            if (failure != null) {
                client.timer.shutdownNow();
                throw failure instanceof RuntimeException re ? re : new IllegalStateException(failure);
            }
            client.connection = connection;
            return client;
        });
    }

    /**
     * STARTUP with CQL_VERSION 3.0.0 (and COMPRESSION when the options name one); completes when the server
     * answers READY. In protocol v5 the connection carries segments from then on (switched before this future
     * completes), LZ4-compressed with compression "lz4".
     */
    public CompletableFuture<Void> startup() {
        return send(Frames.STARTUP, Frames.startupBody(options.compression())).thenApply(r -> {
            if (r != READY) {
                throw new IllegalStateException("expected READY to STARTUP, got " + r
                        + " (authentication is not supported)");
            }
            return null;
        });
    }

    /** OPTIONS: the server's SUPPORTED map, e.g. {@code PROTOCOL_VERSIONS -> [3/v3, 4/v4, 5/v5, 6/v6-beta]}. */
    @SuppressWarnings("unchecked")
    public CompletableFuture<Map<String, List<String>>> options() {
        return send(Frames.OPTIONS, new byte[0]).thenApply(r -> (Map<String, List<String>>) r);
    }

    /** QUERY with positional values (Integer, Long, String, byte[], ByteBuffer, Boolean, ...). */
    public CompletableFuture<CqlResult> query(String cql, Object... values) {
        return query(options.requestTimeout(), cql, values);
    }

    /** QUERY with its own timeout instead of the client's. */
    public CompletableFuture<CqlResult> query(Duration timeout, String cql, Object... values) {
        return send(Frames.QUERY, Frames.queryBody(options.version(), cql, Arrays.asList(values)), timeout)
                .thenApply(CqlResult.class::cast);
    }

    /** PREPARE. */
    public CompletableFuture<CqlResult.Prepared> prepare(String cql) {
        return send(Frames.PREPARE, Frames.prepareBody(options.version(), cql))
                .thenApply(CqlResult.Prepared.class::cast);
    }

    /** EXECUTE a prepared statement with its bound values, in marker order. */
    public CompletableFuture<CqlResult> execute(CqlResult.Prepared prepared, Object... values) {
        return execute(options.requestTimeout(), prepared, values);
    }

    /** EXECUTE with its own timeout instead of the client's. */
    public CompletableFuture<CqlResult> execute(Duration timeout, CqlResult.Prepared prepared, Object... values) {
        if (values.length != prepared.variables().size()) {
            return CompletableFuture.failedFuture(new IllegalArgumentException("statement has "
                    + prepared.variables().size() + " bind markers, got " + values.length + " values"));
        }
        return send(Frames.EXECUTE, Frames.executeBody(options.version(), prepared, Arrays.asList(values)), timeout,
                prepared.resultColumns().isEmpty() ? null : prepared.resultColumns())
                .thenApply(CqlResult.class::cast);
    }

    /** An UNLOGGED BATCH of prepared statements, {@code values.get(i)} bound to {@code statements.get(i)}. */
    public CompletableFuture<CqlResult> batch(List<CqlResult.Prepared> statements, List<List<?>> values) {
        if (statements.size() != values.size()) {
            return CompletableFuture.failedFuture(new IllegalArgumentException(statements.size()
                    + " statements but " + values.size() + " value lists"));
        }
        return send(Frames.BATCH, Frames.batchBody(options.version(), 1, statements, values))
                .thenApply(CqlResult.class::cast);
    }

    /**
     * Sends one request frame (header and body as two parts of one frame) on a free stream id.
     * Package-private for tests; the public methods above are the API.
     */
    CompletableFuture<Object> send(int opcode, byte[] body) {
        return send(opcode, body, options.requestTimeout());
    }

    /** {@link #send(int, byte[])} with a timeout of its own. */
    CompletableFuture<Object> send(int opcode, byte[] body, Duration timeout) {
        return send(opcode, body, timeout, null);
    }

    private CompletableFuture<Object> send(int opcode, byte[] body, Duration timeout,
                                           List<CqlResult.ColumnSpec> resultColumns) {
        if (timeout.isNegative() || timeout.isZero()) {
            return CompletableFuture.failedFuture(new IllegalArgumentException("timeout " + timeout
                    + " must be positive"));
        }
        Connection c = connection;
        Throwable closed = closedBy;
        if (c == null || closed != null) {
            return CompletableFuture.failedFuture(new ConnectionClosedException(name + " is closed", closed));
        }
        int id = ids.acquire();
        if (id < 0) {
            return CompletableFuture.failedFuture(new IllegalStateException(name + ": all " + MAX_STREAMS
                    + " stream ids are in use (" + orphaned.get() + " of them orphaned by timeouts)"));
        }
        Pending p = new Pending(opcode, resultColumns);
        inFlight.set(id, p);   // before the write: the response may arrive before write() returns
        try {
            p.timeout = timer.schedule(() -> onTimeout(id, p, timeout), timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException closing) {
            // The timer stops when the connection closes; this request raced that close.
            complete(id, p, null, new ConnectionClosedException(name + " is closed", closedBy));
            return p.future;
        }
        ByteBuffer[] frame = {Frames.header(options.version(), id, opcode, body.length), ByteBuffer.wrap(body)};
        c.write(frame, failure -> {
            if (failure != null) {
                // The frame never fully left, so no response can come: the id is free again.
                complete(id, p, null, failure);
            }
        });
        if (closedBy != null) {
            // onClosed may have swept the slots just before we filled ours.
            complete(id, p, null, new ConnectionClosedException(name + " is closed", closedBy));
        }
        return p.future;
    }

    private void onTimeout(int id, Pending p, Duration timeout) {
        if (p.state.compareAndSet(WAITING, TIMED_OUT)) {
            timeouts.incrementAndGet();
            orphaned.incrementAndGet();
            p.future.completeExceptionally(new CqlTimeoutException(name + ": no response on stream " + id
                    + " (opcode 0x" + Integer.toHexString(p.opcode) + ") within " + timeout));
        }
    }

    /** Frees the stream id (once, whoever gets here first) and completes the request's future. */
    private void complete(int id, Pending p, Object value, Throwable failure) {
        if (!inFlight.compareAndSet(id, p, null)) {
            return;
        }
        ScheduledFuture<?> t = p.timeout;
        if (t != null) {
            t.cancel(false);
        }
        ids.release(id);
        if (p.state.getAndSet(ANSWERED) == TIMED_OUT) {
            orphaned.decrementAndGet();   // a late response: its future already failed, its id is free again
            return;
        }
        if (failure != null) {
            p.future.completeExceptionally(failure);
        } else {
            p.future.complete(value);
        }
    }

    private FrameHandler handler() {
        return new FrameHandler() {
            @Override
            public void onFrame(Connection conn, ByteBuffer frame) {
                CqlClient.this.onFrame(conn, frame);
            }

            @Override
            public void onClosed(Connection conn, Throwable cause) {
                CqlClient.this.onClosed(cause);
            }

            /**
             * The Java driver's heartbeat: when nothing was read for the transport's readIdleTimeout, ask
             * OPTIONS; a connection that cannot answer SUPPORTED is dead even if TCP has not noticed yet.
             */
            @Override
            public void onIdle(Connection conn, IdleKind kind) {
                if (kind == IdleKind.READ) {
                    heartbeatsSent.incrementAndGet();
                    options().whenComplete((supported, failure) -> {
                        if (failure == null) {
                            heartbeatsAnswered.incrementAndGet();
                        } else {
                            Throwable why = failure instanceof CompletionException && failure.getCause() != null
                                    ? failure.getCause() : failure;
                            conn.abort(new ConnectionClosedException("heartbeat failed on " + conn, why));
                        }
                    });
                }
            }
        };
    }

    private void onFrame(Connection conn, ByteBuffer frame) {
        int at = frame.position();
        int versionByte = frame.get(at) & 0xff;
        int flags = frame.get(at + 1) & 0xff;
        int streamId = frame.getShort(at + 2);
        int opcode = frame.get(at + 4) & 0xff;
        ByteBuffer body = frame.duplicate().position(at + Frames.HEADER_LENGTH);
        Pending p = streamId >= 0 ? inFlight.get(streamId) : null;
        Object value;
        Throwable failure = null;
        try {
            value = decode(versionByte, flags, streamId, opcode, new Frames.Reader(body),
                    p == null ? null : p.resultColumns);
            if (value instanceof CqlServerException e) {
                failure = e;
                value = null;
            }
        } catch (RuntimeException malformed) {
            value = null;
            failure = malformed;
        }
        if (streamId < 0) {
            LOG.debug("{}: ignoring server-initiated frame, opcode 0x{}", name, Integer.toHexString(opcode));
            return;
        }
        if ((opcode == Frames.READY || opcode == Frames.AUTHENTICATE) && p != null && p.opcode == Frames.STARTUP
                && options.version() >= 5) {
            // v5: the server frames everything after its answer to STARTUP (READY, or AUTHENTICATE, which this
            // client then refuses) in segments, and so must we. Switched here, on the loop thread and before
            // STARTUP's future completes, so the reader unwraps the very next byte and no request the caller
            // sends on READY can go out as a bare frame.
            try {
                conn.switchFraming(options.compression() == null ? Framing.V5_SEGMENTS : Framing.V5_SEGMENTS_LZ4);
                segmented = true;
            } catch (RuntimeException cannot) {
                // e.g. a transport without v5 framing: the next byte from the server is unreadable to it, so
                // the connection is useless; STARTUP fails with the reason instead of READY.
                complete(streamId, p, null, cannot);
                conn.abort(cannot);
                return;
            }
        }
        if (p == null) {
            // Nothing was sent on this id: a corrupted stream (the server read a header out of a body) or a
            // broken server. Counted, never matched to a request.
            long n = unmatchedResponses.incrementAndGet();
            LOG.debug("{}: response on stream {} matches no request ({} so far): {}", name, streamId, n,
                    failure != null ? failure.getMessage() : value);
            return;
        }
        complete(streamId, p, value, failure);
    }

    private Object decode(int versionByte, int flags, int streamId, int opcode, Frames.Reader r,
                          List<CqlResult.ColumnSpec> resultColumns) {
        if ((versionByte & 0x80) == 0) {
            throw new IllegalArgumentException("frame on stream " + streamId + " is not a response: version byte 0x"
                    + Integer.toHexString(versionByte));
        }
        if ((flags & Frames.FLAG_TRACING) != 0) {
            r.skip(16, "tracing id");
        }
        if ((flags & Frames.FLAG_WARNING) != 0) {
            List<String> warnings = r.readStringList();
            LOG.debug("{}: server warnings on stream {}: {}", name, streamId, warnings);
        }
        if ((flags & Frames.FLAG_CUSTOM_PAYLOAD) != 0) {
            r.skipBytesMap();
        }
        int version = versionByte & 0x7f;
        switch (opcode) {
            case Frames.ERROR: {
                int code = r.readInt();
                String message = r.readString();
                serverErrors.incrementAndGet();
                if (code == CqlServerException.PROTOCOL_ERROR) {
                    if (protocolErrors.getAndIncrement() == 0) {
                        firstProtocolError = message;
                    }
                }
                return new CqlServerException(code, message, streamId);
            }
            case Frames.READY:
                return READY;
            case Frames.SUPPORTED:
                return r.readStringMultimap();
            case Frames.RESULT:
                return Results.decode(version, r, resultColumns);
            case Frames.AUTHENTICATE:
                return "AUTHENTICATE " + r.readString();
            default:
                throw new IllegalArgumentException("unexpected response opcode 0x" + Integer.toHexString(opcode)
                        + " on stream " + streamId);
        }
    }

    private void onClosed(Throwable cause) {
        int calls = closedNotifications.incrementAndGet();
        if (calls > 1) {
            LOG.warn("{}: onClosed called {} times; cause now {}", name, calls, String.valueOf(cause));
        }
        ConnectionClosedException closedException = new ConnectionClosedException(name + " closed"
                + (cause == null ? "" : ": " + cause.getMessage()), cause);
        closedBy = closedException;
        for (int id = 0; id < MAX_STREAMS; id++) {
            Pending p = inFlight.get(id);
            if (p != null) {
                complete(id, p, null, closedException);
            }
        }
        timer.shutdownNow();
        closeOutcome.complete(cause);
    }

    /**
     * Completed, on the loop thread, once the connection closed and every request in flight was failed: with what
     * the transport reported (the peer's EOF or reset, an abort's cause), or {@code null} after a local graceful
     * close. Never completes while the connection is open.
     */
    public CompletableFuture<Throwable> closed() {
        return closeOutcome.copy();
    }

    /** How many times the transport called {@code onClosed} for this client's connection: 0 while open, then 1. */
    public int closedNotifications() {
        return closedNotifications.get();
    }

    /** The connection this client runs on (its stats, writability). */
    public Connection connection() {
        return connection;
    }

    /** The connection's counters. */
    public ConnectionStats stats() {
        return connection.stats();
    }

    /** Requests sent and not yet answered, orphans included. */
    public int inFlight() {
        return MAX_STREAMS - ids.available();
    }

    /** Stream ids held by requests that timed out and whose response has not arrived. */
    public int orphanedStreams() {
        return orphaned.get();
    }

    /** Heartbeats sent: OPTIONS requests issued because nothing was read for the read-idle time. */
    public long heartbeatsSent() {
        return heartbeatsSent.get();
    }

    /** Heartbeats (OPTIONS sent on read-idle) that the server answered with SUPPORTED. */
    public long heartbeatsAnswered() {
        return heartbeatsAnswered.get();
    }

    /** Requests that timed out. */
    public long timeouts() {
        return timeouts.get();
    }

    /** ERROR frames received, any code, matched to a request or not. */
    public long serverErrors() {
        return serverErrors.get();
    }

    /** ERROR frames with code 0x000A (protocol error), e.g. {@code Invalid or unsupported protocol version}. */
    public long protocolErrors() {
        return protocolErrors.get();
    }

    /** The message of the first protocol error received, or {@code null}. */
    public String firstProtocolError() {
        return firstProtocolError;
    }

    /** Responses whose stream id matched no request in flight. */
    public long unmatchedResponses() {
        return unmatchedResponses.get();
    }

    /**
     * Why the connection closed, or {@code null} while it is open or after a local graceful close: a
     * {@link ConnectionClosedException} whose cause is what the transport reported (e.g. the peer's reset).
     */
    public Throwable closeCause() {
        Throwable closed = closedBy;
        return closed == null || closed.getCause() == null ? null : closed;
    }

    /** Whether the connection carries protocol v5 segments (v5, after READY). */
    public boolean segmented() {
        return segmented;
    }

    /** STARTUP's COMPRESSION ({@code "lz4"}), or {@code null}. */
    public String compression() {
        return options.compression();
    }

    /** The protocol version this client speaks. */
    public int version() {
        return options.version();
    }

    /**
     * Closes gracefully within 5 s (flushing accepted frames), then aborts; fails what is still in flight and
     * stops the timer. Idempotent.
     */
    @Override
    public void close() {
        Connection c = connection;
        if (c != null && c.isOpen()) {
            try {
                c.close().get(5, TimeUnit.SECONDS);
            } catch (Exception notClosed) {
                c.abort(new ConnectionClosedException(name + " did not close within 5 s", notClosed));
                if (notClosed instanceof InterruptedException) {
                    Thread.currentThread().interrupt();
                }
            }
        }
        timer.shutdownNow();
    }

    @Override
    public String toString() {
        return name + "[" + (connection == null ? "unconnected" : connection.remoteAddress()) + ", v"
                + options.version() + (options.compression() == null ? "" : " " + options.compression()) + "]";
    }
}
