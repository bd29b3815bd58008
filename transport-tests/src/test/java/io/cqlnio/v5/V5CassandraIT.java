package io.cqlnio.v5;

import io.cqlnio.cassandra.CassandraExtension;
import io.cqlnio.cql.CqlClient;
import io.cqlnio.cql.CqlResult;
import io.cqlnio.cql.CqlServerException;
import io.cqlnio.frame.Segments;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.zip.CRC32;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Protocol v5 against the real Cassandra 5.0 node: the CQL client negotiates v5 (STARTUP with a v5 header, READY,
 * switch) and runs its whole repertoire over segments through {@code nio}; values larger than one segment cross
 * in both directions; the server's answers still match the pinned golden bytes; and, on a raw socket, what the
 * server does with the beta flag and with a segment whose CRC is wrong.
 */
@ExtendWith(CassandraExtension.class)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class V5CassandraIT {

    /** Bounds every raw read: the server answers in milliseconds, or closes. */
    private static final int RAW_TIMEOUT_MS = 10_000;
    /** What Cassandra 5.0 answers to a bad CRC: the connection id, which check failed, both values. */
    private static final Pattern UNRECOVERABLE_CRC = Pattern.compile(
            "[0-9a-f]+ invalid, unrecoverable CRC mismatch detected in frame (header|body)\\. Read -?\\d+, Computed -?\\d+");

    private static Transport transport;
    private static CqlClient client;
    private static String ks;
    private static InetSocketAddress node;

    @BeforeAll
    static void connect(CassandraExtension.Target cassandra) throws Exception {
        node = cassandra.node().nativeAddress();
        transport = Transports.create("nio", TransportConfig.defaults());
        client = get(CqlClient.connect(transport, node, CqlClient.Options.defaults().withVersion(5)));
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
    void theClientNegotiatesV5AndRunsEveryRequestKindOverSegments() throws Exception {
        assertTrue(client.segmented(), "the client switched to segments on READY");
        assertEquals(5, client.version());
        Map<String, List<String>> supported = get(client.options());
        assertTrue(supported.get("PROTOCOL_VERSIONS").contains("5/v5"), supported.toString());

        get(client.query("CREATE TABLE IF NOT EXISTS " + ks + ".kv (k int PRIMARY KEY, v text, n bigint)"));
        CqlResult.Prepared insert = get(client.prepare("INSERT INTO " + ks + ".kv (k, v, n) VALUES (?, ?, ?)"));
        assertTrue(insert.resultMetadataId().length > 0 || insert.resultColumns().isEmpty(), "v5 PREPARED layout");
        assertEquals(new CqlResult.Void(), get(client.execute(insert, 1, "one", 1L)));
        assertEquals(new CqlResult.Void(), get(client.query("INSERT INTO " + ks + ".kv (k, v, n) VALUES (?, ?, ?)",
                2, "two", 2L)));
        assertEquals(new CqlResult.Void(), get(client.batch(List.of(insert, insert),
                List.of(List.of(3, "three", 3L), List.of(4, "four", 4L)))));

        CqlResult.Prepared select = get(client.prepare("SELECT v, n FROM " + ks + ".kv WHERE k = ?"));
        assertTrue(select.resultMetadataId().length > 0, "v5 gives a result metadata id");
        for (int k = 1; k <= 4; k++) {
            CqlResult.Rows rows = (CqlResult.Rows) get(client.execute(select, k));
            assertEquals(List.of(List.of(List.of("one", "two", "three", "four").get(k - 1), (long) k)), rows.rows());
        }
        CqlResult.Rows all = (CqlResult.Rows) get(client.query("SELECT k FROM " + ks + ".kv"));
        assertEquals(4, all.rows().size());
        assertEquals(new CqlResult.SetKeyspace(ks), get(client.query("USE " + ks)));

        ExecutionException e = assertThrows(ExecutionException.class,
                () -> client.query("SELEC nothing").get(30, TimeUnit.SECONDS));
        assertEquals(CqlServerException.SYNTAX_ERROR, assertInstanceOf(CqlServerException.class, e.getCause()).code());
        assertEquals(0, client.protocolErrors(), "never a protocol error over segments: " + client.firstProtocolError());
        assertTrue(client.connection().isOpen());
    }

    @Test
    void valuesLargerThanOneSegmentCrossBothWays() throws Exception {
        get(client.query("CREATE TABLE IF NOT EXISTS " + ks + ".blobs (k int PRIMARY KEY, b blob)"));
        CqlResult.Prepared insert = get(client.prepare("INSERT INTO " + ks + ".blobs (k, b) VALUES (?, ?)"));
        CqlResult.Prepared select = get(client.prepare("SELECT b FROM " + ks + ".blobs WHERE k = ?"));
        // 1 MiB: our EXECUTE spans 9 segments; the server's RESULT comes back in non-self-contained segments too.
        int[] sizes = {Segments.MAX_PAYLOAD - 200, Segments.MAX_PAYLOAD, Segments.MAX_PAYLOAD + 1, 1 << 20};
        for (int k = 0; k < sizes.length; k++) {
            byte[] blob = new byte[sizes[k]];
            for (int i = 0; i < blob.length; i++) {
                blob[i] = (byte) (i * 131 + k);
            }
            assertEquals(new CqlResult.Void(), get(client.execute(insert, k, blob)));
            CqlResult.Rows rows = (CqlResult.Rows) get(client.execute(select, k));
            assertArrayEquals(blob, (byte[]) rows.value(0, "b"), "blob of " + sizes[k] + " bytes");
        }
        assertEquals(0, client.serverErrors());
    }

    @Test
    void theServerStillSendsTheGoldenBytes() throws Exception {
        String big = GoldenSegments.BIG_KEYSPACE + ".big";
        get(client.query("CREATE KEYSPACE IF NOT EXISTS " + GoldenSegments.BIG_KEYSPACE
                + " WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"));
        get(client.query("CREATE TABLE IF NOT EXISTS " + big + " (k int PRIMARY KEY, b blob)"));
        get(client.execute(get(client.prepare("INSERT INTO " + big + " (k, b) VALUES (?, ?)")), 1,
                GoldenSegments.bigBlob()));

        try (RawV5Socket raw = new RawV5Socket(node, RAW_TIMEOUT_MS)) {
            assertHex(GoldenSegments.READY_FRAME, raw.startup(5));
            raw.send(RawV5Socket.segment(query(1, "USE system"), true));
            assertHex(GoldenSegments.USE_SYSTEM_STREAM_1, raw.readSegment());
            raw.send(RawV5Socket.segment(RawV5Socket.frame(5, 0, 2, RawV5Socket.OPTIONS, new byte[0]), true));
            assertHex(GoldenSegments.SUPPORTED_STREAM_2, raw.readSegment());
            raw.send(RawV5Socket.segment(query(3, "FOO"), true));
            assertHex(GoldenSegments.SYNTAX_ERROR_STREAM_3, raw.readSegment());
            raw.send(RawV5Socket.segment(query(4, "SELECT b FROM " + big + " WHERE k = 1"), true));
            byte[] first = raw.readSegment();
            byte[] second = raw.readSegment();
            String got = RawV5Socket.hex(Arrays.copyOf(first, 6)) + " " + (first.length - 10) + " "
                    + RawV5Socket.hex(Arrays.copyOfRange(first, first.length - 4, first.length)) + " / "
                    + RawV5Socket.hex(Arrays.copyOf(second, 6)) + " " + (second.length - 10) + " "
                    + RawV5Socket.hex(Arrays.copyOfRange(second, second.length - 4, second.length));
            assertEquals(GoldenSegments.BIG_SEGMENT_1_HEADER + " " + GoldenSegments.BIG_SEGMENT_1_PAYLOAD + " "
                    + GoldenSegments.BIG_SEGMENT_1_TRAILER + " / " + GoldenSegments.BIG_SEGMENT_2_HEADER + " "
                    + GoldenSegments.BIG_SEGMENT_2_PAYLOAD + " " + GoldenSegments.BIG_SEGMENT_2_TRAILER, got);
            byte[] frame = new byte[first.length + second.length - 20];
            System.arraycopy(first, 6, frame, 0, first.length - 10);
            System.arraycopy(second, 6, frame, first.length - 10, second.length - 10);
            assertArrayEquals(GoldenSegments.bigResultFrame(), frame, "the rebuilt big frame is what the server sent");
        }
    }

    @Test
    void theBetaFlagIsIgnoredForV5AndRequiredForV6() throws Exception {
        // v5 is a released version in 5.0: STARTUP with USE_BETA (0x10) still gets READY.
        try (RawV5Socket raw = new RawV5Socket(node, RAW_TIMEOUT_MS)) {
            raw.send(RawV5Socket.frame(5, 0x10, 0, RawV5Socket.STARTUP, RawV5Socket.startupBody()));
            assertHex("850000000200000000", raw.readFrame());
        }
        // v6 is beta: without the flag the server refuses with a protocol error in a v6 frame.
        try (RawV5Socket raw = new RawV5Socket(node, RAW_TIMEOUT_MS)) {
            raw.send(RawV5Socket.frame(6, 0, 0, RawV5Socket.OPTIONS, new byte[0]));
            ByteBuffer error = ByteBuffer.wrap(raw.readFrame());
            assertEquals((byte) 0x86, error.get(0));
            assertEquals(0x00, error.get(4), "opcode ERROR");
            assertEquals(CqlServerException.PROTOCOL_ERROR, error.getInt(9));
            assertEquals("Beta version of the protocol used (6/v6-beta), but USE_BETA flag is unset",
                    string(error, 13));
        }
    }

    @Test
    void aBadPayloadCrc32GetsAProtocolErrorThenTheServerHangsUp() throws Exception {
        byte[] segment = RawV5Socket.segment(RawV5Socket.frame(5, 0, 7, RawV5Socket.OPTIONS, new byte[0]), true);
        segment[segment.length - 1] ^= 0x01;
        assertUnrecoverable(segment, "body");
    }

    @Test
    void aBadHeaderCrc24GetsAProtocolErrorThenTheServerHangsUp() throws Exception {
        byte[] segment = RawV5Socket.segment(RawV5Socket.frame(5, 0, 7, RawV5Socket.OPTIONS, new byte[0]), true);
        segment[4] ^= 0x01;
        assertUnrecoverable(segment, "header");
    }

    /** Sends {@code corrupt} after READY; the server must answer one ERROR segment naming the check, then close. */
    private static void assertUnrecoverable(byte[] corrupt, String which) throws Exception {
        try (RawV5Socket raw = new RawV5Socket(node, RAW_TIMEOUT_MS)) {
            raw.startup(5);
            raw.send(corrupt);
            byte[] after = raw.readUntilClosed();
            assertNotNull(after, "the server kept the connection open for " + RAW_TIMEOUT_MS + " ms");
            ByteBuffer b = ByteBuffer.wrap(after);
            int header3b = Segments.readHeader(b, 0);   // the server's own answer passes our checks
            int length = Segments.payloadLength(header3b);
            assertEquals(after.length, Segments.HEADER_LENGTH + length + Segments.TRAILER_LENGTH,
                    "one segment, then the close: " + RawV5Socket.hex(after));
            CRC32 crc = Segments.newCrc32();
            crc.update(b.slice(Segments.HEADER_LENGTH, length));
            assertEquals(Segments.readTrailer(b, Segments.HEADER_LENGTH + length), (int) crc.getValue());
            ByteBuffer frame = b.slice(Segments.HEADER_LENGTH, length);
            assertEquals((byte) 0x85, frame.get(0));
            assertEquals(0, frame.getShort(2), "stream 0: the server cannot know which request it was");
            assertEquals(0x00, frame.get(4), "opcode ERROR");
            assertEquals(CqlServerException.PROTOCOL_ERROR, frame.getInt(9));
            String message = string(frame, 13);
            assertTrue(UNRECOVERABLE_CRC.matcher(message).matches(), message);
            assertTrue(message.contains("in frame " + which + "."), message);
        }
    }

    private static byte[] query(int stream, String cql) {
        return RawV5Socket.frame(5, 0, stream, RawV5Socket.QUERY, RawV5Socket.queryBodyV5(cql));
    }

    private static String string(ByteBuffer b, int at) {
        int n = b.getShort(at) & 0xffff;
        return new String(b.array(), b.arrayOffset() + at + 2, n, StandardCharsets.UTF_8);
    }

    private static void assertHex(String expected, byte[] actual) {
        assertEquals(expected, RawV5Socket.hex(actual));
    }

    private static <T> T get(CompletableFuture<T> f) throws Exception {
        return f.get(30, TimeUnit.SECONDS);
    }
}
