package io.cqlnio.cql;

import io.cqlnio.cassandra.CassandraExtension;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The minimal CQL client through cqlnio's {@code nio} transport against the real node. */
@ExtendWith(CassandraExtension.class)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class CqlClientIT {

    private static Transport transport;
    private static CqlClient client;
    private static String ks;

    @BeforeAll
    static void connect(CassandraExtension.Target cassandra) throws Exception {
        transport = Transports.create("nio", TransportConfig.defaults());
        client = CqlClient.connect(transport, cassandra.node().nativeAddress(), CqlClient.Options.defaults())
                .get(30, TimeUnit.SECONDS);
        ks = cassandra.keyspace();
        assertInstanceOf(CqlResult.SchemaChange.class, get(client.query(cassandra.createKeyspaceCql())));
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
    void optionsListsTheServersVersionsInV4AndInAV5Header(CassandraExtension.Target cassandra) throws Exception {
        Map<String, List<String>> supported = get(client.options());
        assertTrue(supported.get("PROTOCOL_VERSIONS").contains("4/v4"), supported.toString());
        try (CqlClient v5 = CqlClient.open(transport, cassandra.node().nativeAddress(),
                CqlClient.Options.defaults().withVersion(5)).get(30, TimeUnit.SECONDS)) {
            assertTrue(get(v5.options()).get("PROTOCOL_VERSIONS").contains("5/v5"));
        }
    }

    @Test
    void schemaUseAndEveryMappedTypeRoundTrip() throws Exception {
        CqlResult.SchemaChange created = (CqlResult.SchemaChange) get(client.query("CREATE TABLE " + ks
                + ".types (k int PRIMARY KEY, l bigint, t text, b blob, f boolean)"));
        assertEquals(new CqlResult.SchemaChange("CREATED", "TABLE", ks, "types"), created);
        CqlResult.Prepared insert = get(client.prepare("INSERT INTO " + ks + ".types (k, l, t, b, f) VALUES (?, ?, ?, ?, ?)"));
        assertEquals(5, insert.variables().size());
        assertEquals(new CqlResult.Void(), get(client.execute(insert, 1, Long.MAX_VALUE, "héllo", new byte[] {0, -1}, true)));
        assertEquals(new CqlResult.Void(), get(client.query("INSERT INTO " + ks + ".types (k, t) VALUES (?, ?)", 2, "two")));

        CqlResult.Rows rows = (CqlResult.Rows) get(client.query("SELECT k, l, t, b, f FROM " + ks + ".types WHERE k = 1"));
        assertEquals(1, rows.rows().size());
        assertEquals(Long.MAX_VALUE, rows.value(0, "l"));
        assertEquals("héllo", rows.value(0, "t"));
        assertArrayEquals(new byte[] {0, -1}, (byte[]) rows.value(0, "b"));
        assertEquals(true, rows.value(0, "f"));

        CqlResult.Prepared select = get(client.prepare("SELECT l, t FROM " + ks + ".types WHERE k = ?"));
        CqlResult.Rows two = (CqlResult.Rows) get(client.execute(select, 2));
        assertEquals(null, two.value(0, "l"));
        assertEquals("two", two.value(0, "t"));
        assertEquals(List.of("l", "t"), select.resultColumns().stream().map(CqlResult.ColumnSpec::name).toList());

        assertEquals(new CqlResult.SetKeyspace(ks), get(client.query("USE " + ks)));
    }

    @Test
    void batchOfPreparedStatements() throws Exception {
        get(client.query("CREATE TABLE IF NOT EXISTS " + ks + ".batched (k int PRIMARY KEY, v text)"));
        CqlResult.Prepared insert = get(client.prepare("INSERT INTO " + ks + ".batched (k, v) VALUES (?, ?)"));
        assertEquals(new CqlResult.Void(), get(client.batch(List.of(insert, insert), List.of(List.of(1, "a"), List.of(2, "b")))));
        CqlResult.Rows rows = (CqlResult.Rows) get(client.query("SELECT k FROM " + ks + ".batched"));
        assertEquals(2, rows.rows().size());
    }

    @Test
    void serverErrorsCarryTheirCode() {
        CqlServerException syntax = serverError(client.query("SELEC nothing"));
        assertEquals(CqlServerException.SYNTAX_ERROR, syntax.code());
        CqlServerException invalid = serverError(client.query("SELECT * FROM " + ks + ".no_such_table"));
        assertEquals(CqlServerException.INVALID, invalid.code());
        assertTrue(invalid.serverMessage().contains("no_such_table"), invalid.serverMessage());
    }

    @Test
    void thirtyTwoThousandSevenHundredSixtyEightRequestsInFlightOnOneConnection() throws Exception {
        get(client.query("CREATE TABLE IF NOT EXISTS " + ks + ".many (k int PRIMARY KEY, v int)"));
        CqlResult.Prepared insert = get(client.prepare("INSERT INTO " + ks + ".many (k, v) VALUES (?, ?)"));
        List<CompletableFuture<CqlResult>> futures = new ArrayList<>(CqlClient.MAX_STREAMS);
        for (int i = 0; i < CqlClient.MAX_STREAMS; i++) {
            futures.add(client.execute(insert, i, -i));
        }
        for (CompletableFuture<CqlResult> f : futures) {
            assertEquals(new CqlResult.Void(), get(f));
        }
        CqlResult.Rows count = (CqlResult.Rows) get(client.query("SELECT count(*) FROM " + ks + ".many"));
        assertEquals((long) CqlClient.MAX_STREAMS, count.rows().get(0).get(0));
        assertEquals(0, client.inFlight());
    }

    @Test
    void aTimedOutRequestsLateAnswerFreesItsOrphanedStreamId() throws Exception {
        // A timeout far shorter than any round trip: the request fails first, the server's answer comes later.
        for (int attempt = 1; ; attempt++) {
            Throwable failure = null;
            try {
                client.query(Duration.ofNanos(1), "SELECT release_version FROM system.local").get(30, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                failure = e.getCause();
            }
            if (failure instanceof CqlTimeoutException) {
                break;
            }
            assertTrue(attempt < 10, "never timed out; last outcome: " + failure);
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (client.orphanedStreams() > 0 || client.inFlight() > 0) {
            assertTrue(System.nanoTime() < deadline, "the late answer never freed the orphaned id: "
                    + client.orphanedStreams() + " orphaned, " + client.inFlight() + " in flight");
            Thread.sleep(10);   // polling with a deadline
        }
        assertEquals(new CqlResult.SetKeyspace(ks), get(client.query("USE " + ks)), "the connection still works");
    }

    private static CqlServerException serverError(CompletableFuture<?> f) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS));
        return assertInstanceOf(CqlServerException.class, e.getCause());
    }

    private static <T> T get(CompletableFuture<T> f) throws Exception {
        return f.get(30, TimeUnit.SECONDS);
    }
}
