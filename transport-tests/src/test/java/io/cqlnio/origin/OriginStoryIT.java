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

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The origin story against a real node: through {@code nio} 1,000 big prepared INSERTs at once on one connection
 * with the smallest socket buffers all succeed byte-exact while short writes provably happened; through the
 * {@code naive} control the same workload provokes the server's own protocol-version errors.
 */
@ExtendWith(CassandraExtension.class)
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class OriginStoryIT {

    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(10);
    private static final Pattern SERVER_VERSION_ERROR = Pattern.compile(
            "Invalid or unsupported protocol version \\(\\d+\\); supported versions are \\(.*4/v4.*\\)");

    @BeforeAll
    static void keyspaces(CassandraExtension.Target cassandra) throws Exception {
        try (Transport transport = Transports.create("nio", TransportConfig.defaults());
             CqlClient client = CqlClient.connect(transport, cassandra.node().nativeAddress(),
                     CqlClient.Options.defaults()).get(30, TimeUnit.SECONDS)) {
            for (String suffix : new String[] {"_nio1", "_nio8", "_naive"}) {
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
