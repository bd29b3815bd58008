package io.cqlnio.naive;

import io.cqlnio.spi.Connection;
import io.cqlnio.spi.ConnectionStats;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The control really is broken the way the story's driver was: a short write's remainder vanishes. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class NaiveTransportTest {

    @Test
    void isFoundByNameBesideNio() {
        assertTrue(Transports.names().contains("naive"), Transports.names().toString());
        assertTrue(Transports.names().contains("nio"), Transports.names().toString());
    }

    @Test
    void reportsAShortWrittenFrameAsSentAndDropsItsTail() throws Exception {
        int frameLength = 8 << 20;   // far more than a minimal send buffer plus the peer's receive buffer
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             Transport naive = Transports.create("naive", TransportConfig.builder().sendBufferSize(1).build())) {
            CompletableFuture<Connection> connecting = naive.connect(
                    new InetSocketAddress(InetAddress.getLoopbackAddress(), server.getLocalPort()), (c, f) -> { });
            try (Socket peer = server.accept()) {
                Connection connection = connecting.get(10, TimeUnit.SECONDS);
                // The peer reads nothing yet, so the kernel cannot take the whole frame: a short write.
                connection.write(ByteBuffer.allocate(frameLength)).get(10, TimeUnit.SECONDS);
                ConnectionStats stats = connection.stats();
                assertEquals(1, stats.framesWritten(), "the control reports the frame as written");
                assertEquals(1, stats.shortWrites(), stats.toString());
                assertEquals(0, connection.pendingBytes(), "and keeps nothing of it to write later");
                connection.close().get(10, TimeUnit.SECONDS);

                long received = 0;
                InputStream in = peer.getInputStream();
                byte[] buf = new byte[64 * 1024];
                for (int n; (n = in.read(buf)) >= 0; ) {
                    received += n;
                }
                assertEquals(stats.bytesWritten(), received, "the peer got exactly what the kernel took");
                assertTrue(received < frameLength, "the tail of the frame was dropped: " + received);
            }
        }
    }
}
