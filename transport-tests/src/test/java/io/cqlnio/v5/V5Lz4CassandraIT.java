package io.cqlnio.v5;

import io.cqlnio.bench.tls.TestCertificates;
import io.cqlnio.cassandra.CassandraExtension;
import io.cqlnio.cql.CqlClient;
import io.cqlnio.cql.CqlResult;
import io.cqlnio.cql.CqlServerException;
import io.cqlnio.frame.Lz4Segments;
import io.cqlnio.frame.Segments;
import io.cqlnio.origin.OriginStory;
import io.cqlnio.spi.TlsConfig;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * LZ4 v5 segments against the real Cassandra 5.0 node: the CQL client asks for {@code COMPRESSION: lz4} in a v5
 * STARTUP and runs DDL, prepared and unprepared requests, batches and values larger than a segment (compressible
 * and random) over {@code nio} with {@code Framing.V5_SEGMENTS_LZ4}, in plaintext and over TLS; the origin-story
 * workload runs compressed; the server's answers still match the pinned golden bytes; and on a raw socket, the
 * server refuses a compressed segment whose CRC32 covers the uncompressed bytes (so the trailer covers the bytes as
 * sent, as {@code Lz4Segments} says).
 */
@ExtendWith(CassandraExtension.class)
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class V5Lz4CassandraIT {

    private static final Logger LOG = LoggerFactory.getLogger(V5Lz4CassandraIT.class);
    private static final int RAW_TIMEOUT_MS = 10_000;
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(20);
    private static final Pattern UNRECOVERABLE_CRC = Pattern.compile(
            "[0-9a-f]+ invalid, unrecoverable CRC mismatch detected in frame (header|body)\\. Read -?\\d+, Computed -?\\d+");
    private static final CqlClient.Options LZ4 = CqlClient.Options.defaults().withVersion(5)
            .withCompression(CqlClient.Options.LZ4).withRequestTimeout(REQUEST_TIMEOUT);

    private static Transport transport;
    private static CqlClient client;
    private static String ks;
    private static InetSocketAddress node;

    @BeforeAll
    static void connect(CassandraExtension.Target cassandra) throws Exception {
        node = cassandra.node().nativeAddress();
        transport = Transports.create("nio", TransportConfig.defaults());
        client = get(CqlClient.connect(transport, node, LZ4));
        ks = cassandra.keyspace();
        get(client.query(cassandra.createKeyspaceCql()));
    }

    @AfterAll
    static void close() {
        if (client != null) {
            client.close();
        }
        if (transport != null) {
            transport.close();
        }
    }

    @Test
    void theClientNegotiatesLz4AndRunsEveryRequestKind() throws Exception {
        exercise(client, "kv");
    }

    @Test
    void overTlsToo(CassandraExtension.Target cassandra) throws Exception {
        assertTrue(cassandra.node().clientTls(), "the shared node was started without client TLS");
        TransportConfig tls = TransportConfig.builder()
                .tls(TlsConfig.of(TestCertificates.get().clientContext())).build();
        try (Transport t = Transports.create("nio", tls);
             CqlClient c = get(CqlClient.connect(t, node, LZ4))) {
            assertNotNull(c.connection().tlsSession(), "not TLS");
            exercise(c, "kv_tls");
        }
    }

    /** DDL, prepared INSERT and SELECT with values checked, a batch, values over a segment both ways. */
    private static void exercise(CqlClient c, String table) throws Exception {
        assertTrue(c.segmented(), "switched to segments on READY");
        assertEquals("lz4", c.compression());
        get(c.query("CREATE TABLE IF NOT EXISTS " + ks + "." + table + " (k int PRIMARY KEY, v text, b blob)"));
        CqlResult.Prepared insert = get(c.prepare("INSERT INTO " + ks + "." + table + " (k, v, b) VALUES (?, ?, ?)"));
        CqlResult.Prepared select = get(c.prepare("SELECT v, b FROM " + ks + "." + table + " WHERE k = ?"));
        // Small and large, compressible and random: segments compressed and stored, whole and sliced, both ways.
        int[] sizes = {1, 64, 1024, 24 * 1024, Segments.MAX_PAYLOAD - 100, Segments.MAX_PAYLOAD + 1, 1 << 20};
        for (int i = 0; i < sizes.length; i++) {
            for (boolean random : new boolean[]{false, true}) {
                int k = i * 2 + (random ? 1 : 0);
                byte[] blob = new byte[sizes[i]];
                if (random) {
                    new SplittableRandom(k).nextBytes(blob);
                } else {
                    for (int j = 0; j < blob.length; j++) {
                        blob[j] = (byte) ("lz4 over v5 segments ".charAt(j % 21) + (j / 4096));
                    }
                }
                String v = "row " + k + " " + "x".repeat(k);
                assertEquals(new CqlResult.Void(), get(c.execute(insert, k, v, blob)));
                CqlResult.Rows rows = (CqlResult.Rows) get(c.execute(select, k));
                assertEquals(v, rows.value(0, "v"), "row " + k);
                assertArrayEquals(blob, (byte[]) rows.value(0, "b"), sizes[i] + " bytes, random " + random);
            }
        }
        assertEquals(new CqlResult.Void(), get(c.batch(List.of(insert, insert),
                List.of(List.of(100, "hundred", new byte[3]), List.of(101, "hundred and one", new byte[5])))));
        CqlResult.Rows all = (CqlResult.Rows) get(c.query("SELECT k FROM " + ks + "." + table));
        assertEquals(sizes.length * 2 + 2, all.rows().size());
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> c.query("SELEC nothing").get(30, TimeUnit.SECONDS));
        assertEquals(CqlServerException.SYNTAX_ERROR, assertInstanceOf(CqlServerException.class, e.getCause()).code());
        assertEquals(0, c.protocolErrors(), "never a protocol error over LZ4 segments: " + c.firstProtocolError());
        assertEquals(1, c.serverErrors(), "only the syntax error");
        assertTrue(c.connection().isOpen());
    }

    /** The origin story (1,000 prepared 23.9 KB INSERTs at once, smallest send buffer) over LZ4, then uncompressed. */
    @Test
    void theOriginStoryWorkloadOverLz4() throws Exception {
        get(client.query("CREATE KEYSPACE IF NOT EXISTS " + ks + "_origin"
                + " WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"));
        OriginStory.Outcome lz4 = OriginStory.run("nio", 5, "lz4", node, ks + "_origin", 1, REQUEST_TIMEOUT, true,
                null);
        OriginStory.Outcome plain = OriginStory.run("nio", 5, null, node, ks + "_origin", 1, REQUEST_TIMEOUT, false,
                null);
        LOG.info("origin story over v5: {} {}/{} ok, {} short writes, {} bytes sent; {} {}/{} ok, {} short writes,"
                        + " {} bytes sent", lz4.label(), lz4.succeeded(), lz4.requests(), lz4.stats().shortWrites(),
                lz4.stats().bytesWritten(), plain.label(), plain.succeeded(), plain.requests(),
                plain.stats().shortWrites(), plain.stats().bytesWritten());
        assertEquals("nio v5 lz4", lz4.label());
        assertEquals(OriginStory.REQUESTS, lz4.succeeded(), lz4.toString());
        assertEquals(0, lz4.serverErrors(), lz4.toString());
        assertEquals(0, lz4.timeouts(), lz4.toString());
        assertEquals(OriginStory.REQUESTS, lz4.rowsVerified(), "rows read back byte-exact: " + lz4);
        assertTrue(lz4.stats().shortWrites() > 0, "no short write occurred: " + lz4);
        assertEquals(0, lz4.stats().pendingBytes(), lz4.toString());
        assertEquals(OriginStory.REQUESTS, plain.succeeded(), plain.toString());
        assertTrue(lz4.stats().bytesWritten() < plain.stats().bytesWritten(),
                "LZ4 sent " + lz4.stats().bytesWritten() + " bytes, uncompressed " + plain.stats().bytesWritten());
    }

    /** The origin story over TLS and LZ4: a short write now cuts a record of compressed segments. */
    @Test
    void theOriginStoryWorkloadOverTlsAndLz4() throws Exception {
        get(client.query("CREATE KEYSPACE IF NOT EXISTS " + ks + "_origin_tls"
                + " WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"));
        OriginStory.Outcome o = OriginStory.run("nio", 5, "lz4", node, ks + "_origin_tls", 1, REQUEST_TIMEOUT, true,
                TlsConfig.of(TestCertificates.get().clientContext()));
        LOG.info("origin story over TLS and LZ4: {} {}/{} ok, {} short writes, {} bytes sent", o.label(),
                o.succeeded(), o.requests(), o.stats().shortWrites(), o.stats().bytesWritten());
        assertNotNull(o.tlsProtocol(), o.toString());
        assertEquals(OriginStory.REQUESTS, o.succeeded(), o.toString());
        assertEquals(0, o.serverErrors(), o.toString());
        assertEquals(OriginStory.REQUESTS, o.rowsVerified(), o.toString());
        assertTrue(o.stats().shortWrites() > 0, "no short write occurred: " + o);
    }

    @Test
    void theServerStillSendsTheGoldenLz4Bytes() throws Exception {
        String k = GoldenLz4Segments.KEYSPACE;
        get(client.query("CREATE KEYSPACE IF NOT EXISTS " + k
                + " WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"));
        for (String table : List.of("pattern", "big", "random")) {
            get(client.query("CREATE TABLE IF NOT EXISTS " + k + "." + table + " (k int PRIMARY KEY, b blob)"));
        }
        get(client.query("INSERT INTO " + k + ".pattern (k, b) VALUES (1, ?)",
                GoldenLz4Segments.patternBlob(GoldenLz4Segments.PATTERN_BLOB_LENGTH)));
        get(client.query("INSERT INTO " + k + ".big (k, b) VALUES (1, ?)",
                GoldenLz4Segments.patternBlob(GoldenLz4Segments.BIG_BLOB_LENGTH)));
        get(client.query("INSERT INTO " + k + ".random (k, b) VALUES (1, ?)", GoldenLz4Segments.randomBlob()));

        StringBuilder captured = new StringBuilder();
        try (RawV5Socket raw = new RawV5Socket(node, RAW_TIMEOUT_MS)) {
            String ready = RawV5Socket.hex(raw.startup(5, "lz4"));
            captured.append("READY_FRAME ").append(ready).append('\n');
            String use = exchange(raw, query(1, "USE system"));
            captured.append("USE_SYSTEM_STREAM_1 ").append(use).append('\n');
            String supported = exchange(raw, RawV5Socket.frame(5, 0, 2, RawV5Socket.OPTIONS, new byte[0]));
            captured.append("SUPPORTED_STREAM_2 ").append(supported).append('\n');
            String error = exchange(raw, query(3, "FOO"));
            captured.append("SYNTAX_ERROR_STREAM_3 ").append(error).append('\n');
            String pattern = exchange(raw, query(4, "SELECT b FROM " + k + ".pattern WHERE k = 1"));
            captured.append("PATTERN_STREAM_4 ").append(pattern).append('\n');
            raw.send(Lz4RawSegments.segment(query(5, "SELECT b FROM " + k + ".big WHERE k = 1"), true));
            byte[] big1 = raw.readLz4Segment();
            byte[] big2 = raw.readLz4Segment();
            captured.append("BIG_SEGMENT_1 ").append(RawV5Socket.hex(big1)).append('\n');
            captured.append("BIG_SEGMENT_2 ").append(RawV5Socket.hex(big2)).append('\n');
            raw.send(Lz4RawSegments.segment(query(6, "SELECT b FROM " + k + ".random WHERE k = 1"), true));
            byte[] random1 = raw.readLz4Segment();
            byte[] random2 = raw.readLz4Segment();
            captured.append("RANDOM_SEGMENT_1 ").append(headerAndTrailer(random1)).append('\n');
            captured.append("RANDOM_SEGMENT_2 ").append(headerAndTrailer(random2)).append('\n');
            LOG.info("captured from the node:\n{}", captured);

            assertEquals(GoldenLz4Segments.READY_FRAME, ready, captured.toString());
            assertEquals(GoldenLz4Segments.USE_SYSTEM_STREAM_1, use, captured.toString());
            assertEquals(GoldenLz4Segments.SUPPORTED_STREAM_2, supported, captured.toString());
            assertEquals(GoldenLz4Segments.SYNTAX_ERROR_STREAM_3, error, captured.toString());
            assertEquals(GoldenLz4Segments.PATTERN_STREAM_4, pattern, captured.toString());
            assertEquals(GoldenLz4Segments.BIG_SEGMENT_1, RawV5Socket.hex(big1), captured.toString());
            assertEquals(GoldenLz4Segments.BIG_SEGMENT_2, RawV5Socket.hex(big2), captured.toString());
            assertEquals(GoldenLz4Segments.RANDOM_SEGMENT_1_HEADER + " " + GoldenLz4Segments.RANDOM_SEGMENT_1_TRAILER,
                    headerAndTrailer(random1), captured.toString());
            assertEquals(GoldenLz4Segments.RANDOM_SEGMENT_2_HEADER + " " + GoldenLz4Segments.RANDOM_SEGMENT_2_TRAILER,
                    headerAndTrailer(random2), captured.toString());
            byte[] rebuilt = concat(Lz4RawSegments.payload(random1), Lz4RawSegments.payload(random2));
            assertArrayEquals(GoldenLz4Segments.resultFrame(6, "random", GoldenLz4Segments.randomBlob()), rebuilt);
        }
    }

    /**
     * The trailer covers the payload as sent: a compressed segment whose CRC32 was computed over the uncompressed
     * bytes gets a protocol error and a closed connection, as any bad CRC does.
     */
    @Test
    void aCrc32OverTheUncompressedBytesIsRefusedByTheServer() throws Exception {
        byte[] compressible = query(7, "SELECT * FROM system.local WHERE key IN (" + "'local', ".repeat(40) + "'local')");
        try (RawV5Socket raw = new RawV5Socket(node, RAW_TIMEOUT_MS)) {
            assertEquals(GoldenLz4Segments.READY_FRAME, RawV5Socket.hex(raw.startup(5, "lz4")));
            raw.send(Lz4RawSegments.crcOverUncompressed(compressible));
            byte[] after = raw.readUntilClosed();
            assertNotNull(after, "the server kept the connection open for " + RAW_TIMEOUT_MS + " ms");
            byte[] frame = Lz4RawSegments.payload(Arrays.copyOf(after, Lz4Segments.HEADER_LENGTH
                    + Lz4Segments.compressedLength(Lz4Segments.readHeader(ByteBuffer.wrap(after), 0))
                    + Segments.TRAILER_LENGTH));
            ByteBuffer f = ByteBuffer.wrap(frame);
            assertEquals(0x00, f.get(4), "opcode ERROR");
            assertEquals(CqlServerException.PROTOCOL_ERROR, f.getInt(9));
            String message = new String(frame, 15, f.getShort(13) & 0xffff, StandardCharsets.UTF_8);
            assertTrue(UNRECOVERABLE_CRC.matcher(message).matches(), message);
        }
    }

    private static String exchange(RawV5Socket raw, byte[] frame) throws Exception {
        raw.send(Lz4RawSegments.segment(frame, true));
        return RawV5Socket.hex(raw.readLz4Segment());
    }

    private static String headerAndTrailer(byte[] segment) {
        return RawV5Socket.hex(Arrays.copyOf(segment, Lz4Segments.HEADER_LENGTH)) + " "
                + RawV5Socket.hex(Arrays.copyOfRange(segment, segment.length - Segments.TRAILER_LENGTH, segment.length));
    }

    private static byte[] query(int stream, String cql) {
        return RawV5Socket.frame(5, 0, stream, RawV5Socket.QUERY, RawV5Socket.queryBodyV5(cql));
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] all = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }

    private static <T> T get(CompletableFuture<T> f) throws Exception {
        return f.get(60, TimeUnit.SECONDS);
    }
}
