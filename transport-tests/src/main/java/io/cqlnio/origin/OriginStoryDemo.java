package io.cqlnio.origin;

import io.cqlnio.cassandra.CassandraNode;
import io.cqlnio.cql.CqlClient;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;

import java.time.Duration;
import java.util.List;
import java.util.Locale;

/**
 * The README's first command: starts a real Cassandra node, runs the origin story's workload through the
 * deliberately broken {@code naive} control and then through cqlnio's {@code nio}, prints a table and the first
 * server error the control provoked, stops the node, and ends with one summary line:
 * <pre>
 * origin-story: nio 1000/1000 ok, 0 protocol errors, 12 short writes; naive 33/1000 ok, 15 protocol errors
 * </pre>
 * Exits with an exception (a failed build) when {@code nio} did not get every request through, byte-exact.
 */
public final class OriginStoryDemo {

    /** Bounds the control's run: its corrupted connection leaves most requests unanswered. */
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(10);
    private static final String KEYSPACE = "origin_story";

    private OriginStoryDemo() {
    }

    /** Runs the demo; no arguments. */
    public static void main(String[] args) throws InterruptedException {
        try (CassandraNode node = CassandraNode.fromSystemProperties("cassandra-demo")) {
            System.out.println("Starting a Cassandra node (child JVM, log: " + node.logFile() + ") ...");
            long t0 = System.nanoTime();
            node.start();
            System.out.printf(Locale.ROOT, "Cassandra ready on %s in %.1f s%n", node.nativeAddress(),
                    (System.nanoTime() - t0) / 1e9);
            try (Transport transport = Transports.create("nio", TransportConfig.defaults());
                 CqlClient setup = OriginStory.await(CqlClient.connect(transport, node.nativeAddress(),
                         CqlClient.Options.defaults()), REQUEST_TIMEOUT)) {
                // One keyspace per transport: the control's garbage must not mix with the rows nio verifies.
                OriginStory.createKeyspace(setup, KEYSPACE + "_naive", REQUEST_TIMEOUT);
                OriginStory.createKeyspace(setup, KEYSPACE + "_nio", REQUEST_TIMEOUT);
            }
            System.out.printf("Running %d prepared INSERTs of %,d-byte text at once on one connection with the"
                    + " smallest socket buffers...%n", OriginStory.REQUESTS, OriginStory.CONTENT.length());
            OriginStory.Outcome naive = OriginStory.run("naive", node.nativeAddress(), KEYSPACE + "_naive", 1,
                    REQUEST_TIMEOUT, false);
            OriginStory.Outcome nio = OriginStory.run("nio", node.nativeAddress(), KEYSPACE + "_nio", 1,
                    REQUEST_TIMEOUT, true);
            printTable(List.of(naive, nio));
            System.out.println("first server error with naive: "
                    + (naive.firstProtocolError() == null ? "(none)" : naive.firstProtocolError()));
            System.out.println("rows read back byte-exact with nio: " + nio.rowsVerified() + "/" + nio.requests());
            node.stop();
            System.out.println(summary(nio, naive));
            if (nio.succeeded() != nio.requests() || nio.protocolErrors() != 0 || nio.serverErrors() != 0
                    || nio.rowsVerified() != nio.requests()) {
                throw new IllegalStateException("nio did not get every request through intact: " + nio);
            }
        }
    }

    /** The demo's last line; its format is part of the README. */
    static String summary(OriginStory.Outcome nio, OriginStory.Outcome naive) {
        return String.format(Locale.ROOT,
                "origin-story: nio %d/%d ok, %d protocol errors, %d short writes; naive %d/%d ok, %d protocol errors",
                nio.succeeded(), nio.requests(), nio.protocolErrors(), nio.stats().shortWrites(),
                naive.succeeded(), naive.requests(), naive.protocolErrors());
    }

    private static void printTable(List<OriginStory.Outcome> outcomes) {
        String format = "%-9s %9s %10s %16s %13s %11s %10s%n";
        System.out.println();
        System.out.printf(Locale.ROOT, format, "transport", "requests", "succeeded", "protocol errors",
                "short writes", "requests/s", "wall time");
        for (OriginStory.Outcome o : outcomes) {
            System.out.printf(Locale.ROOT, format, o.transport(), o.requests(), o.succeeded(), o.protocolErrors(),
                    o.stats().shortWrites(), String.format(Locale.ROOT, "%.0f", o.requestsPerSecond()),
                    String.format(Locale.ROOT, "%.2f s", o.wall().toNanos() / 1e9));
        }
        System.out.println();
    }
}
