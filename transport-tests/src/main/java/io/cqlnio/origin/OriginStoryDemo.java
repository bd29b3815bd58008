package io.cqlnio.origin;

import io.cqlnio.cassandra.CassandraNode;
import io.cqlnio.cql.CqlClient;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * The README's first command: starts a real Cassandra node, runs the origin story's workload through the
 * deliberately broken {@code naive} control and then through cqlnio's {@code nio} (in protocol v4 as in the story,
 * then in v5 with segment framing), prints a table and the first server error the control provoked, stops the
 * node, and ends with one summary line (v4 figures, as in the README):
 * <pre>
 * origin-story: nio 1000/1000 ok, 0 protocol errors, 12 short writes; naive 33/1000 ok, 15 protocol errors
 * </pre>
 * Exits with an exception (a failed build) when {@code nio} did not get every request through, byte-exact, in
 * either protocol version.
 *
 * <p>{@code --compression lz4} adds a run of {@code nio} over LZ4-compressed v5 segments (STARTUP with
 * {@code COMPRESSION: lz4}), held to the same standard, and prints the bytes each v5 run sent.
 */
public final class OriginStoryDemo {

    /** Bounds the control's run: its corrupted connection leaves most requests unanswered. */
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(10);
    private static final String KEYSPACE = "origin_story";

    private OriginStoryDemo() {
    }

    /** Runs the demo; arguments: none, or {@code --compression lz4}. */
    public static void main(String[] args) throws InterruptedException {
        String compression = compression(args);
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
                OriginStory.createKeyspace(setup, KEYSPACE + "_nio_v5", REQUEST_TIMEOUT);
                OriginStory.createKeyspace(setup, KEYSPACE + "_naive_v5", REQUEST_TIMEOUT);
                if (compression != null) {
                    OriginStory.createKeyspace(setup, KEYSPACE + "_nio_v5_" + compression, REQUEST_TIMEOUT);
                }
            }
            System.out.printf("Running %d prepared INSERTs of %,d-byte text at once on one connection with"
                    + " the smallest send buffer...%n", OriginStory.REQUESTS, OriginStory.CONTENT.length());
            OriginStory.Outcome naive = OriginStory.run("naive", node.nativeAddress(), KEYSPACE + "_naive", 1,
                    REQUEST_TIMEOUT, false);
            OriginStory.Outcome nio = OriginStory.run("nio", node.nativeAddress(), KEYSPACE + "_nio", 1,
                    REQUEST_TIMEOUT, true);
            OriginStory.Outcome nioV5 = OriginStory.run("nio", 5, node.nativeAddress(), KEYSPACE + "_nio_v5", 1,
                    REQUEST_TIMEOUT, true);
            OriginStory.Outcome naiveV5 = OriginStory.run("naive", 5, node.nativeAddress(), KEYSPACE + "_naive_v5", 1,
                    REQUEST_TIMEOUT, false);
            OriginStory.Outcome nioV5Compressed = compression == null ? null
                    : OriginStory.run("nio", 5, compression, node.nativeAddress(), KEYSPACE + "_nio_v5_" + compression,
                            1, REQUEST_TIMEOUT, true, null);
            List<OriginStory.Outcome> table = new ArrayList<>(List.of(naive, nio, naiveV5, nioV5));
            List<OriginStory.Outcome> mustPass = new ArrayList<>(List.of(nio, nioV5));
            if (nioV5Compressed != null) {
                table.add(nioV5Compressed);
                mustPass.add(nioV5Compressed);
            }
            printTable(table);
            System.out.println("first server error with naive: "
                    + (naive.firstProtocolError() == null ? "(none)" : naive.firstProtocolError()));
            System.out.println("naive v5: first server error received: "
                    + (naiveV5.firstProtocolError() == null ? "(none, lost to the reset)" : naiveV5.firstProtocolError())
                    + "; connection ended (" + naiveV5.closeCause() + "); the server logged: "
                    + lastCrcError(node.logFile()));
            System.out.println("rows read back byte-exact with nio: " + nio.rowsVerified() + "/" + nio.requests()
                    + " (v4), " + nioV5.rowsVerified() + "/" + nioV5.requests() + " (v5)");
            if (nioV5Compressed != null) {
                System.out.printf(Locale.ROOT, "bytes sent over v5: %,d uncompressed, %,d with %s (%.2fx); rows read"
                        + " back byte-exact with %s: %d/%d%n", nioV5.stats().bytesWritten(),
                        nioV5Compressed.stats().bytesWritten(), compression,
                        nioV5Compressed.stats().bytesWritten() / (double) nioV5.stats().bytesWritten(),
                        nioV5Compressed.label(), nioV5Compressed.rowsVerified(), nioV5Compressed.requests());
            }
            node.stop();
            System.out.println(summary(nio, naive));
            for (OriginStory.Outcome o : mustPass) {
                if (o.succeeded() != o.requests() || o.protocolErrors() != 0 || o.serverErrors() != 0
                        || o.rowsVerified() != o.requests()) {
                    throw new IllegalStateException(o.label() + " did not get every request through intact: " + o);
                }
            }
        }
    }

    /** {@code --compression lz4} or nothing; anything else is refused with the usage. */
    static String compression(String[] args) {
        if (args.length == 0) {
            return null;
        }
        if (args.length == 2 && args[0].equals("--compression") && args[1].equals(CqlClient.Options.LZ4)) {
            return CqlClient.Options.LZ4;
        }
        throw new IllegalArgumentException("usage: OriginStoryDemo [--compression lz4], got " + List.of(args));
    }

    /** The demo's last line; its format is part of the README. */
    static String summary(OriginStory.Outcome nio, OriginStory.Outcome naive) {
        return String.format(Locale.ROOT,
                "origin-story: nio %d/%d ok, %d protocol errors, %d short writes; naive %d/%d ok, %d protocol errors",
                nio.succeeded(), nio.requests(), nio.protocolErrors(), nio.stats().shortWrites(),
                naive.succeeded(), naive.requests(), naive.protocolErrors());
    }

    /** The node's last report of a segment CRC mismatch, or "(none)". */
    private static String lastCrcError(Path log) {
        try (Stream<String> lines = Files.lines(log, StandardCharsets.ISO_8859_1)) {
            return lines.filter(l -> l.contains("CQLMessageHandler") && l.contains("CRC mismatch"))
                    .reduce((first, second) -> second)
                    .map(l -> l.substring(l.indexOf("CQLMessageHandler - ") + "CQLMessageHandler - ".length()))
                    .orElse("(none)");
        } catch (IOException | UncheckedIOException e) {
            return "(log unreadable: " + e + ")";
        }
    }

    private static void printTable(List<OriginStory.Outcome> outcomes) {
        String format = "%-10s %9s %10s %16s %13s %11s %10s %13s%n";
        System.out.println();
        System.out.printf(Locale.ROOT, format, "transport", "requests", "succeeded", "protocol errors",
                "short writes", "requests/s", "wall time", "bytes sent");
        for (OriginStory.Outcome o : outcomes) {
            System.out.printf(Locale.ROOT, format, o.label(), o.requests(), o.succeeded(), o.protocolErrors(),
                    o.stats().shortWrites(), String.format(Locale.ROOT, "%.0f", o.requestsPerSecond()),
                    String.format(Locale.ROOT, "%.2f s", o.wall().toNanos() / 1e9),
                    String.format(Locale.ROOT, "%,d", o.stats().bytesWritten()));
        }
        System.out.println();
    }
}
