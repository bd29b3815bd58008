package io.cqlnio.cassandra;

import io.cqlnio.cql.CqlClient;
import io.cqlnio.cql.CqlResult;
import io.cqlnio.spi.ConnectionClosedException;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Issue 16's promise, "every request ends with exactly one outcome, nothing acknowledged and then lost", against
 * a real Cassandra 5.0 node under load, the project's {@link CqlClient} over the {@code nio} transport:
 * {@value FaultLoad#PRODUCERS} producer threads, {@value FaultLoad#IN_FLIGHT} requests in flight in total,
 * prepared INSERTs of keys used once ({@link FaultLoad}).
 *
 * <ol>
 *   <li>kill -9 of the node mid-load, then a restart on the same data;</li>
 *   <li>SIGSTOP for longer than the request timeout, then SIGCONT;</li>
 *   <li>{@code nodetool disablebinary} under load over several connections, then {@code enablebinary}.</li>
 * </ol>
 *
 * <p>The node is this class's own (not the shared {@link CassandraExtension} one, which other classes expect to
 * answer): {@code commitlog_sync: batch}, so a write is acknowledged only once it is on disk and a RESULT is a
 * promise the restart must keep (unlike {@link CassandraRestartIT}'s periodic mode), and JMX on loopback for
 * nodetool. Each scenario has its own table and leaves the node running.
 *
 * <p>Each scenario prints one line of counts and appends it to {@code target/real-node-faults.txt}.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class RealNodeFaultsIT {

    private static final String KEYSPACE = "it_real_node_faults";
    private static final Path REPORT = Paths.get("target", "real-node-faults.txt");
    /** A connect to a port nobody listens on must fail at least this fast (it is ~1 ms on loopback). */
    private static final Duration CONNECT_REFUSED_BOUND = Duration.ofSeconds(1);
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final int TOKEN_SLICES = 16;

    private static CassandraNode node;

    @BeforeAll
    static void startNode() throws Exception {
        node = CassandraNode.ownNode("cassandra-faults").batchCommitlog().localJmx();
        node.start();
        Files.createDirectories(REPORT.getParent());
        Files.writeString(REPORT, "");
        try (Transport transport = Transports.create("nio", TransportConfig.defaults());
             CqlClient client = connect(transport, CqlClient.Options.defaults())) {
            client.query("CREATE KEYSPACE IF NOT EXISTS " + KEYSPACE
                    + " WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}").get(30, TimeUnit.SECONDS);
        }
    }

    @AfterEach
    void leaveTheNodeServing() {
        // A failed scenario must not take the next ones down with it.
        if (node.isSuspended()) {
            node.resume();
        }
        if (!node.isRunning()) {
            node.restart();
        }
    }

    @AfterAll
    static void stopNode() {
        if (node != null) {
            node.stop();
        }
    }

    /**
     * kill -9 mid-load: every request ends once, and with no timeout (the kernel resets the connections at once);
     * connecting while the node is down fails fast naming the refusal; after a restart on the same data every
     * acknowledged INSERT is there.
     */
    @Test
    @Order(1)
    void killNineMidLoadLosesNoAcknowledgedWrite() throws Exception {
        String table = createTable("kill9");
        try (Transport transport = Transports.create("nio", TransportConfig.defaults())) {
            CqlClient.Options options = CqlClient.Options.defaults().withRequestTimeout(Duration.ofSeconds(5));
            CqlClient client = connect(transport, options);
            FaultLoad load = new FaultLoad(List.of(client), prepareInsert(client, table), null, 0);
            load.start();
            load.await(FaultLoad.Kind.RESULT, 3000, WAIT);

            node.kill9();
            Throwable closedWith = client.closed().get(WAIT.toSeconds(), TimeUnit.SECONDS);
            FaultLoad.Summary summary = load.stopAndAwait(WAIT);
            summary.assertEveryRequestEndedOnce("kill9");
            assertEquals(1, client.closedNotifications(), "onClosed calls");
            assertNotNull(closedWith, "kill -9 is not a graceful close: onClosed needs a cause");
            assertEquals(0, summary.count(FaultLoad.Kind.TIMEOUT),
                    "a killed peer's connection resets at once, so nothing may wait for its timer: " + summary);
            assertEquals(summary.count(FaultLoad.Kind.TRANSPORT),
                    summary.transportFailures(ConnectionClosedException.class),
                    "every transport failure is the closed connection: " + summary.transportCausesText());
            client.close();

            Refusal refused = connectWhileDown(transport, options);

            long restartStarted = System.nanoTime();
            node.restart();
            long restartMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - restartStarted);
            try (CqlClient after = connect(transport, options)) {
                ReadBack read = ReadBack.check(after, table, summary);
                String line = "kill9: " + summary + "; " + read.describe() + " after restart (" + restartMs
                        + " ms to restart); connect while down failed " + refused + "; onClosed once with "
                        + describe(closedWith);
                report(line);
                read.assertNothingAcknowledgedLost("kill9");
                assertANewConnectionAnswers(after, table);
            }
        }
    }

    /**
     * SIGSTOP for longer than the request timeout: requests time out through the client's timer and orphan their
     * stream ids; after SIGCONT the node answers them late and the client absorbs those answers (no SELECT gets
     * another request's answer, no response is unmatched, the orphans drain to zero). The load connection has no
     * heartbeat (readIdleTimeout off) and must survive; a second, idle connection with a 500 ms read-idle
     * heartbeat must be closed by it while the node is stopped.
     */
    @Test
    @Order(2)
    void sigstopLongerThanTheRequestTimeoutThenSigcont() throws Exception {
        String table = createTable("sigstop");
        Duration requestTimeout = Duration.ofSeconds(1);
        CqlClient.Options options = CqlClient.Options.defaults().withRequestTimeout(requestTimeout);
        try (Transport transport = Transports.create("nio", TransportConfig.defaults());
             Transport heartbeating = Transports.create("nio", TransportConfig.builder()
                     .readIdleTimeout(Duration.ofMillis(500)).build());
             CqlClient client = connect(transport, options);
             CqlClient watched = connect(heartbeating, options)) {
            CqlResult.Prepared select = client.prepare("SELECT k FROM " + table + " WHERE k = ?")
                    .get(30, TimeUnit.SECONDS);
            FaultLoad load = new FaultLoad(List.of(client), prepareInsert(client, table), select, 4);
            load.start();
            load.await(FaultLoad.Kind.RESULT, 2000, WAIT);

            node.suspend();
            long suspendedAt = System.nanoTime();
            // Stopped until two full windows of requests timed out (so for longer than the request timeout) and
            // the heartbeat closed the idle connection: both decided by the client's timers.
            load.await(FaultLoad.Kind.TIMEOUT, 2L * FaultLoad.IN_FLIGHT, WAIT);
            Throwable heartbeatCause = watched.closed().get(WAIT.toSeconds(), TimeUnit.SECONDS);
            int orphansAtResume = client.orphanedStreams();
            long resultsAtResume = load.count(FaultLoad.Kind.RESULT);
            node.resume();
            long suspendedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - suspendedAt);

            // The late answers come back: every orphaned stream id is freed by its own response.
            awaitCondition(() -> client.orphanedStreams() == 0, WAIT,
                    () -> client.orphanedStreams() + " streams still orphaned");
            long lateAbsorbed = orphansAtResume;   // each orphan at resume was freed by its late response
            load.await(FaultLoad.Kind.RESULT, resultsAtResume + 1000, WAIT);
            FaultLoad.Summary summary = load.stopAndAwait(WAIT);
            summary.assertEveryRequestEndedOnce("sigstop");

            try (CqlClient fresh = connect(transport, options)) {
                ReadBack read = ReadBack.check(fresh, table, summary);
                String line = "sigstop: stopped " + suspendedMs + " ms (request timeout " + requestTimeout.toMillis()
                        + " ms): " + summary + "; " + orphansAtResume + " orphaned stream ids at SIGCONT, all freed by"
                        + " their late responses, " + client.unmatchedResponses() + " unmatched responses, "
                        + summary.mismatches + " answers taken for another request; load connection "
                        + (client.connection().isOpen() ? "open" : "closed") + " (no heartbeat), idle connection"
                        + " closed by its heartbeat (" + watched.heartbeatsSent() + " sent, "
                        + watched.heartbeatsAnswered() + " answered): " + describe(heartbeatCause)
                        + "; " + read.describe() + "; " + (load.count(FaultLoad.Kind.RESULT) - resultsAtResume)
                        + " RESULTs after SIGCONT";
                report(line);
                assertTrue(suspendedMs > requestTimeout.toMillis(), "stopped only " + suspendedMs + " ms");
                assertTrue(summary.count(FaultLoad.Kind.TIMEOUT) >= 2L * FaultLoad.IN_FLIGHT, summary::toString);
                assertEquals(0, summary.mismatches, "a late response was taken for another request: "
                        + summary.firstMismatch);
                assertEquals(0, client.unmatchedResponses(), "responses matching no request");
                assertTrue(lateAbsorbed > 0, "no request was orphaned at SIGCONT: the scenario tested nothing");
                assertEquals(0, client.closedNotifications(), "the load connection has no heartbeat: it must survive");
                assertTrue(client.connection().isOpen());
                assertEquals(0, summary.count(FaultLoad.Kind.TRANSPORT), summary::toString);
                assertEquals(1, watched.closedNotifications(), "onClosed calls of the heartbeating connection");
                assertInstanceOf(ConnectionClosedException.class, heartbeatCause);
                assertTrue(heartbeatCause.getMessage().startsWith("heartbeat failed"), heartbeatCause.getMessage());
                read.assertNothingAcknowledgedLost("sigstop");
                assertANewConnectionAnswers(fresh, table);
            }
        }
    }

    /**
     * {@code nodetool disablebinary} under load over six connections: each sees onClosed exactly once with a
     * cause, every request ends once, connecting while the native transport is off is refused fast, and after
     * {@code enablebinary} new connections work and every acknowledged INSERT is there.
     */
    @Test
    @Order(3)
    void disableBinaryUnderLoadThenEnable() throws Exception {
        String table = createTable("disablebinary");
        int connections = 6;
        CqlClient.Options options = CqlClient.Options.defaults().withRequestTimeout(Duration.ofSeconds(10));
        try (Transport transport = Transports.create("nio", TransportConfig.defaults())) {
            List<CqlClient> clients = new ArrayList<>();
            for (int i = 0; i < connections; i++) {
                clients.add(connect(transport, options));
            }
            FaultLoad load = new FaultLoad(clients, prepareInsert(clients.get(0), table), null, 0);
            load.start();
            load.await(FaultLoad.Kind.RESULT, 2000, WAIT);

            long disableStarted = System.nanoTime();
            node.nodetool(WAIT, "disablebinary");
            long disableMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - disableStarted);
            List<Throwable> causes = new ArrayList<>();
            for (CqlClient c : clients) {
                causes.add(c.closed().get(WAIT.toSeconds(), TimeUnit.SECONDS));
            }
            FaultLoad.Summary summary = load.stopAndAwait(WAIT);
            summary.assertEveryRequestEndedOnce("disablebinary");
            Map<String, Integer> causeKinds = new HashMap<>();
            for (int i = 0; i < connections; i++) {
                CqlClient c = clients.get(i);
                assertEquals(1, c.closedNotifications(), c + ": onClosed calls");
                assertNotNull(causes.get(i), c + " was closed by the node, not locally: onClosed needs a cause");
                causeKinds.merge(describe(causes.get(i)), 1, Integer::sum);
                c.close();
            }
            Refusal refused = connectWhileDown(transport, options);

            node.nodetool(WAIT, "enablebinary");
            try (CqlClient after = connect(transport, options)) {
                ReadBack read = ReadBack.check(after, table, summary);
                String line = "disablebinary: " + summary + "; " + connections + " connections, onClosed once each"
                        + " with " + causeKinds + "; " + read.describe() + " after enablebinary; nodetool"
                        + " disablebinary took " + disableMs + " ms; connect while disabled failed " + refused;
                report(line);
                read.assertNothingAcknowledgedLost("disablebinary");
                assertEquals(0, summary.count(FaultLoad.Kind.TIMEOUT), summary::toString);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------

    private static CqlClient connect(Transport transport, CqlClient.Options options) throws Exception {
        return CqlClient.connect(transport, node.nativeAddress(), options).get(30, TimeUnit.SECONDS);
    }

    private static void assertANewConnectionAnswers(CqlClient client, String table) throws Exception {
        assertEquals(0, client.query("SELECT k FROM " + table + " WHERE k = -1").thenApply(r ->
                ((CqlResult.Rows) r).rows().size()).get(30, TimeUnit.SECONDS), "a new connection answers");
    }

    private static String createTable(String name) throws Exception {
        String table = KEYSPACE + "." + name;
        try (Transport transport = Transports.create("nio", TransportConfig.defaults());
             CqlClient client = connect(transport, CqlClient.Options.defaults())) {
            client.query(Duration.ofSeconds(30), "DROP TABLE IF EXISTS " + table).get(60, TimeUnit.SECONDS);
            client.query(Duration.ofSeconds(30), "CREATE TABLE " + table + " (k bigint PRIMARY KEY, v bigint)")
                    .get(60, TimeUnit.SECONDS);
        }
        return table;
    }

    private static CqlResult.Prepared prepareInsert(CqlClient client, String table) throws Exception {
        return client.prepare("INSERT INTO " + table + " (k, v) VALUES (?, ?)").get(30, TimeUnit.SECONDS);
    }

    /** How fast, and with what, connecting failed while nothing listened. */
    private record Refusal(int attempts, long maxMs, String cause) {
        @Override
        public String toString() {
            return attempts + " of " + attempts + " times within " + maxMs + " ms: " + cause;
        }
    }

    /** Five connects while nothing listens: each must fail within {@link #CONNECT_REFUSED_BOUND}, naming why and where. */
    private static Refusal connectWhileDown(Transport transport, CqlClient.Options options) throws Exception {
        InetSocketAddress address = node.nativeAddress();
        long maxMs = 0;
        String cause = null;
        int attempts = 5;
        for (int i = 0; i < attempts; i++) {
            long started = System.nanoTime();
            CompletableFuture<CqlClient> attempt = CqlClient.connect(transport, address, options);
            try {
                CqlClient unexpected = attempt.get(10, TimeUnit.SECONDS);
                unexpected.close();
                fail("connected to " + address + " while the node should refuse");
            } catch (ExecutionException e) {
                long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
                maxMs = Math.max(maxMs, ms);
                Throwable root = e.getCause();
                cause = root.getClass().getSimpleName() + ": " + root.getMessage();
                assertTrue(root.getMessage().contains("Connection refused"), cause);
                assertTrue(root.getMessage().contains(":" + address.getPort()), "names the address: " + cause);
                assertTrue(ms <= CONNECT_REFUSED_BOUND.toMillis(), "refused after " + ms + " ms: " + cause);
            }
        }
        return new Refusal(attempts, maxMs, cause);
    }

    private static String describe(Throwable cause) {
        String text = cause.getClass().getSimpleName() + ": " + FaultLoad.generic(cause.getMessage());
        return cause.getCause() == null ? text : text + " (cause " + describe(cause.getCause()) + ")";
    }

    /** A bounded wait for a client counter; fails with {@code state} when the deadline passes. */
    private static void awaitCondition(java.util.function.BooleanSupplier condition, Duration timeout,
                                       java.util.function.Supplier<String> state) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("not within " + timeout + ": " + state.get());
            }
            Thread.sleep(10);   // a poll interval: the condition, not the sleep, decides
        }
    }

    private static void report(String line) throws IOException {
        System.out.println(line);
        Files.writeString(REPORT, line + System.lineSeparator(), StandardCharsets.UTF_8, StandardOpenOption.APPEND);
    }

    /** Every row of a table read back over {@value #TOKEN_SLICES} token ranges, compared with the load's outcomes. */
    private static final class ReadBack {
        final long rows;
        final long acknowledged;
        final long acknowledgedMissing;
        final List<Long> firstMissing = new ArrayList<>();
        final long wrongValues;
        final long phantoms;
        final Map<FaultLoad.Kind, long[]> unacknowledged = new HashMap<>();   // kind -> {present, absent}

        private ReadBack(Map<Long, Long> read, FaultLoad.Summary summary) {
            rows = read.size();
            List<Long> acked = summary.inserts(FaultLoad.Kind.RESULT);
            acknowledged = acked.size();
            long missing = 0;
            for (long k : acked) {
                if (!read.containsKey(k)) {
                    missing++;
                    if (firstMissing.size() < 10) {
                        firstMissing.add(k);
                    }
                }
            }
            acknowledgedMissing = missing;
            long wrong = 0;
            for (Map.Entry<Long, Long> e : read.entrySet()) {
                if (e.getValue() != FaultLoad.valueOf(e.getKey())) {
                    wrong++;
                }
            }
            wrongValues = wrong;
            long inserted = 0;
            for (FaultLoad.Kind kind : FaultLoad.Kind.values()) {
                long present = 0;
                List<Long> keys = summary.inserts(kind);
                inserted += keys.size();
                for (long k : keys) {
                    if (read.containsKey(k)) {
                        present++;
                    }
                }
                if (kind != FaultLoad.Kind.RESULT) {
                    unacknowledged.put(kind, new long[] {present, keys.size() - present});
                }
            }
            long knownPresent = acknowledged - acknowledgedMissing;
            for (long[] pa : unacknowledged.values()) {
                knownPresent += pa[0];
            }
            phantoms = rows - knownPresent;   // rows of keys never sent as an INSERT
        }

        static ReadBack check(CqlClient client, String table, FaultLoad.Summary summary) throws Exception {
            String cql = "SELECT k, v FROM " + table + " WHERE token(k) > ? AND token(k) <= ?";
            List<CompletableFuture<CqlResult>> slices = new ArrayList<>();
            long width = Long.divideUnsigned(-1L, TOKEN_SLICES);   // 2^64 / slices, as unsigned
            long lower = Long.MIN_VALUE;
            for (int i = 0; i < TOKEN_SLICES; i++) {
                long upper = i == TOKEN_SLICES - 1 ? Long.MAX_VALUE : lower + width;
                slices.add(client.query(Duration.ofSeconds(30), cql, lower, upper));
                lower = upper;
            }
            Map<Long, Long> read = new HashMap<>();
            for (CompletableFuture<CqlResult> slice : slices) {
                CqlResult.Rows rows = (CqlResult.Rows) slice.get(60, TimeUnit.SECONDS);
                assertEquals(null, rows.pagingState(), "an unpaged read came back paged");
                for (List<Object> row : rows.rows()) {
                    read.put((Long) row.get(0), (Long) row.get(1));
                }
            }
            return new ReadBack(read, summary);
        }

        void assertNothingAcknowledgedLost(String scenario) {
            assertEquals(0, acknowledgedMissing, scenario + ": acknowledged INSERTs missing after the fault, first "
                    + firstMissing);
            assertEquals(0, wrongValues, scenario + ": rows with another value than written");
            assertEquals(0, phantoms, scenario + ": rows of keys never inserted");
        }

        String describe() {
            StringBuilder b = new StringBuilder();
            b.append(acknowledged - acknowledgedMissing).append('/').append(acknowledged)
                    .append(" acknowledged rows read back (").append(rows).append(" rows in the table");
            for (FaultLoad.Kind kind : FaultLoad.Kind.values()) {
                long[] pa = unacknowledged.get(kind);
                if (pa != null && pa[0] + pa[1] > 0) {
                    b.append("; INSERTs ended ").append(kind).append(": ").append(pa[0]).append(" present, ")
                            .append(pa[1]).append(" absent");
                }
            }
            return b.append(')').toString();
        }
    }
}
