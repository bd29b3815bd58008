package io.cqlnio.cassandra;

import io.cqlnio.cql.CqlClient;
import io.cqlnio.cql.CqlResult;
import io.cqlnio.spi.ConnectionClosedException;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * kill -9 of the node: the client's connection ends with a cause, and a restart on the same data directory and
 * ports serves new connections with the schema created before the kill.
 *
 * <p>Rows are deliberately not expected to survive: with {@code commitlog_sync: periodic} (10 s) Cassandra replays
 * the commit log only up to its last sync marker, so rows acknowledged within the last period are lost on kill -9
 * (observed here: 10 rows written half a second before the kill were gone). Schema changes are flushed to disk
 * when made, so they do survive.
 */
@ExtendWith(CassandraExtension.class)
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class CassandraRestartIT {

    @Test
    void killNineThenRestartOnTheSameData(CassandraExtension.Target cassandra) throws Exception {
        CassandraNode node = cassandra.node();
        String table = cassandra.keyspace() + ".survivors";
        try (Transport transport = Transports.create("nio", TransportConfig.defaults())) {
            CqlClient before = CqlClient.connect(transport, node.nativeAddress(), CqlClient.Options.defaults())
                    .get(30, TimeUnit.SECONDS);
            before.query(cassandra.createKeyspaceCql()).get(30, TimeUnit.SECONDS);
            before.query("CREATE TABLE IF NOT EXISTS " + table + " (k int PRIMARY KEY, v text)").get(30, TimeUnit.SECONDS);
            for (int i = 0; i < 10; i++) {
                before.query("INSERT INTO " + table + " (k, v) VALUES (?, ?)", i, "v" + i).get(30, TimeUnit.SECONDS);
            }

            node.kill9();
            assertFalse(node.isRunning());
            // The peer vanished: the connection must end, and requests on it must fail rather than hang.
            CompletableFuture<CqlResult> afterKill = before.query("SELECT * FROM " + table);
            ExecutionException failed = assertThrows(ExecutionException.class, () -> afterKill.get(30, TimeUnit.SECONDS));
            assertInstanceOf(ConnectionClosedException.class, failed.getCause(), failed.getCause().toString());
            before.close();

            node.restart();
            assertTrue(node.isRunning());
            try (CqlClient after = CqlClient.connect(transport, node.nativeAddress(), CqlClient.Options.defaults())
                    .get(30, TimeUnit.SECONDS)) {
                CqlResult.Rows schema = (CqlResult.Rows) after.query("SELECT table_name FROM system_schema.tables"
                        + " WHERE keyspace_name = ?", cassandra.keyspace()).get(30, TimeUnit.SECONDS);
                assertEquals(List.of(List.of("survivors")), schema.rows(), "schema created before kill -9");
                after.query("INSERT INTO " + table + " (k, v) VALUES (?, ?)", 42, "after").get(30, TimeUnit.SECONDS);
                CqlResult.Rows rows = (CqlResult.Rows) after.query("SELECT v FROM " + table + " WHERE k = 42")
                        .get(30, TimeUnit.SECONDS);
                assertEquals("after", rows.value(0, "v"));
            }
        }
    }
}
