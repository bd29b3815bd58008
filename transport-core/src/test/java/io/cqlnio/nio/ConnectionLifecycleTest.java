package io.cqlnio.nio;

import io.cqlnio.spi.Connection;
import io.cqlnio.spi.ConnectionClosedException;
import io.cqlnio.spi.FrameHandler;
import io.cqlnio.spi.TlsConfig;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;
import io.cqlnio.testkit.Await;
import io.cqlnio.testkit.Closer;
import io.cqlnio.testkit.LoopbackPeer;
import io.cqlnio.testkit.TestFrames;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * What only this module's tests can check of a connection's end: its surefire runs the JDK's TLS peers with
 * {@code com.sun.net.ssl.requireCloseNotify=true}, so a graceful close over TLS that forgets close_notify fails
 * here (the {@code tls-no-close-notify} control). The rest of the lifecycle (listeners exactly once on close,
 * abort, reset and transport close; onClosed's cause; one bad connection leaving the others alone) is checked for
 * every transport, in the clear and over TLS, by transport-tests' {@code TransportKitTest}.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ConnectionLifecycleTest {

    @RegisterExtension
    final Closer closer = new Closer();

    @Test
    void gracefulCloseOverTlsFlushesThenEndsTheStreamWithCloseNotify() throws Exception {
        List<Integer> received = new CopyOnWriteArrayList<>();
        LoopbackPeer peer = closer.add(new LoopbackPeer(4096, true, 50, TestTls.serverContext(),
                LoopbackPeer.frames((i, f) -> received.add(TestFrames.check(f, 0)))));
        CompletableFuture<Throwable> closedCause = new CompletableFuture<>();
        FrameHandler handler = new FrameHandler() {
            @Override
            public void onFrame(Connection connection, ByteBuffer frame) {
            }

            @Override
            public void onClosed(Connection connection, Throwable causeOrNull) {
                closedCause.complete(causeOrNull);
            }
        };
        Transport transport = closer.add(Transports.create("nio", TransportConfig.builder().sendBufferSize(4096)
                .receiveBufferSize(4096).tls(TlsConfig.of(TestTls.clientContext())).build()));
        Connection c = transport.connect(peer.address(), handler).get(5, TimeUnit.SECONDS);
        for (int i = 0; i < 500; i++) {
            c.write(TestFrames.frame(0, i, 1000, true), null);
        }
        Await.until(() -> c.stats().shortWrites() > 0 && c.pendingBytes() > 0, "a short write");

        CompletableFuture<Void> closed = c.close();
        AtomicReference<Throwable> refused = new AtomicReference<>();
        c.write(TestFrames.frame(0, 9999, 8, false), refused::set);
        assertInstanceOf(ConnectionClosedException.class, refused.get());
        assertFalse(closed.isDone(), "closed before the accepted frames were flushed");

        peer.release();
        closed.get(10, TimeUnit.SECONDS);
        assertNull(closedCause.get(5, TimeUnit.SECONDS), "graceful close must report a null cause");
        Await.until(() -> received.size() == 500, "all 500 frames at the peer");
        for (int i = 0; i < 500; i++) {
            assertEquals(i, received.get(i));
        }
        // The peer saw the stream end after the last frame, by close_notify, not by truncation.
        Await.until(() -> peer.cleanEnds() == 1 || !peer.errors().isEmpty(), "the peer to see the end");
        assertEquals(List.of(), peer.errors());
    }
}
