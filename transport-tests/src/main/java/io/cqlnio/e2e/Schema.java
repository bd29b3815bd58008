package io.cqlnio.e2e;

import io.cqlnio.cql.CqlClient;
import io.cqlnio.cql.CqlResult;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Creates every workload's keyspace and fresh table, and loads W2's rows, before any client JVM starts: a driver
 * session would otherwise refresh its schema metadata inside a measured window.
 */
final class Schema {

    private static final long TIMEOUT_S = 60;

    private Schema() {
    }

    static void create(InetSocketAddress node) throws Exception {
        try (Transport transport = Transports.create("nio", TransportConfig.defaults());
             CqlClient client = CqlClient.connect(transport, node, CqlClient.Options.defaults())
                     .get(TIMEOUT_S, TimeUnit.SECONDS)) {
            for (Workload w : Workload.values()) {
                client.query("CREATE KEYSPACE IF NOT EXISTS " + w.keyspace
                        + " WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
                        .get(TIMEOUT_S, TimeUnit.SECONDS);
                String table = w.tableDefinition.substring(0, w.tableDefinition.indexOf(' '));
                client.query("DROP TABLE IF EXISTS " + w.keyspace + "." + table).get(TIMEOUT_S, TimeUnit.SECONDS);
                client.query("CREATE TABLE " + w.keyspace + "." + w.tableDefinition).get(TIMEOUT_S, TimeUnit.SECONDS);
            }
            CqlResult.Prepared insert = client.prepare(Workload.W1.statement().replace(Workload.W1.keyspace,
                    Workload.W2.keyspace)).get(TIMEOUT_S, TimeUnit.SECONDS);
            List<CompletableFuture<CqlResult>> loads = new ArrayList<>();
            for (int k = 0; k < Workload.W2.keys; k++) {
                loads.add(client.execute(insert, k, Workload.KIB_TEXT));
            }
            CompletableFuture.allOf(loads.toArray(CompletableFuture[]::new)).get(TIMEOUT_S, TimeUnit.SECONDS);
        }
    }
}
