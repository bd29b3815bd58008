package io.cqlnio.v5;

import io.cqlnio.frame.Segments;
import io.cqlnio.spi.ProtocolException;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32;

import static io.cqlnio.v5.GoldenSegments.bytes;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link Segments} against bytes Cassandra 5.0.9 really sent ({@link GoldenSegments}): header fields, the CRC24
 * over the header, the seeded CRC32 over the payload, and our own encoder reproducing the server's header bytes.
 * A codec change that disagrees with the server fails here, without a node.
 */
class GoldenSegmentsTest {

    private static final List<String> SELF_CONTAINED = List.of(GoldenSegments.USE_SYSTEM_STREAM_1,
            GoldenSegments.USE_SYSTEM_STREAM_6, GoldenSegments.SUPPORTED_STREAM_2, GoldenSegments.SUPPORTED_STREAM_5,
            GoldenSegments.SYNTAX_ERROR_STREAM_3);

    @Test
    void selfContainedSegmentsFromTheServerPassBothChecks() {
        for (String hex : SELF_CONTAINED) {
            ByteBuffer segment = ByteBuffer.wrap(bytes(hex));
            int header3b = Segments.readHeader(segment, 0);   // throws on a CRC24 mismatch
            int length = Segments.payloadLength(header3b);
            assertTrue(Segments.isSelfContained(header3b), hex);
            assertEquals(segment.capacity(), Segments.HEADER_LENGTH + length + Segments.TRAILER_LENGTH, hex);
            CRC32 crc = Segments.newCrc32();
            crc.update(segment.slice(Segments.HEADER_LENGTH, length));
            assertEquals(Segments.readTrailer(segment, Segments.HEADER_LENGTH + length), (int) crc.getValue(), hex);
            // The payload is whole frames: here exactly one, whose declared length fills it.
            assertEquals(length - 9, segment.getInt(Segments.HEADER_LENGTH + 5), hex);
        }
    }

    @Test
    void theCrc24IsTheServersForEveryPinnedHeader() {
        for (String hex : allHeaders()) {
            ByteBuffer header = ByteBuffer.wrap(bytes(hex));
            int header3b = (header.get(0) & 0xff) | (header.get(1) & 0xff) << 8 | (header.get(2) & 0xff) << 16;
            int crc24 = (header.get(3) & 0xff) | (header.get(4) & 0xff) << 8 | (header.get(5) & 0xff) << 16;
            assertEquals(crc24, Segments.crc24(header3b), hex);
        }
    }

    @Test
    void ourEncoderWritesTheServersHeaderBytes() {
        for (String hex : allHeaders()) {
            ByteBuffer theirs = ByteBuffer.wrap(bytes(hex));
            int header3b = Segments.readHeader(theirs, 0);
            ByteBuffer ours = ByteBuffer.allocate(Segments.HEADER_LENGTH);
            Segments.writeHeader(ours, 0, Segments.payloadLength(header3b), Segments.isSelfContained(header3b));
            assertArrayEquals(theirs.array(), ours.array(), hex);
        }
    }

    @Test
    void aFrameLargerThanOneSegmentCameAsTwoNonSelfContainedSegments() {
        byte[] frame = GoldenSegments.bigResultFrame();
        assertEquals(GoldenSegments.BIG_SEGMENT_1_PAYLOAD + GoldenSegments.BIG_SEGMENT_2_PAYLOAD, frame.length);
        int first = Segments.readHeader(ByteBuffer.wrap(bytes(GoldenSegments.BIG_SEGMENT_1_HEADER)), 0);
        int second = Segments.readHeader(ByteBuffer.wrap(bytes(GoldenSegments.BIG_SEGMENT_2_HEADER)), 0);
        assertFalse(Segments.isSelfContained(first));
        assertFalse(Segments.isSelfContained(second));
        assertEquals(GoldenSegments.BIG_SEGMENT_1_PAYLOAD, Segments.payloadLength(first));
        assertEquals(GoldenSegments.BIG_SEGMENT_2_PAYLOAD, Segments.payloadLength(second));
        assertEquals(trailer(GoldenSegments.BIG_SEGMENT_1_TRAILER),
                crc32(Arrays.copyOfRange(frame, 0, GoldenSegments.BIG_SEGMENT_1_PAYLOAD)));
        assertEquals(trailer(GoldenSegments.BIG_SEGMENT_2_TRAILER),
                crc32(Arrays.copyOfRange(frame, GoldenSegments.BIG_SEGMENT_1_PAYLOAD, frame.length)));
    }

    @Test
    void theSeedIsWhatMakesTheServersTrailer() {
        // Without the 4 seed bytes a plain CRC32 of the payload does not match: the seed is not optional.
        byte[] segment = bytes(GoldenSegments.USE_SYSTEM_STREAM_1);
        int length = segment.length - Segments.HEADER_LENGTH - Segments.TRAILER_LENGTH;
        CRC32 plain = new CRC32();
        plain.update(segment, Segments.HEADER_LENGTH, length);
        assertNotEquals(Segments.readTrailer(ByteBuffer.wrap(segment), Segments.HEADER_LENGTH + length),
                (int) plain.getValue());
    }

    @Test
    void aCorruptedGoldenHeaderIsRejectedNamingBothValues() {
        // The check can fail: flip one bit of the server's CRC24 and readHeader must refuse it.
        byte[] segment = bytes(GoldenSegments.USE_SYSTEM_STREAM_1);
        segment[4] ^= 0x01;
        ProtocolException e = assertThrows(ProtocolException.class, () -> Segments.readHeader(ByteBuffer.wrap(segment), 0));
        assertTrue(e.getMessage().contains("read 0x41a5b5") && e.getMessage().contains("computed 0x41a4b5"),
                e.getMessage());
    }

    @Test
    void theReadyBeforeTheSwitchIsAnOrdinaryV5Frame() {
        byte[] ready = bytes(GoldenSegments.READY_FRAME);
        assertEquals(9, ready.length);
        assertEquals((byte) 0x85, ready[0], "response bit | version 5");
        assertEquals(0x02, ready[4], "opcode READY");
        assertEquals(0, ByteBuffer.wrap(ready).getInt(5), "empty body");
    }

    private static List<String> allHeaders() {
        List<String> headers = new java.util.ArrayList<>();
        for (String hex : SELF_CONTAINED) {
            headers.add(hex.substring(0, 2 * Segments.HEADER_LENGTH));
        }
        headers.add(GoldenSegments.BIG_SEGMENT_1_HEADER);
        headers.add(GoldenSegments.BIG_SEGMENT_2_HEADER);
        return headers;
    }

    private static int trailer(String hex) {
        return Segments.readTrailer(ByteBuffer.wrap(bytes(hex)), 0);
    }

    private static int crc32(byte[] payload) {
        CRC32 crc = Segments.newCrc32();
        crc.update(payload);
        return (int) crc.getValue();
    }
}
