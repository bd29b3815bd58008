package io.cqlnio.nio;

import io.cqlnio.spi.Connection;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.TransportException;
import io.cqlnio.spi.Transports;
import io.cqlnio.testkit.FullAcceptQueue;
import io.cqlnio.testkit.LoopbackPeer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Connect outcomes: success, refused, timed out, unresolved, transport closed; each names the address. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ConnectTest {

    private static TransportException failure(CompletableFuture<Connection> future) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> future.get(10, TimeUnit.SECONDS));
        return assertInstanceOf(TransportException.class, e.getCause());
    }

    @Test
    void connectsAndAppliesSocketOptions() throws Exception {
        try (LoopbackPeer peer = new LoopbackPeer(0, false, LoopbackPeer.frames(null));
             Transport t = Transports.create("nio", TransportConfig.builder().sendBufferSize(8192).build())) {
            Connection c = t.connect(peer.address(), (conn, f) -> { }).get(5, TimeUnit.SECONDS);
            assertTrue(c.isOpen());
            assertTrue(c.toString().contains(String.valueOf(peer.address().getPort())), c.toString());
        }
    }

    @Test
    void refused() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort(); // closed again: nothing listens there now
        }
        try (Transport t = Transports.create("nio", TransportConfig.defaults())) {
            InetSocketAddress remote = new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
            TransportException e = failure(t.connect(remote, (conn, f) -> { }));
            assertTrue(e.getMessage().contains(String.valueOf(port)) && e.getMessage().contains("refused"), e.getMessage());
        }
    }

    @Test
    void unresolved() {
        try (Transport t = Transports.create("nio", TransportConfig.defaults())) {
            TransportException e = failure(t.connect(InetSocketAddress.createUnresolved("no-such-host.invalid", 9042),
                    (conn, f) -> { }));
            assertTrue(e.getMessage().contains("unresolved") && e.getMessage().contains("no-such-host.invalid:9042"),
                    e.getMessage());
        }
    }

    @Test
    void timesOutAgainstAFullAcceptQueue() throws Exception {
        try (FullAcceptQueue listener = new FullAcceptQueue();
             Transport t = Transports.create("nio", TransportConfig.builder().connectTimeout(Duration.ofMillis(300))
                     .build())) {
            Assumptions.assumeTrue(listener.isFull(), "this kernel never dropped a SYN: cannot provoke a timeout");
            long start = System.nanoTime();
            TransportException e = failure(t.connect(listener.address(), (conn, f) -> { }));
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertTrue(e.getMessage().contains("timed out after 300 ms"), e.getMessage());
            assertTrue(millis >= 290, "timed out early: " + millis + " ms");
        }
    }

    @Test
    void afterTransportClose() {
        Transport t = Transports.create("nio", TransportConfig.defaults());
        t.close();
        TransportException e = failure(t.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), 9042),
                (conn, f) -> { }));
        assertTrue(e.getMessage().contains("transport closed"), e.getMessage());
    }
}
