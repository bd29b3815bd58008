package io.cqlnio.kit;

import com.sun.management.UnixOperatingSystemMXBean;
import io.cqlnio.spi.Connection;
import io.cqlnio.spi.ConnectionClosedException;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;
import io.cqlnio.testkit.Await;
import io.cqlnio.testkit.TestFrames;
import org.junit.jupiter.api.Timeout;

import java.lang.management.ManagementFactory;
import java.lang.management.OperatingSystemMXBean;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Many connections (invariants 2, 3 and 6 at scale): 2,000 concurrent connections on one loop to a loopback
 * peer, each exchanging frames; then the peer stops reading, every connection gets frames it cannot write, and
 * the peer dies (every socket reset). Every connection reports {@code onClosed} exactly once with a cause, and
 * every frame's listener fires exactly once: successes first, then the unwritten ones failed.
 *
 * <p>Needs about 2 file descriptors per connection in this JVM (the peer is in-process): 4,000 plus slack.
 * The JDK raises its soft limit to the hard limit on Linux; where the hard limit is lower, raise it before the
 * build ({@code ulimit -n 8192}) or pass {@code -Dcqlnio.many.connections=N}.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class ManyConnectionsTest {

    private static final int FRAMES_BEFORE_STALL = 3;
    private static final int FRAMES_AFTER_STALL = 40;

    @EachTransport
    void twoThousandConnectionsOnOneLoopThenThePeerDies(String name) throws Exception {
        int connections = (int) Kit.longProperty("cqlnio.many.connections", 2_000);
        OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
        if (os instanceof UnixOperatingSystemMXBean) {
            long max = ((UnixOperatingSystemMXBean) os).getMaxFileDescriptorCount();
            assertTrue(max >= 2L * connections + 512, "open-files limit " + max + " is too low for " + connections
                    + " loopback connections in one JVM: run `ulimit -n 8192` before the build");
        }
        long start = System.nanoTime();
        try (NioEchoPeer peer = new NioEchoPeer(4096);
             Transport transport = Transports.create(name, TransportConfig.builder().loops(1).sendBufferSize(4096)
                     .receiveBufferSize(4096).build())) {
            List<Connection> open = new ArrayList<>(connections);
            List<Recorder> handlers = new ArrayList<>(connections);
            AtomicLong echoed = new AtomicLong();
            // Connect in waves, so the peer's accept queue never overflows (a dropped SYN costs a 1 s retry).
            for (int wave = 0; wave < connections; wave += 250) {
                List<CompletableFuture<Connection>> futures = new ArrayList<>();
                for (int i = wave; i < Math.min(connections, wave + 250); i++) {
                    Recorder r = new Recorder() {
                        @Override
                        public void onFrame(Connection connection, ByteBuffer frame) {
                            super.onFrame(connection, frame);
                            echoed.incrementAndGet();
                        }
                    };
                    handlers.add(r);
                    futures.add(transport.connect(peer.address(), r));
                }
                for (CompletableFuture<Connection> f : futures) {
                    open.add(f.get(30, TimeUnit.SECONDS));
                }
            }
            // Every connection exchanges frames with the peer.
            for (int round = 0; round < FRAMES_BEFORE_STALL; round++) {
                for (int i = 0; i < connections; i++) {
                    open.get(i).write(TestFrames.frame(1, round, 100, false), null);
                }
            }
            long expectedEchoes = (long) connections * FRAMES_BEFORE_STALL;
            Await.until(() -> echoed.get() == expectedEchoes, Kit.seconds(60),
                    () -> "echoes on every connection: " + echoed.get() + " of " + expectedEchoes);
            for (int i = 0; i < connections; i++) {
                assertEquals(FRAMES_BEFORE_STALL, handlers.get(i).frames.size(), "echoes on connection " + i);
                int index = i;
                handlers.get(i).frames.forEach(f -> assertEquals(1, f.getShort(2), "connection " + index));
            }
            System.out.printf("many[%s]: %,d connections up and echoing in %,d ms%n", name, connections,
                    Kit.millisSince(start));

            // The peer stops reading; every connection gets more than both kernels' buffers can hold.
            peer.stall();
            List<Outcomes> outcomes = new ArrayList<>(connections);
            for (int i = 0; i < connections; i++) {
                Outcomes o = new Outcomes(FRAMES_AFTER_STALL);
                outcomes.add(o);
                Connection c = open.get(i);
                for (int f = 0; f < FRAMES_AFTER_STALL; f++) {
                    c.write(TestFrames.frame(2, f, 1000, false), o.listener(f));
                }
            }
            // Stuck for real: some bytes went to the kernel (so the loop did try), the rest cannot follow.
            long accepted = FRAMES_AFTER_STALL * (TestFrames.HEADER + 1000L);
            Await.until(() -> open.stream().allMatch(c -> c.pendingBytes() > 0 && c.pendingBytes() < accepted),
                    Kit.seconds(60), () -> "every connection to write some and hold the rest: " + open.stream()
                            .filter(c -> c.pendingBytes() == 0 || c.pendingBytes() >= accepted).count() + " do not");
            long pending = open.stream().mapToLong(Connection::pendingBytes).sum();

            long killed = System.nanoTime();
            peer.kill();
            Await.until(() -> handlers.stream().allMatch(h -> h.closed.isDone()), Kit.seconds(60),
                    () -> "onClosed on every connection: " + handlers.stream().filter(h -> !h.closed.isDone()).count()
                            + " still open");
            long failed = 0;
            for (int i = 0; i < connections; i++) {
                Recorder h = handlers.get(i);
                Outcomes o = outcomes.get(i);
                o.awaitAll();
                o.assertExactlyOnceSuccessesFirst();
                assertNotNull(h.closed.getNow(null), "connection " + i + ": the peer's death gives a cause");
                assertEquals(1, h.closes.get(), "connection " + i + ": onClosed count");
                assertTrue(h.breaches.isEmpty(), "connection " + i + ": " + h.breaches);
                assertFalse(open.get(i).isOpen());
                assertEquals(0, open.get(i).pendingBytes(), "connection " + i);
                for (Throwable t : o.failures) {
                    assertInstanceOf(ConnectionClosedException.class, t, "connection " + i);
                }
                failed += o.failures.size();
            }
            assertTrue(failed > 0, "no frame was unwritten when the peer died: the test proved nothing");
            System.out.printf("many[%s]: peer killed with %,d bytes pending; %,d connections closed once each, %,d"
                            + " unwritten frames failed once each, in %,d ms; %,d ms in all%n", name, pending,
                    connections, failed, Kit.millisSince(killed), Kit.millisSince(start));
            assertTrue(peer.errors().isEmpty(), peer.errors().toString());
        }
    }
}
