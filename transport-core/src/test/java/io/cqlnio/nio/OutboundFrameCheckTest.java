package io.cqlnio.nio;

import io.cqlnio.spi.Connection;
import io.cqlnio.spi.CqlFrameCodec;
import io.cqlnio.spi.Framing;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.DataInputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code write} refuses a frame whose bytes do not match its own header, at once, on the caller's thread; a
 * matching frame (in one buffer or in parts, the header itself split) is accepted; the check can be turned off.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class OutboundFrameCheckTest {

    private static final OutboundFrameCheck CHECK = new OutboundFrameCheck(CqlFrameCodec.INSTANCE);

    /** A v4 request frame: 9-byte header declaring {@code declared} body bytes, then {@code body} bytes. */
    private static ByteBuffer frame(int version, int declared, int body) {
        ByteBuffer b = ByteBuffer.allocate(9 + body);
        b.put((byte) version).put((byte) 0).putShort((short) 1).put((byte) 7).putInt(declared);
        for (int i = 0; i < body; i++) {
            b.put((byte) i);
        }
        return b.flip();
    }

    @Test
    void aBufferNeverFlippedIsRefusedNamingTheBytesAndTheHeader() {
        ByteBuffer filled = frame(4, 10, 10).position(19); // as a caller leaves it after put(), before flip()
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CHECK.check(filled, null, "conn#1"));
        assertEquals("frame of 0 bytes refused on conn#1: shorter than the 9-byte header (a buffer not flipped"
                + " after it was filled?)", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> CHECK.check(frame(4, 0, 0).limit(5), null, "c"));
    }

    @Test
    void aDeclaredLengthOtherThanTheBytesGivenIsRefusedWithBothNumbers() {
        IllegalArgumentException shortBody = assertThrows(IllegalArgumentException.class,
                () -> CHECK.check(frame(4, 23_928, 16_375), null, "conn#2"));
        assertEquals("frame refused on conn#2: its header declares 23937 bytes (header included) but 16384 bytes"
                + " were given", shortBody.getMessage());
        ByteBuffer[] parts = {frame(4, 5, 0), ByteBuffer.allocate(6)};
        IllegalArgumentException longParts = assertThrows(IllegalArgumentException.class,
                () -> CHECK.check(null, parts, "conn#3"));
        assertTrue(longParts.getMessage().contains("declares 14 bytes") && longParts.getMessage().contains("but 15"),
                longParts.getMessage());
    }

    @Test
    void aVersionByteTheCodecRefusesIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CHECK.check(frame(0x5f, 0, 0), null, "conn#4"));
        assertTrue(e.getMessage().startsWith("frame of 9 bytes refused on conn#4: invalid protocol version byte 0x5f"),
                e.getMessage());
    }

    @Test
    void matchingFramesPassWholeOrInPartsEvenWithTheHeaderSplit() {
        CHECK.check(frame(4, 100, 100), null, "c");
        CHECK.check(frame(5, 0, 0), null, "c");
        ByteBuffer whole = frame(4, 20, 20);
        ByteBuffer[] split = {whole.duplicate().limit(3), whole.duplicate().position(3).limit(12),
                whole.duplicate().position(12)};
        CHECK.check(null, split, "c");
        assertEquals(0, split[0].position(), "the check moved a buffer");
    }

    @Test
    void onAConnectionTheRefusalIsAtOnceAndNothingReachesThePeer() throws Exception {
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             Transport t = Transports.create("nio", TransportConfig.defaults())) {
            Connection c = t.connect((InetSocketAddress) server.getLocalSocketAddress(), (conn, f) -> { })
                    .get(5, TimeUnit.SECONDS);
            try (Socket peer = server.accept()) {
                CountDownLatch told = new CountDownLatch(1);
                assertThrows(IllegalArgumentException.class,
                        () -> c.write(frame(4, 10, 10).position(19), failure -> told.countDown()));
                assertEquals(1, told.getCount(), "a refused frame's listener ran: it was never accepted");
                assertEquals(0, c.pendingBytes());
                ByteBuffer good = frame(4, 3, 3);
                byte[] expected = good.array().clone();
                c.write(good).get(5, TimeUnit.SECONDS);
                byte[] got = new byte[expected.length];
                new DataInputStream(peer.getInputStream()).readFully(got);
                assertArrayEquals(expected, got, "the peer received something before the good frame");
            }
        }
    }

    @Test
    void switchedOffAnyBytesGoOut() throws Exception {
        TransportConfig off = TransportConfig.builder().checkOutboundFrames(false).build();
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             Transport t = Transports.create("nio", off)) {
            Connection c = t.connect((InetSocketAddress) server.getLocalSocketAddress(), (conn, f) -> { })
                    .get(5, TimeUnit.SECONDS);
            try (Socket peer = server.accept()) {
                c.write(ByteBuffer.wrap(new byte[] {1, 2, 3})).get(5, TimeUnit.SECONDS);
                byte[] got = new byte[3];
                new DataInputStream(peer.getInputStream()).readFully(got);
                assertArrayEquals(new byte[] {1, 2, 3}, got);
            }
        }
    }

    @Test
    void framingAndDelayContracts() throws Exception {
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             Transport t = Transports.create("nio", TransportConfig.defaults())) {
            Connection c = t.connect((InetSocketAddress) server.getLocalSocketAddress(), (conn, f) -> { })
                    .get(5, TimeUnit.SECONDS);
            c.switchFraming(Framing.FRAMES); // stating the framing in use changes nothing, any number of times
            c.switchFraming(Framing.FRAMES);
            c.switchFraming(Framing.V5_SEGMENTS);
            assertThrows(IllegalStateException.class, () -> c.switchFraming(Framing.V5_SEGMENTS));
            assertThrows(IllegalStateException.class, () -> c.switchFraming(Framing.FRAMES));
            CompletableFuture<Thread> ran = new CompletableFuture<>();
            c.schedule(() -> ran.complete(Thread.currentThread()), -5, TimeUnit.SECONDS); // "as soon as possible"
            assertTrue(ran.get(5, TimeUnit.SECONDS).getName().startsWith("cqlnio-loop"));
        }
    }
}
