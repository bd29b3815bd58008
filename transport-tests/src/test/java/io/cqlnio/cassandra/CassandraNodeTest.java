package io.cqlnio.cassandra;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The harness fails fast, with the node's own words, when the node cannot start. */
class CassandraNodeTest {

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void aNodeThatExitsFailsTheStartAtOnceWithItsOutput(@TempDir Path dir) {
        // A class path without Cassandra: the child JVM exits at once with ClassNotFoundException.
        CassandraNode node = new CassandraNode(dir, dir.toString(), CassandraNode.javaExecutable());
        long started = System.nanoTime();
        IllegalStateException e = assertThrows(IllegalStateException.class, node::start);
        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - started);
        assertTrue(e.getMessage().contains("exited with status"), e.getMessage());
        assertTrue(e.getMessage().contains("CassandraDaemon"), "the log tail names the problem: " + e.getMessage());
        assertTrue(seconds < CassandraNode.START_TIMEOUT.toSeconds() / 2, "not fast: " + seconds + " s");
        assertFalse(node.isRunning());
        node.stop();
    }

    @Test
    void clientTlsNeedsAnExistingKeystore(@TempDir Path dir) {
        CassandraNode node = new CassandraNode(dir, dir.toString(), CassandraNode.javaExecutable());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> node.optionalClientTls(dir.resolve("missing.p12"), "secret"));
        assertTrue(e.getMessage().contains("missing.p12"), e.getMessage());
        assertFalse(node.clientTls());
    }

    @Test
    void refusesToRunWithoutTheClassPathFile() {
        String key = "cqlnio.cassandra.classpath";
        String before = System.getProperty(key);
        System.setProperty(key, "/nonexistent/cassandra.classpath");
        try {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> CassandraNode.fromSystemProperties("x"));
            assertTrue(e.getMessage().contains("/nonexistent/cassandra.classpath"), e.getMessage());
        } finally {
            if (before == null) {
                System.clearProperty(key);
            } else {
                System.setProperty(key, before);
            }
        }
    }
}
