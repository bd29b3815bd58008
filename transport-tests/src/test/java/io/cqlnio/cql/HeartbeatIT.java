package io.cqlnio.cql;

import io.cqlnio.cassandra.CassandraExtension;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Idle detection against the real node: with readIdleTimeout set, a quiet connection gets onIdle(READ),
 * the client sends OPTIONS as the Java driver does, and Cassandra answers SUPPORTED each time.
 */
@ExtendWith(CassandraExtension.class)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class HeartbeatIT {

    @Test
    void aQuietConnectionHeartbeatsAndTheServerAnswers(CassandraExtension.Target cassandra) throws Exception {
        try (Transport transport = Transports.create("nio", TransportConfig.builder()
                .readIdleTimeout(Duration.ofMillis(300)).build());
             CqlClient client = CqlClient.connect(transport, cassandra.node().nativeAddress(),
                     CqlClient.Options.defaults()).get(30, TimeUnit.SECONDS)) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (client.heartbeatsAnswered() < 3) {
                assertTrue(System.nanoTime() < deadline, "heartbeats answered: " + client.heartbeatsAnswered()
                        + " of " + client.heartbeatsSent() + " sent");
                Thread.sleep(20);
            }
            assertTrue(client.connection().isOpen());
            assertEquals(0, client.protocolErrors());
        }
    }
}
