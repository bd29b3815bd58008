package io.cqlnio.origin;

import io.cqlnio.cassandra.CassandraExtension;
import io.cqlnio.cql.CqlClient;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The origin story against a real node: through {@code nio} 1,000 big prepared INSERTs at once on one connection
 * with the smallest send buffer all succeed byte-exact while short writes provably happened; through the
 * {@code naive} control the same workload provokes the server's own protocol-version errors. Both again in
 * protocol v5, where every frame after READY travels in CRC-checked segments.
 */
@ExtendWith(CassandraExtension.class)
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class OriginStoryIT {

    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(10);
    /** Cassandra 5.0's message for a segment that fails its CRC24 (header) or CRC32 (body). */
    private static final Pattern SERVER_CRC_ERROR = Pattern.compile(
            "invalid, unrecoverable CRC mismatch detected in frame (header|body)\\. Read -?\\d+, Computed -?\\d+");
    private static final Pattern SERVER_VERSION_ERROR = Pattern.compile(
            "Invalid or unsupported protocol version \\(\\d+\\); supported versions are \\(.*4/v4.*\\)");

    @BeforeAll
    static void keyspaces(CassandraExtension.Target cassandra) throws Exception {
        try (Transport transport = Transports.create("nio", TransportConfig.defaults());
             CqlClient client = CqlClient.connect(transport, cassandra.node().nativeAddress(),
                     CqlClient.Options.defaults()).get(30, TimeUnit.SECONDS)) {
            for (String suffix : new String[] {"_nio1", "_nio8", "_naive", "_nio1_v5", "_nio8_v5", "_naive_v5"}) {
                OriginStory.createKeyspace(client, cassandra.keyspace() + suffix, REQUEST_TIMEOUT);
            }
        }
    }

    @Test
    void nioGetsEveryFrameThroughIntactDespiteShortWrites(CassandraExtension.Target cassandra) throws Exception {
        assertIntact(OriginStory.run("nio", cassandra.node().nativeAddress(), cassandra.keyspace() + "_nio1", 1,
                REQUEST_TIMEOUT, true));
    }

    @Test
    void nioWithEightIssuingThreads(CassandraExtension.Target cassandra) throws Exception {
        assertIntact(OriginStory.run("nio", cassandra.node().nativeAddress(), cassandra.keyspace() + "_nio8", 8,
                REQUEST_TIMEOUT, true));
    }

    @Test
    void theNaiveControlProvokesTheServersProtocolVersionError(CassandraExtension.Target cassandra) throws Exception {
        OriginStory.Outcome naive = OriginStory.run("naive", cassandra.node().nativeAddress(),
                cassandra.keyspace() + "_naive", 1, REQUEST_TIMEOUT, false);
        assertTrue(naive.stats().shortWrites() > 0, "the control made no short write, so it proved nothing: " + naive);
        assertTrue(naive.protocolErrors() > 0, "no protocol error from the server: " + naive);
        assertNotNull(naive.firstProtocolError());
        assertTrue(SERVER_VERSION_ERROR.matcher(naive.firstProtocolError()).matches(), naive.firstProtocolError());
        assertTrue(naive.succeeded() < naive.requests(), naive.toString());
        // The server does not hang up on a bad version byte: it answers and goes on reading garbage.
        assertTrue(naive.openAtEnd(), "Cassandra closed the connection: " + naive);
    }

    @Test
    void nioOverV5SegmentsGetsEveryFrameThroughIntactDespiteShortWrites(CassandraExtension.Target cassandra)
            throws Exception {
        OriginStory.Outcome o = OriginStory.run("nio", 5, cassandra.node().nativeAddress(),
                cassandra.keyspace() + "_nio1_v5", 1, REQUEST_TIMEOUT, true);
        assertEquals(5, o.version());
        assertIntact(o);
    }

    @Test
    void nioOverV5SegmentsWithEightIssuingThreads(CassandraExtension.Target cassandra) throws Exception {
        OriginStory.Outcome o = OriginStory.run("nio", 5, cassandra.node().nativeAddress(),
                cassandra.keyspace() + "_nio8_v5", 8, REQUEST_TIMEOUT, true);
        assertEquals(5, o.version());
        assertIntact(o);
    }

    /**
     * The control over v5: its dropped tail cuts a segment. Cassandra 5.0 finds the payload's CRC32 wrong (then the
     * next "header", read from the middle of a payload, fails its CRC24), logs both as unrecoverable, and closes
     * the connection. It sends an ERROR (code 0x000A, stream 0) first, but it still holds unread bytes from us
     * when it closes, so the kernel resets the connection and that ERROR reaches the client in some runs and is
     * discarded with the reset in others: the proof is the server's own log and a connection that ended, and an
     * ERROR that did arrive must be the CRC one.
     */
    @Test
    void theNaiveControlOverV5ProvokesTheServersCrcErrorAndTheServerHangsUp(CassandraExtension.Target cassandra)
            throws Exception {
        long crcErrorsBefore = serverCrcErrors(cassandra.node().logFile());
        OriginStory.Outcome naive = OriginStory.run("naive", 5, cassandra.node().nativeAddress(),
                cassandra.keyspace() + "_naive_v5", 1, REQUEST_TIMEOUT, false);
        assertTrue(naive.stats().shortWrites() > 0, "the control made no short write, so it proved nothing: " + naive);
        assertTrue(naive.succeeded() < naive.requests(), naive.toString());
        assertFalse(naive.openAtEnd(), "the server kept a connection with a corrupt segment stream: " + naive);
        assertNotNull(naive.closeCause(), naive.toString());
        // No protocol-version error any more: segments catch the damage before any frame header is parsed.
        if (naive.firstProtocolError() != null) {
            assertTrue(SERVER_CRC_ERROR.matcher(naive.firstProtocolError()).find(), naive.firstProtocolError());
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (serverCrcErrors(cassandra.node().logFile()) == crcErrorsBefore) {
            assertTrue(System.nanoTime() < deadline, "the server logged no CRC mismatch: " + naive);
            Thread.sleep(50);   // the node's log is written asynchronously: poll with a deadline
        }
    }

    /** Lines of the node's log in which its CQL handler reports an unrecoverable segment CRC mismatch. */
    private static long serverCrcErrors(Path log) throws IOException {
        try (Stream<String> lines = Files.lines(log, StandardCharsets.ISO_8859_1)) {
            return lines.filter(l -> l.contains("CQLMessageHandler") && SERVER_CRC_ERROR.matcher(l).find()).count();
        }
    }

    private static void assertIntact(OriginStory.Outcome o) {
        assertEquals(OriginStory.REQUESTS, o.succeeded(), o.toString());
        assertEquals(0, o.serverErrors(), "ERROR frames: " + o);
        assertEquals(0, o.protocolErrors(), o.toString());
        assertEquals(0, o.timeouts(), o.toString());
        assertEquals(OriginStory.REQUESTS, o.rowsVerified(), "rows read back byte-exact: " + o);
        // Without a short write the run proves nothing about handling them.
        assertTrue(o.stats().shortWrites() > 0, "no short write occurred: " + o);
        assertEquals(0, o.stats().pendingBytes(), o.toString());
        assertTrue(o.openAtEnd(), o.toString());
    }
}
