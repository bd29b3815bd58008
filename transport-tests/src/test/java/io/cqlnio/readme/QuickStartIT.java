package io.cqlnio.readme;

import io.cqlnio.cassandra.CassandraExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The README's quick start, {@link QuickStart#main} as a reader runs it, against the real Cassandra 5.0 node. */
@ExtendWith(CassandraExtension.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class QuickStartIT {

    @Test
    void theQuickStartPrintsTheNodesSupportedOptionsAndLetsTheJvmExit(CassandraExtension.Target cassandra)
            throws Exception {
        InetSocketAddress node = cassandra.node().nativeAddress();
        String host = node.getAddress().getHostAddress();

        String printed = Printed.by(() -> QuickStart.main(new String[] {host, String.valueOf(node.getPort())}));

        assertTrue(printed.matches("(?s)SUPPORTED from .*:" + node.getPort() + ": \\{.*\\}\\R"), printed);
        assertTrue(printed.contains("PROTOCOL_VERSIONS=[") && printed.contains("4/v4"), printed);
        assertTrue(printed.contains("CQL_VERSION=[3."), printed);
    }
}
