package io.cqlnio.origin;

import io.cqlnio.cql.CqlClient;
import io.cqlnio.cql.CqlResult;
import io.cqlnio.spi.ConnectionStats;
import io.cqlnio.spi.TlsConfig;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;

import javax.net.ssl.SSLSession;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The origin story's workload (see docs/ARCHITECTURE.md, "Why it exists"): one connection with the smallest send buffer
 * the OS allows, a table {@code protocol_error (pkey int PRIMARY KEY, content text)}, and 1,000 prepared INSERTs
 * of the story's ~23.9 KB text {@code "0_1_2_..._4999"} issued at once, from one thread or several. Through a
 * transport that honours short writes every insert succeeds; through {@code naive} the server reads a body byte
 * as a protocol version and answers {@code Invalid or unsupported protocol version (NN)}.
 *
 * <p>The same workload runs in protocol v4 (bare frames, the story's setting) or v5 (every frame after READY
 * inside CRC-checked segments, see {@link #run(String, int, InetSocketAddress, String, int, Duration, boolean)}).
 * In v5 a dropped tail no longer reaches the frame decoder as a version byte: the server's segment decoder sees
 * a payload whose CRC32 does not match, or a segment header whose CRC24 does not.
 *
 * <p>Either version also runs over TLS ({@link #run(String, int, InetSocketAddress, String, int, Duration, boolean,
 * TlsConfig)}): the frames are then encrypted in TLS records before they reach the socket, and a short write cuts a
 * record instead of a frame, which the transport must resume just the same.
 *
 * <p>Shared by the integration test and the demo so both measure the same thing.
 */
public final class OriginStory {

    /** Requests per run, as in the story's reproduction. */
    public static final int REQUESTS = 1000;
    /** The story's text: the numbers 0 to 4999 joined by '_' (23,889 bytes; its EXECUTE body is 23,924). */
    public static final String CONTENT = content();
    /** The table the story used. */
    public static final String TABLE = "protocol_error";

    private OriginStory() {
    }

    /**
     * What one run observed.
     *
     * @param transport          the provider name
     * @param version            the protocol version (4: bare frames; 5: segments after READY)
     * @param threads            threads that issued the requests
     * @param requests           requests issued
     * @param succeeded          requests answered with success
     * @param protocolErrors     ERROR frames with code 0x000A the server sent on the connection (matched or not)
     * @param serverErrors       ERROR frames of any code
     * @param timeouts           requests with no answer within the request timeout
     * @param stats              the connection's counters at the end (short writes among them)
     * @param wall               from the first request to the last outcome
     * @param firstProtocolError the server's first protocol error message, or {@code null}
     * @param rowsVerified       rows read back byte-exact, or -1 when not checked
     * @param openAtEnd          whether the connection was still open when every request had ended (Cassandra
     *                           answers a bad version byte with an ERROR and keeps the connection)
     * @param closeCause         why the connection closed before the end, or {@code null} (Cassandra hangs up on
     *                           a segment CRC mismatch)
     * @param tlsProtocol        the TLS protocol of the workload's connection ({@code TLSv1.3}), or {@code null}
     *                           in plaintext
     * @param compression        STARTUP's COMPRESSION ({@code lz4}: LZ4 v5 segments), or {@code null}
     */
    public record Outcome(String transport, int version, int threads, int requests, int succeeded, long protocolErrors,
                          long serverErrors, long timeouts, ConnectionStats stats, Duration wall,
                          String firstProtocolError, int rowsVerified, boolean openAtEnd, String closeCause,
                          String tlsProtocol, String compression) {

        /** Successful requests per second of wall time. */
        public double requestsPerSecond() {
            return succeeded / Math.max(1e-9, wall.toNanos() / 1e9);
        }

        /**
         * The transport's name, with the protocol version when it is not the story's v4, the compression and the
         * TLS protocol when there are: {@code nio v5}, {@code nio v5 lz4}, {@code nio TLSv1.3}.
         */
        public String label() {
            String label = version == 4 ? transport : transport + " v" + version;
            label = compression == null ? label : label + " " + compression;
            return tlsProtocol == null ? label : label + " " + tlsProtocol;
        }
    }

    /**
     * The smallest SO_SNDBUF (the OS rounds 1 up to its minimum, 2,304 bytes on this kernel), the default
     * SO_RCVBUF. The short writes, the story's subject, come from the send buffer. A minimal receive buffer adds
     * nothing to them, and on loopback it stalls the responses: the server's data waits in TCP's zero-window
     * persist state (its send queue full, ours empty, 0.2 s and more per probe), seconds per run, for nio and
     * netty-nio alike, over TLS more often than not and in the clear now and then (one plaintext run ended
     * 884/1000 with every response late, not lost); the run would then time the kernel's persist timer.
     */
    public static TransportConfig smallestSendBuffer() {
        return TransportConfig.builder().sendBufferSize(1).build();
    }

    /**
     * Runs the workload once through {@code transportName} on a fresh table in {@code keyspace} (which must
     * exist), then, if {@code verify}, reads every row back on a second connection and compares it byte-exact.
     *
     * @param requestTimeout per request; bounds the run, because a corrupted connection may never answer
     */
    public static Outcome run(String transportName, InetSocketAddress node, String keyspace, int threads,
                              Duration requestTimeout, boolean verify) throws InterruptedException {
        return run(transportName, 4, node, keyspace, threads, requestTimeout, verify);
    }

    /**
     * {@link #run(String, InetSocketAddress, String, int, Duration, boolean)} in protocol {@code version}: 4 as the
     * story, or 5, where the client switches the connection to segments on READY and the rows are read back over
     * v5 as well.
     */
    public static Outcome run(String transportName, int version, InetSocketAddress node, String keyspace, int threads,
                              Duration requestTimeout, boolean verify) throws InterruptedException {
        return run(transportName, version, node, keyspace, threads, requestTimeout, verify, null);
    }

    /**
     * {@link #run(String, int, InetSocketAddress, String, int, Duration, boolean)} over TLS when {@code tls} is not
     * {@code null}: the workload's connection ({@link #smallestSendBuffer()}) and the read-back connection both use
     * it, so the node's native port must accept TLS. With {@code null}, exactly the plaintext run.
     */
    public static Outcome run(String transportName, int version, InetSocketAddress node, String keyspace, int threads,
                              Duration requestTimeout, boolean verify, TlsConfig tls) throws InterruptedException {
        return run(transportName, version, null, node, keyspace, threads, requestTimeout, verify, tls);
    }

    /**
     * {@link #run(String, int, InetSocketAddress, String, int, Duration, boolean, TlsConfig)} with STARTUP's
     * {@code compression}: {@code "lz4"} (protocol v5 only) compresses every segment both ways, for the workload
     * and the read-back; {@code null} is exactly the uncompressed run.
     */
    public static Outcome run(String transportName, int version, String compression, InetSocketAddress node,
                              String keyspace, int threads, Duration requestTimeout, boolean verify, TlsConfig tls)
            throws InterruptedException {
        if (threads < 1 || REQUESTS % threads != 0) {
            throw new IllegalArgumentException("threads = " + threads + " must divide " + REQUESTS);
        }
        CqlClient.Options options = CqlClient.Options.defaults().withVersion(version).withRequestTimeout(requestTimeout)
                .withCompression(compression);
        String table = keyspace + "." + TABLE;
        TransportConfig workload = tls == null ? smallestSendBuffer() : withTls(smallestSendBuffer(), tls);
        try (Transport transport = Transports.create(transportName, workload);
             CqlClient client = await(CqlClient.connect(transport, node, options), requestTimeout)) {
            await(client.query("DROP TABLE IF EXISTS " + table), requestTimeout);
            await(client.query("CREATE TABLE " + table + " (pkey int PRIMARY KEY, content text)"), requestTimeout);
            CqlResult.Prepared insert = await(client.prepare("INSERT INTO " + table + " (pkey, content) VALUES (?, ?)"),
                    requestTimeout);

            List<CompletableFuture<CqlResult>> futures = issue(client, insert, threads);
            long started = System.nanoTime();
            int succeeded = 0;
            for (CompletableFuture<CqlResult> f : futures) {
                // Each request has its own timeout, so every future ends; the extra minute is a backstop.
                try {
                    f.get(requestTimeout.toMillis() + 60_000, TimeUnit.MILLISECONDS);
                    succeeded++;
                } catch (ExecutionException failed) {
                    // counted below from the client's counters
                } catch (TimeoutException e) {
                    throw new IllegalStateException("a request outlived its own timeout: client bug", e);
                }
            }
            Duration wall = Duration.ofNanos(System.nanoTime() - started);
            ConnectionStats stats = client.stats();
            boolean openAtEnd = client.connection().isOpen();
            Throwable closed = client.closeCause();
            SSLSession session = client.connection().tlsSession();
            int verified = -1;
            if (verify) {
                verified = verify(transportName, node, table, options, tls);
            }
            return new Outcome(transportName, version, threads, REQUESTS, succeeded, client.protocolErrors(),
                    client.serverErrors(), client.timeouts(), stats, wall, client.firstProtocolError(), verified,
                    openAtEnd, closed == null ? null : closed.getMessage(),
                    session == null ? null : session.getProtocol(), compression);
        }
    }

    /** All requests at once: {@code threads} threads released together, each issuing its share without waiting. */
    private static List<CompletableFuture<CqlResult>> issue(CqlClient client, CqlResult.Prepared insert, int threads)
            throws InterruptedException {
        @SuppressWarnings("unchecked")
        CompletableFuture<CqlResult>[] futures = new CompletableFuture[REQUESTS];
        if (threads == 1) {
            for (int i = 0; i < REQUESTS; i++) {
                futures[i] = client.execute(insert, i, CONTENT);
            }
            return List.of(futures);
        }
        CountDownLatch go = new CountDownLatch(1);
        CountDownLatch done = new CountDownLatch(threads);
        int share = REQUESTS / threads;
        for (int t = 0; t < threads; t++) {
            int from = t * share;
            Thread issuer = new Thread(() -> {
                try {
                    go.await();
                    for (int i = from; i < from + share; i++) {
                        futures[i] = client.execute(insert, i, CONTENT);
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } finally {
                    done.countDown();
                }
            }, "origin-story-issuer-" + t);
            issuer.setDaemon(true);
            issuer.start();
        }
        go.countDown();
        if (!done.await(60, TimeUnit.SECONDS)) {
            throw new IllegalStateException("issuer threads did not finish issuing within 60 s");
        }
        for (int i = 0; i < REQUESTS; i++) {
            Objects.requireNonNull(futures[i], "request " + i + " was never issued");
        }
        return List.of(futures);
    }

    /** Reads every row back on a fresh connection; returns how many are present and byte-exact. */
    private static int verify(String transportName, InetSocketAddress node, String table, CqlClient.Options options,
                              TlsConfig tls) throws InterruptedException {
        try (Transport transport = Transports.create(transportName, withTls(TransportConfig.defaults(), tls));
             CqlClient client = await(CqlClient.connect(transport, node, options), options.requestTimeout())) {
            CqlResult.Prepared select = await(client.prepare("SELECT pkey, content FROM " + table + " WHERE pkey = ?"),
                    options.requestTimeout());
            List<CompletableFuture<CqlResult>> reads = new ArrayList<>(REQUESTS);
            for (int i = 0; i < REQUESTS; i++) {
                reads.add(client.execute(select, i));
            }
            int exact = 0;
            for (int i = 0; i < REQUESTS; i++) {
                CqlResult.Rows rows = (CqlResult.Rows) await(reads.get(i), options.requestTimeout());
                if (rows.rows().size() == 1 && Integer.valueOf(i).equals(rows.value(0, "pkey"))
                        && CONTENT.equals(rows.value(0, "content"))) {
                    exact++;
                }
            }
            return exact;
        }
    }

    /** {@code config} with {@code tls}, or {@code config} itself for plaintext. */
    private static TransportConfig withTls(TransportConfig config, TlsConfig tls) {
        return tls == null ? config : config.toBuilder().tls(tls).build();
    }

    /** Waits for {@code f} at most {@code timeout} plus a margin; unwraps the failure. */
    static <T> T await(CompletableFuture<T> f, Duration timeout) throws InterruptedException {
        try {
            return f.get(timeout.toMillis() + 5_000, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            throw cause instanceof RuntimeException re ? re : new CompletionException(cause);
        } catch (TimeoutException e) {
            throw new IllegalStateException("no outcome within " + timeout, e);
        }
    }

    /** Creates {@code keyspace} with one replica, if absent. */
    public static void createKeyspace(CqlClient client, String keyspace, Duration timeout) throws InterruptedException {
        await(client.query("CREATE KEYSPACE IF NOT EXISTS " + keyspace
                + " WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"), timeout);
    }

    private static String content() {
        StringBuilder sb = new StringBuilder(24_000);
        for (int i = 0; i < 5000; i++) {
            if (i > 0) {
                sb.append('_');
            }
            sb.append(i);
        }
        return sb.toString();
    }
}
