package io.cqlnio.readme;

import io.cqlnio.spi.Connection;
import io.cqlnio.spi.ConnectionClosedException;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The quick start's request matching ({@link QuickStart.Replies}) against the two things a real server does that
 * the first README version got wrong: frames nobody asked for (a server EVENT, a late reply) must be ignored, not
 * close the connection; and a graceful close (cause {@code null}) must fail what is still pending with a
 * {@link ConnectionClosedException} instead of leaving it waiting forever. The peer is a scripted blocking socket,
 * so every frame's order on the wire is fixed. {@code QuickStartIT} runs the whole class against Cassandra.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class QuickStartTest {

    private static final byte[] OPTIONS_STREAM_0 = {4, 0, 0, 0, 5, 0, 0, 0, 0};
    /** An EVENT (opcode 0x0C) on stream -1, as a server pushes after REGISTER; the body does not matter here. */
    private static final byte[] EVENT = {(byte) 0x84, 0, (byte) 0xff, (byte) 0xff, 0x0C, 0, 0, 0, 2, 0, 0};
    /** A SUPPORTED on stream 9, which nobody sent: a reply arriving after its request gave up. */
    private static final byte[] LATE_REPLY = {(byte) 0x84, 0, 0, 9, 0x06, 0, 0, 0, 2, 0, 0};
    /** SUPPORTED on stream 0 with a one-entry multimap: {A=[b]}. */
    private static final byte[] SUPPORTED_STREAM_0 = {(byte) 0x84, 0, 0, 0, 0x06, 0, 0, 0, 10,
            0, 1, 0, 1, 'A', 0, 1, 0, 1, 'b'};

    private ServerSocket server;
    private Transport transport;

    @AfterEach
    void close() throws IOException {
        if (transport != null) {
            transport.close();
        }
        if (server != null) {
            server.close();
        }
    }

    @Test
    void framesNobodyAskedForAreIgnoredAndTheAwaitedReplyStillArrives() throws Exception {
        CompletableFuture<Void> peer = peer(socket -> {
            byte[] request = readFully(socket, OPTIONS_STREAM_0.length);
            assertArrayEquals(OPTIONS_STREAM_0, request);
            OutputStream out = socket.getOutputStream();
            out.write(EVENT);                // before the reply on one TCP stream: onFrame sees them in this order
            out.write(LATE_REPLY);
            out.write(SUPPORTED_STREAM_0);
            out.flush();
            awaitEof(socket);
        });
        QuickStart.Replies replies = new QuickStart.Replies();
        Connection c = connect(replies);

        byte[] reply = replies.send(c, 0, ByteBuffer.wrap(OPTIONS_STREAM_0.clone())).get(10, TimeUnit.SECONDS);

        assertArrayEquals(SUPPORTED_STREAM_0, reply);
        assertEquals(Map.of("A", List.of("b")), QuickStart.stringMultimap(ByteBuffer.wrap(reply).position(9)));
        assertTrue(c.isOpen(), "the EVENT or the late reply closed the connection");
        c.close().get(10, TimeUnit.SECONDS);
        assertEquals(3, c.stats().framesRead(), "every frame reached onFrame");
        peer.get(10, TimeUnit.SECONDS);
    }

    @Test
    void aGracefulCloseFailsWhatIsStillPendingWithConnectionClosedException() throws Exception {
        CompletableFuture<Void> peer = peer(socket -> {
            readFully(socket, OPTIONS_STREAM_0.length);   // and never answers
            awaitEof(socket);
        });
        QuickStart.Replies replies = new QuickStart.Replies();
        Connection c = connect(replies);
        CompletableFuture<byte[]> unanswered = replies.send(c, 0, ByteBuffer.wrap(OPTIONS_STREAM_0.clone()));

        c.close().get(10, TimeUnit.SECONDS);   // onClosed(c, null)

        ExecutionException e = assertThrows(ExecutionException.class, () -> unanswered.get(10, TimeUnit.SECONDS));
        ConnectionClosedException closed = assertInstanceOf(ConnectionClosedException.class, e.getCause());
        assertNull(closed.getCause(), "a graceful close has no cause");
        assertTrue(closed.getMessage().contains(c.remoteAddress().toString()), closed.getMessage());
        peer.get(10, TimeUnit.SECONDS);
    }

    private Connection connect(QuickStart.Replies replies) throws Exception {
        transport = Transports.create("nio", TransportConfig.defaults());
        return transport.connect((InetSocketAddress) server.getLocalSocketAddress(), replies).get(10, TimeUnit.SECONDS);
    }

    /** Accepts one connection on a new thread and runs {@code script} on it. */
    private CompletableFuture<Void> peer(Script script) throws IOException {
        server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        return CompletableFuture.runAsync(() -> {
            try (Socket socket = server.accept()) {
                socket.setSoTimeout(10_000);
                script.run(socket);
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
    }

    @FunctionalInterface
    private interface Script {
        void run(Socket socket) throws IOException;
    }

    private static byte[] readFully(Socket socket, int n) throws IOException {
        byte[] bytes = new byte[n];
        new DataInputStream(socket.getInputStream()).readFully(bytes);
        return bytes;
    }

    /** Returns when the client closes; fails if it sends anything more first. */
    private static void awaitEof(Socket socket) throws IOException {
        assertEquals(-1, socket.getInputStream().read(), "the client sent more than expected");
    }
}
