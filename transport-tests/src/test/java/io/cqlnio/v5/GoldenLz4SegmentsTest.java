package io.cqlnio.v5;

import io.cqlnio.frame.Lz4Segments;
import io.cqlnio.frame.Segments;
import io.cqlnio.spi.Connection;
import io.cqlnio.spi.FrameHandler;
import io.cqlnio.spi.Framing;
import io.cqlnio.spi.ProtocolException;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.cqlnio.v5.GoldenSegments.bytes;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link Lz4Segments} and the {@code nio} read path against LZ4 segments Cassandra 5.0.9 really sent
 * ({@link GoldenLz4Segments}): the 8-byte header's fields and CRC24, the CRC32 over the payload as sent (compressed
 * or stored), our header encoder reproducing the server's bytes, and a {@code nio} connection switched to
 * {@link Framing#V5_SEGMENTS_LZ4} delivering the very frames the server meant. Without a node.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class GoldenLz4SegmentsTest {

    /** Every whole pinned segment, in the order the server sent them. */
    private static List<String> whole() {
        return List.of(GoldenLz4Segments.USE_SYSTEM_STREAM_1, GoldenLz4Segments.SUPPORTED_STREAM_2,
                GoldenLz4Segments.SYNTAX_ERROR_STREAM_3, GoldenLz4Segments.PATTERN_STREAM_4,
                GoldenLz4Segments.BIG_SEGMENT_1, GoldenLz4Segments.BIG_SEGMENT_2);
    }

    @Test
    void everyPinnedSegmentPassesBothChecksAndItsLengthsAddUp() {
        for (String hex : whole()) {
            ByteBuffer segment = ByteBuffer.wrap(bytes(hex));
            long header5b = Lz4Segments.readHeader(segment, 0);   // throws on a CRC24 mismatch
            int length = Lz4Segments.compressedLength(header5b);
            assertEquals(segment.capacity(), Lz4Segments.HEADER_LENGTH + length + Segments.TRAILER_LENGTH, hex);
            assertEquals(0, header5b >>> 35, "padding");
            byte[] payload = Lz4RawSegments.payload(bytes(hex));   // checks the CRC32 over the bytes as sent
            int uncompressed = Lz4Segments.uncompressedLength(header5b);
            assertEquals(uncompressed == 0 ? length : uncompressed, payload.length, hex);
            if (uncompressed != 0) {
                assertTrue(length < uncompressed, "the server compresses only what shrinks");
            }
        }
    }

    @Test
    void smallAnswersAreStoredAndCompressibleOnesAreCompressed() {
        assertEquals(0, uncompressedLength(GoldenLz4Segments.USE_SYSTEM_STREAM_1), "21 bytes: stored");
        assertEquals(0, uncompressedLength(GoldenLz4Segments.SYNTAX_ERROR_STREAM_3), "68 bytes: stored");
        assertNotEquals(0, uncompressedLength(GoldenLz4Segments.PATTERN_STREAM_4));
        assertNotEquals(0, uncompressedLength(GoldenLz4Segments.BIG_SEGMENT_1));
        assertNotEquals(0, uncompressedLength(GoldenLz4Segments.BIG_SEGMENT_2));
        assertEquals(0, uncompressedLength(GoldenLz4Segments.RANDOM_SEGMENT_1_HEADER), "random: stored");
        assertEquals(0, uncompressedLength(GoldenLz4Segments.RANDOM_SEGMENT_2_HEADER), "random: stored");
        assertTrue(Lz4Segments.isSelfContained(header(GoldenLz4Segments.PATTERN_STREAM_4)));
        for (String hex : List.of(GoldenLz4Segments.BIG_SEGMENT_1, GoldenLz4Segments.BIG_SEGMENT_2,
                GoldenLz4Segments.RANDOM_SEGMENT_1_HEADER, GoldenLz4Segments.RANDOM_SEGMENT_2_HEADER)) {
            assertFalse(Lz4Segments.isSelfContained(header(hex)), "a slice of a large frame: " + hex);
        }
    }

    @Test
    void ourEncoderWritesTheServersHeaderBytes() {
        List<String> headers = new ArrayList<>();
        for (String hex : whole()) {
            headers.add(hex.substring(0, 2 * Lz4Segments.HEADER_LENGTH));
        }
        headers.add(GoldenLz4Segments.RANDOM_SEGMENT_1_HEADER);
        headers.add(GoldenLz4Segments.RANDOM_SEGMENT_2_HEADER);
        for (String hex : headers) {
            long header5b = header(hex);
            ByteBuffer ours = ByteBuffer.allocate(Lz4Segments.HEADER_LENGTH);
            Lz4Segments.writeHeader(ours, 0, Lz4Segments.compressedLength(header5b),
                    Lz4Segments.uncompressedLength(header5b), Lz4Segments.isSelfContained(header5b));
            assertEquals(hex, RawV5Socket.hex(ours.array()));
        }
    }

    @Test
    void thePayloadsAreTheFramesTheServerMeant() {
        byte[] pattern = Lz4RawSegments.payload(bytes(GoldenLz4Segments.PATTERN_STREAM_4));
        assertArrayEquals(GoldenLz4Segments.resultFrame(4, "pattern",
                GoldenLz4Segments.patternBlob(GoldenLz4Segments.PATTERN_BLOB_LENGTH)), pattern);
        byte[] big = concat(Lz4RawSegments.payload(bytes(GoldenLz4Segments.BIG_SEGMENT_1)),
                Lz4RawSegments.payload(bytes(GoldenLz4Segments.BIG_SEGMENT_2)));
        assertArrayEquals(GoldenLz4Segments.resultFrame(5, "big",
                GoldenLz4Segments.patternBlob(GoldenLz4Segments.BIG_BLOB_LENGTH)), big);
        // The random slices' trailers are the CRC32 of the stored payload: rebuild it and compare.
        byte[] random = GoldenLz4Segments.resultFrame(6, "random", GoldenLz4Segments.randomBlob());
        int first = Lz4Segments.compressedLength(header(GoldenLz4Segments.RANDOM_SEGMENT_1_HEADER));
        int second = Lz4Segments.compressedLength(header(GoldenLz4Segments.RANDOM_SEGMENT_2_HEADER));
        assertEquals(random.length, first + second);
        assertEquals(Segments.readTrailer(ByteBuffer.wrap(bytes(GoldenLz4Segments.RANDOM_SEGMENT_1_TRAILER)), 0),
                Lz4RawSegments.crc32(Arrays.copyOf(random, first)));
        assertEquals(Segments.readTrailer(ByteBuffer.wrap(bytes(GoldenLz4Segments.RANDOM_SEGMENT_2_TRAILER)), 0),
                Lz4RawSegments.crc32(Arrays.copyOfRange(random, first, random.length)));
    }

    @Test
    void aCorruptedGoldenHeaderIsRejectedNamingBothValues() {
        byte[] segment = bytes(GoldenLz4Segments.USE_SYSTEM_STREAM_1);
        segment[6] ^= 0x01;
        ProtocolException e = assertThrows(ProtocolException.class,
                () -> Lz4Segments.readHeader(ByteBuffer.wrap(segment), 0));
        assertTrue(e.getMessage().contains("read 0x") && e.getMessage().contains("computed 0x"), e.getMessage());
    }

    /**
     * The whole read path: a peer replays the server's bytes (READY, then the pinned segments, the random
     * answer's stored slices rebuilt) in small pieces to a {@code nio} connection that switches to LZ4 segments on
     * READY; the frames delivered are the server's frames.
     */
    @Test
    void aNioConnectionReadsTheServersLz4Stream() throws Exception {
        byte[] random = GoldenLz4Segments.resultFrame(6, "random", GoldenLz4Segments.randomBlob());
        int first = Lz4Segments.compressedLength(header(GoldenLz4Segments.RANDOM_SEGMENT_1_HEADER));
        byte[] stream = concat(bytes(GoldenLz4Segments.READY_FRAME), bytes(String.join("", whole())),
                bytes(GoldenLz4Segments.RANDOM_SEGMENT_1_HEADER), Arrays.copyOf(random, first),
                bytes(GoldenLz4Segments.RANDOM_SEGMENT_1_TRAILER),
                bytes(GoldenLz4Segments.RANDOM_SEGMENT_2_HEADER), Arrays.copyOfRange(random, first, random.length),
                bytes(GoldenLz4Segments.RANDOM_SEGMENT_2_TRAILER));
        List<byte[]> expected = new ArrayList<>();
        expected.add(bytes(GoldenLz4Segments.READY_FRAME));
        for (String hex : List.of(GoldenLz4Segments.USE_SYSTEM_STREAM_1, GoldenLz4Segments.SUPPORTED_STREAM_2,
                GoldenLz4Segments.SYNTAX_ERROR_STREAM_3, GoldenLz4Segments.PATTERN_STREAM_4)) {
            expected.add(Lz4RawSegments.payload(bytes(hex)));
        }
        expected.add(concat(Lz4RawSegments.payload(bytes(GoldenLz4Segments.BIG_SEGMENT_1)),
                Lz4RawSegments.payload(bytes(GoldenLz4Segments.BIG_SEGMENT_2))));
        expected.add(random);

        List<byte[]> got = new ArrayList<>();
        CompletableFuture<Void> all = new CompletableFuture<>();
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             Transport transport = Transports.create("nio", TransportConfig.defaults())) {
            Thread peer = new Thread(() -> {
                try (Socket s = server.accept()) {
                    OutputStream out = s.getOutputStream();
                    for (int at = 0; at < stream.length; at += 777) {   // pieces that cut headers and blocks
                        out.write(stream, at, Math.min(777, stream.length - at));
                        out.flush();
                    }
                    s.getInputStream().read();   // until the client closes
                } catch (Exception e) {
                    all.completeExceptionally(e);
                }
            }, "golden-lz4-peer");
            peer.setDaemon(true);
            peer.start();
            Connection c = transport.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(),
                    server.getLocalPort()), new FrameHandler() {
                @Override
                public void onFrame(Connection conn, ByteBuffer frame) {
                    byte[] copy = new byte[frame.remaining()];
                    frame.get(copy);
                    got.add(copy);
                    if (got.size() == 1) {
                        conn.switchFraming(Framing.V5_SEGMENTS_LZ4);   // on READY, on the loop: exact
                    }
                    if (got.size() == expected.size()) {
                        all.complete(null);
                    }
                }

                @Override
                public void onClosed(Connection conn, Throwable cause) {
                    all.completeExceptionally(new AssertionError("closed after " + got.size() + " frames", cause));
                }
            }).get(10, TimeUnit.SECONDS);
            all.get(30, TimeUnit.SECONDS);
            c.close().get(10, TimeUnit.SECONDS);
        }
        assertEquals(expected.size(), got.size());
        for (int i = 0; i < expected.size(); i++) {
            assertArrayEquals(expected.get(i), got.get(i), "frame " + i);
        }
    }

    private static long header(String hex) {
        return Lz4Segments.readHeader(ByteBuffer.wrap(bytes(hex.substring(0, 2 * Lz4Segments.HEADER_LENGTH))), 0);
    }

    private static int uncompressedLength(String hex) {
        return Lz4Segments.uncompressedLength(header(hex));
    }

    private static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        byte[] all = new byte[n];
        int at = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, all, at, p.length);
            at += p.length;
        }
        return all;
    }
}
