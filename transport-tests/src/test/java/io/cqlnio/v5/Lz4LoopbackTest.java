package io.cqlnio.v5;

import io.cqlnio.spi.Connection;
import io.cqlnio.spi.FrameHandler;
import io.cqlnio.spi.Framing;
import io.cqlnio.spi.ProtocolException;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;
import net.jpountz.lz4.LZ4Factory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * LZ4 segments over real loopback sockets through the public API: a connection switched to
 * {@link Framing#V5_SEGMENTS_LZ4} against an echo peer gets its own compressed and stored segments back and reads
 * them, frames over a segment included; and hostile peers (a decompression bomb, a lying uncompressed length,
 * random bytes with valid CRCs) close only their own connection with a {@link ProtocolException} while a
 * connection on the same loop keeps working.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class Lz4LoopbackTest {

    private static final byte[] READY = {(byte) 0x85, 0, 0, 0, 2, 0, 0, 0, 0};

    /** A peer that accepts one connection and hands its socket to {@code script} on a thread of its own. */
    private static ServerSocket peer(Consumer<Socket> script) throws Exception {
        ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        Thread t = new Thread(() -> {
            try (Socket s = server.accept()) {
                script.accept(s);
            } catch (Exception ignored) {
                // the test sees the outcome on the client side
            }
        }, "lz4-peer");
        t.setDaemon(true);
        t.start();
        return server;
    }

    private static void echo(Socket s) {
        try {
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            byte[] buf = new byte[65536];
            for (int n; (n = in.read(buf)) >= 0; ) {
                out.write(buf, 0, n);
            }
        } catch (Exception ignored) {
            // closed
        }
    }

    private static InetSocketAddress address(ServerSocket server) {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), server.getLocalPort());
    }

    /** Collects frames; completes {@code closed} with the cause (or a marker for a graceful close). */
    private static final class Collector implements FrameHandler {
        final List<byte[]> frames = new ArrayList<>();
        final CompletableFuture<Throwable> closed = new CompletableFuture<>();
        final boolean switchOnFirst;
        volatile CountDownLatch expected = new CountDownLatch(0);

        Collector(boolean switchOnFirst) {
            this.switchOnFirst = switchOnFirst;
        }

        @Override
        public void onFrame(Connection c, ByteBuffer frame) {
            byte[] copy = new byte[frame.remaining()];
            frame.get(copy);
            frames.add(copy);
            if (switchOnFirst && frames.size() == 1) {
                c.switchFraming(Framing.V5_SEGMENTS_LZ4);
            }
            expected.countDown();
        }

        @Override
        public void onClosed(Connection c, Throwable cause) {
            closed.complete(cause == null ? new Throwable("graceful") : cause);
        }
    }

    private static ByteBuffer frame(int stream, byte[] body) {
        return ByteBuffer.allocate(9 + body.length).put((byte) 0x04).put((byte) 0).putShort((short) stream)
                .put((byte) 0x07).putInt(body.length).put(body).flip();
    }

    /** Echo: what we send compressed comes back and is read as the same frames. */
    private static void echoRoundTrip(Transport transport) throws Exception {
        try (ServerSocket server = peer(Lz4LoopbackTest::echo)) {
            Collector collector = new Collector(false);
            Connection c = transport.connect(address(server), collector).get(10, TimeUnit.SECONDS);
            c.switchFraming(Framing.V5_SEGMENTS_LZ4);   // both ways at once: the echo peer returns our segments
            List<byte[]> sent = new ArrayList<>();
            SplittableRandom random = new SplittableRandom(3);
            int[] sizes = {0, 64, 1024, 24_576, 131_071, 300_000};
            for (int i = 0; i < 40; i++) {
                byte[] body = new byte[sizes[i % sizes.length]];
                if (i % 2 == 0) {
                    random.nextBytes(body);
                } else {
                    for (int j = 0; j < body.length; j++) {
                        body[j] = (byte) ('a' + j % 26);
                    }
                }
                ByteBuffer f = frame(i, body);
                sent.add(f.array().clone());
                collector.expected = new CountDownLatch(1);
                c.write(f).get(10, TimeUnit.SECONDS);
                assertTrue(collector.expected.await(10, TimeUnit.SECONDS), "echo of frame " + i);
            }
            assertEquals(sent.size(), collector.frames.size());
            for (int i = 0; i < sent.size(); i++) {
                assertArrayEquals(sent.get(i), collector.frames.get(i), "frame " + i);
            }
            assertTrue(c.stats().bytesWritten() < sent.stream().mapToLong(b -> b.length).sum(),
                    "compression saved nothing: " + c.stats());
            c.close().get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void ourSegmentsComeBackAndAreReadAsTheSameFrames() throws Exception {
        try (Transport transport = Transports.create("nio", TransportConfig.builder().loops(1).build())) {
            echoRoundTrip(transport);
        }
    }

    @Test
    void hostilePeersCloseOnlyTheirOwnConnection() throws Exception {
        byte[] bomb = LZ4Factory.safeInstance().fastCompressor().compress(new byte[16 << 20]);
        byte[] payload = frame(1, new byte[2000]).array();
        byte[] block = LZ4Factory.safeInstance().fastCompressor().compress(payload);
        byte[] noise = new byte[500];
        new SplittableRandom(9).nextBytes(noise);
        List<byte[]> hostile = List.of(
                segment(bomb, bomb.length, (1 << 17) - 1),                 // a decompression bomb
                segment(block, block.length, payload.length + 1),          // lying about the uncompressed length
                segment(noise, noise.length, 60_000),                      // noise, valid CRCs
                segment(java.util.Arrays.copyOf(block, block.length / 2), block.length / 2, payload.length));
        try (Transport transport = Transports.create("nio", TransportConfig.builder().loops(1).build())) {
            for (byte[] segment : hostile) {
                try (ServerSocket server = peer(s -> {
                    try {
                        OutputStream out = s.getOutputStream();
                        out.write(READY);
                        out.write(segment);
                        out.flush();
                        s.getInputStream().read();
                    } catch (Exception ignored) {
                        // the client hung up
                    }
                })) {
                    Collector collector = new Collector(true);
                    transport.connect(address(server), collector).get(10, TimeUnit.SECONDS);
                    Throwable cause = collector.closed.get(10, TimeUnit.SECONDS);
                    assertInstanceOf(ProtocolException.class, cause, String.valueOf(cause));
                    assertEquals(1, collector.frames.size(), "only READY was delivered");
                }
                echoRoundTrip(transport);   // the same loop still serves a healthy connection
            }
        }
    }

    private static byte[] segment(byte[] onWire, int compressedLength, int uncompressedLength) {
        ByteBuffer b = ByteBuffer.allocate(8 + onWire.length + 4);
        io.cqlnio.frame.Lz4Segments.writeHeader(b, 0, compressedLength, uncompressedLength, true);
        b.position(8);
        b.put(onWire);
        io.cqlnio.frame.Segments.writeTrailer(b, b.position(), Lz4RawSegments.crc32(onWire));
        return b.array();
    }
}
