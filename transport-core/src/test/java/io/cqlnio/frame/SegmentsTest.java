package io.cqlnio.frame;

import io.cqlnio.spi.ProtocolException;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.SplittableRandom;
import java.util.zip.CRC32;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The v5 segment header and trailer, checked against a bit-by-bit reference of the server's algorithm. */
class SegmentsTest {

    /** The server's CRC24, one bit at a time: polynomial 0x1974F0B, initial 0x875060, LSB-first bytes. */
    static int referenceCrc24(long bytes, int len) {
        int crc = 0x875060;
        while (len-- > 0) {
            crc ^= (int) (bytes & 0xff) << 16;
            bytes >>= 8;
            for (int i = 0; i < 8; i++) {
                crc <<= 1;
                if ((crc & 0x1000000) != 0) {
                    crc ^= 0x1974F0B;
                }
            }
        }
        return crc;
    }

    @Test
    void tableCrc24MatchesTheBitwiseReference() {
        SplittableRandom random = new SplittableRandom(1);
        for (int i = 0; i < 200_000; i++) {
            int header3b = random.nextInt(1 << 24);
            assertEquals(referenceCrc24(header3b, 3), Segments.crc24(header3b), "header 0x" + Integer.toHexString(header3b));
        }
        for (int length : new int[]{0, 1, 9, Segments.MAX_PAYLOAD}) {
            for (int flag : new int[]{0, 1 << 17}) {
                assertEquals(referenceCrc24(length | flag, 3), Segments.crc24(length | flag));
            }
        }
    }

    @Test
    void headerRoundTrip() {
        ByteBuffer b = ByteBuffer.allocate(6);
        for (int length : new int[]{0, 1, 1000, Segments.MAX_PAYLOAD}) {
            for (boolean selfContained : new boolean[]{true, false}) {
                Segments.writeHeader(b, 0, length, selfContained);
                int header3b = Segments.readHeader(b, 0);
                assertEquals(length, Segments.payloadLength(header3b));
                assertEquals(selfContained, Segments.isSelfContained(header3b));
                // Little-endian: the length's low byte comes first on the wire.
                assertEquals((byte) length, b.get(0));
            }
        }
    }

    @Test
    void everyFlippedHeaderBitIsCaughtAndBothValuesNamed() {
        ByteBuffer b = ByteBuffer.allocate(6);
        Segments.writeHeader(b, 0, 4242, true);
        for (int bit = 0; bit < 48; bit++) {
            ByteBuffer corrupt = ByteBuffer.allocate(6);
            corrupt.put(b.duplicate().clear());
            corrupt.put(bit / 8, (byte) (corrupt.get(bit / 8) ^ (1 << (bit % 8))));
            ProtocolException e = assertThrows(ProtocolException.class, () -> Segments.readHeader(corrupt, 0));
            assertTrue(e.getMessage().contains("CRC24 mismatch: read 0x") && e.getMessage().contains("computed 0x"),
                    e.getMessage());
        }
    }

    @Test
    void payloadTooLargeForOneSegmentIsRefused() {
        assertThrows(IllegalArgumentException.class,
                () -> Segments.writeHeader(ByteBuffer.allocate(6), 0, Segments.MAX_PAYLOAD + 1, true));
    }

    @Test
    void trailerIsTheSeededCrc32LittleEndian() {
        byte[] payload = "0_1_2_3_4".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        CRC32 reference = new CRC32();
        reference.update(new byte[]{(byte) 0xFA, (byte) 0x2D, (byte) 0x55, (byte) 0xCA});
        reference.update(payload);
        CRC32 ours = Segments.newCrc32();
        ours.update(payload);
        assertEquals(reference.getValue(), ours.getValue());
        ByteBuffer t = ByteBuffer.allocate(4);
        Segments.writeTrailer(t, 0, (int) ours.getValue());
        assertEquals((int) ours.getValue(), Segments.readTrailer(t, 0));
        assertEquals((byte) ours.getValue(), t.get(0));
        assertFalse(Segments.isSelfContained(0));
    }
}
