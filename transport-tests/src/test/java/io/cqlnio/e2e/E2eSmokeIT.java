package io.cqlnio.e2e;

import io.cqlnio.cassandra.CassandraExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The end-to-end comparison in a few seconds, on the shared node: W1 over v4 at 16 in flight, one short window,
 * through all three client JVMs (cql-nio, cql-netty, java-driver on its own class path). Asserts only that every
 * request got its result, at the protocol version asked for; the figures are {@code E2eMain}'s business.
 */
@ExtendWith(CassandraExtension.class)
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class E2eSmokeIT {

    @Test
    void everyClientGetsAResultForEveryRequest(CassandraExtension.Target cassandra) throws Exception {
        Schema.create(cassandra.node().nativeAddress());
        E2eRun.Settings settings = new E2eRun.Settings(List.of("W1/v4"), List.of(16), E2eRun.CLIENTS, 1,
                List.of("unpinned"), 0, 0, 300, 700, null);
        List<Map<String, String>> runs = new E2eRun(settings, E2eRun.ClassPaths.fromSystemProperties(),
                cassandra.node().nativeAddress(), cassandra.node().pid(), null, null,
                Path.of("target", "e2e-smoke")).runAll();

        assertEquals(E2eRun.CLIENTS, runs.stream().map(r -> r.get("client")).toList());
        for (Map<String, String> r : runs) {
            assertEquals("4", r.get("protocol"), r.toString());
            assertEquals("0", r.get("failed"), r.toString());
            assertEquals("true", r.get("drained"), r.toString());
            assertEquals(r.get("issued"), r.get("succeeded"), "every issued request got a result: " + r);
            assertTrue(Long.parseLong(r.get("completed")) > 0, r.toString());
        }
    }
}
