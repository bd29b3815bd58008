package io.cqlnio.readme;

import io.cqlnio.spi.Connection;
import io.cqlnio.spi.FrameHandler;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.TransportStats;
import io.cqlnio.spi.Transports;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import javax.management.MBeanServer;
import javax.management.ObjectName;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The README's stats bridges against real registries: {@link CqlnioMetrics} on a Micrometer
 * {@link SimpleMeterRegistry}, {@link CqlnioJmx} on the platform MBean server, each read back through the
 * registry's own API after a known number of frames went out over a real loopback socket.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class BridgesTest {

    private static final int FRAMES = 100;

    private ServerSocket sink;
    private CompletableFuture<Void> drained;
    private Transport transport;

    /** A peer that reads and drops everything, and a transport that has written {@link #FRAMES} OPTIONS to it. */
    @BeforeEach
    void writeFrames() throws Exception {
        sink = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        drained = CompletableFuture.runAsync(() -> {
            try (Socket socket = sink.accept(); InputStream in = socket.getInputStream()) {
                in.transferTo(OutputStream.nullOutputStream());
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
        transport = Transports.create("nio", TransportConfig.defaults());
        FrameHandler ignore = (connection, frame) -> { };
        Connection c = transport.connect((InetSocketAddress) sink.getLocalSocketAddress(), ignore)
                .get(10, TimeUnit.SECONDS);
        List<CompletableFuture<Void>> written = new ArrayList<>();
        for (int i = 0; i < FRAMES; i++) {
            ByteBuffer options = ByteBuffer.allocate(9).put((byte) 4).put((byte) 0).putShort((short) i)
                    .put((byte) 5).putInt(0).flip();
            written.add(c.write(options));
        }
        CompletableFuture.allOf(written.toArray(new CompletableFuture[0])).get(10, TimeUnit.SECONDS);
    }

    @AfterEach
    void close() throws Exception {
        transport.close();
        drained.get(10, TimeUnit.SECONDS);
        sink.close();
    }

    @Test
    void micrometerReadsTheTransportsCounters() {
        MeterRegistry registry = new SimpleMeterRegistry();
        new CqlnioMetrics(transport).bindTo(registry);

        TransportStats stats = transport.stats();
        assertEquals(FRAMES, stats.framesWritten());
        assertEquals(FRAMES, registry.get("cqlnio.frames.written").functionCounter().count());
        assertEquals(stats.shortWrites(), registry.get("cqlnio.short.writes").functionCounter().count());
        assertEquals(0, registry.get("cqlnio.pending.bytes").gauge().value());
        double busy = registry.get("cqlnio.loop.busy").gauge().value();
        assertTrue(busy > 0 && busy <= 1, "loop busy ratio " + busy);
    }

    @Test
    void jmxReadsTheTransportsCounters() throws Exception {
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        ObjectName name = CqlnioJmx.register(transport, "readme test");
        try {
            assertEquals(new ObjectName("io.cqlnio:type=Transport,name=\"readme test\""), name);
            assertTrue(server.isRegistered(name));
            assertEquals((long) FRAMES, server.getAttribute(name, "FramesWritten"));
            assertEquals(transport.stats().shortWrites(), server.getAttribute(name, "ShortWrites"));
            assertEquals(0L, server.getAttribute(name, "PendingBytes"));
            double busy = (Double) server.getAttribute(name, "LoopBusyRatio");
            assertTrue(busy > 0 && busy <= 1, "loop busy ratio " + busy);
        } finally {
            server.unregisterMBean(name);
        }
        assertFalse(server.isRegistered(name));
    }
}
