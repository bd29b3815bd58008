package io.cqlnio.nio;

import io.cqlnio.spi.CqlFrameCodec;
import io.cqlnio.spi.ProtocolException;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static io.cqlnio.nio.Lz4TestSegments.bytes;
import static io.cqlnio.nio.Lz4TestSegments.compress;
import static io.cqlnio.nio.Lz4TestSegments.compressibleFrame;
import static io.cqlnio.nio.Lz4TestSegments.concat;
import static io.cqlnio.nio.Lz4TestSegments.segment;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Invariant 4 for LZ4 segments: what a hostile or broken peer sends (lying lengths, a corrupt or truncated LZ4
 * block, a decompression bomb, random and mutated bytes) ends in a {@link ProtocolException} that says what was
 * wrong, and the reader sizes nothing from it beyond one payload. And the optional dependency: asking for LZ4
 * without lz4-java says which artifact is missing.
 */
class Lz4HostileSegmentsTest {

    private static final byte[] READY = {(byte) 0x85, 0, 0, 0, 2, 0, 0, 0, 0};

    private static FrameReader reader(int readBuffer) {
        ByteBuffer shared = ByteBuffer.allocateDirect(readBuffer);
        return new FrameReader("lz4-hostile", CqlFrameCodec.INSTANCE, 256 << 20, shared, shared.duplicate());
    }

    private static ProtocolException rejected(byte[] segments) {
        return assertThrows(ProtocolException.class, () -> Lz4SegmentFramingTest.readAll(reader(4096),
                new ScriptedReadChannel(concat(READY, segments), new int[]{READY.length + 3}, true)));
    }

    private static byte[] payload() {
        return bytes(compressibleFrame(1, 2000, false));
    }

    @Test
    void aDeclaredUncompressedLengthThatIsNotWhatDecompressionProducedNamesBothNumbers() {
        byte[] payload = payload();
        byte[] block = compress(payload);
        for (int declared : new int[]{payload.length - 1, payload.length + 1, payload.length + 5000}) {
            ProtocolException e = rejected(segment(block, block.length, declared, true));
            assertTrue(e.getMessage().contains(String.valueOf(declared))
                    && (e.getMessage().contains("decompressed to " + payload.length) || e.getMessage().contains("LZ4")),
                    e.getMessage());
            assertTrue(e.getMessage().contains("lz4-hostile"), e.getMessage());
        }
        // The case the issue names: more declared than the block holds, within the buffer: both numbers.
        ProtocolException e = rejected(segment(block, block.length, payload.length + 1, true));
        assertTrue(e.getMessage().contains("declares " + (payload.length + 1) + " uncompressed bytes")
                && e.getMessage().contains("decompressed to " + payload.length), e.getMessage());
    }

    @Test
    void aTruncatedOrCorruptBlockIsAProtocolError() {
        byte[] block = compress(payload());
        byte[] truncated = Arrays.copyOf(block, block.length / 2);
        ProtocolException t = rejected(segment(truncated, truncated.length, payload().length, true));
        assertTrue(t.getMessage().contains("LZ4") || t.getMessage().contains("decompressed to"), t.getMessage());

        // One literal, then a match 65,535 bytes back: before the start of the output.
        byte[] garbage = {0x10, 'a', (byte) 0xff, (byte) 0xff, 0x50, 'b', 'c', 'd', 'e', 'f'};
        ProtocolException g = rejected(segment(garbage, garbage.length, 100, true));
        assertTrue(g.getMessage().contains("compressed segment"), g.getMessage());

        // An empty block that claims content.
        ProtocolException empty = rejected(segment(new byte[0], 0, 100, true));
        assertTrue(empty.getMessage().contains("compressed segment"), empty.getMessage());
    }

    @Test
    void aDecompressionBombAllocatesNothingBigAndIsRefused() {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean)
                java.lang.management.ManagementFactory.getThreadMXBean();
        byte[] zeros = new byte[16 << 20];                       // 16 MiB of zeros: a block of ~64 KiB
        byte[] block = compress(zeros);
        assertTrue(block.length <= Lz4TestSegments.MAX_PAYLOAD, "the bomb fits in one segment: " + block.length);
        byte[] bomb = segment(block, block.length, Lz4TestSegments.MAX_PAYLOAD, true);
        long before = mx.getThreadAllocatedBytes(Thread.currentThread().getId());
        ProtocolException e = rejected(bomb);
        long allocated = mx.getThreadAllocatedBytes(Thread.currentThread().getId()) - before;
        assertTrue(e.getMessage().contains("does not decompress within " + Lz4TestSegments.MAX_PAYLOAD),
                e.getMessage());
        // The stream itself (the bomb is ~64 KiB) and the exception: far less than what the block would inflate to.
        assertTrue(allocated < 4L << 20, "allocated " + allocated + " bytes reading a bomb");
    }

    @Test
    void corruptCrcsAreRefusedBeforeDecompressing() {
        byte[] good = segment(payload(), true);
        byte[] badHeader = good.clone();
        badHeader[1] ^= 0x01;
        assertTrue(rejected(badHeader).getMessage().contains("compressed segment header CRC24 mismatch"));
        byte[] badPayload = good.clone();
        badPayload[8 + 3] ^= 0x10;
        assertTrue(rejected(badPayload).getMessage().contains("CRC32 mismatch"));
        byte[] badTrailer = good.clone();
        badTrailer[badTrailer.length - 1] ^= 0x01;
        assertTrue(rejected(badTrailer).getMessage().contains("CRC32 mismatch"));
    }

    /**
     * Random segments, and mutations of valid ones with their CRCs made right again so the bytes reach the LZ4
     * decoder: each ends in frames or a ProtocolException, never another exception.
     */
    @Test
    void fuzzedSegmentsEndInFramesOrAProtocolException() throws Exception {
        SplittableRandom random = new SplittableRandom(17);
        byte[] payload = concat(bytes(compressibleFrame(1, 3000, false)), bytes(compressibleFrame(2, 40, false)));
        byte[] block = compress(payload);
        int protocolErrors = 0;
        int delivered = 0;
        for (int round = 0; round < 3000; round++) {
            byte[] segments;
            switch (round % 3) {
                case 0: {    // random bytes, CRCs right, lengths random
                    byte[] body = new byte[random.nextInt(1, 300)];
                    random.nextBytes(body);
                    segments = segment(body, body.length, random.nextInt(0, 1 << 17), random.nextBoolean());
                    break;
                }
                case 1: {    // a valid block with a few bytes changed, CRCs right
                    byte[] mutated = block.clone();
                    for (int m = random.nextInt(1, 4); m > 0; m--) {
                        mutated[random.nextInt(mutated.length)] = (byte) random.nextInt(256);
                    }
                    segments = segment(mutated, mutated.length, payload.length, true);
                    break;
                }
                default: {   // a valid stream with raw bytes flipped anywhere (CRCs then usually wrong)
                    byte[] valid = segment(payload, true);
                    valid[random.nextInt(valid.length)] ^= (byte) (1 << random.nextInt(8));
                    segments = valid;
                }
            }
            try {
                Lz4SegmentFramingTest.readAll(reader(4096), new ScriptedReadChannel(concat(READY, segments),
                        new int[]{READY.length + random.nextInt(1, segments.length)}, true));
                delivered++;
            } catch (ProtocolException expected) {
                protocolErrors++;
            } catch (Throwable other) {
                fail("round " + round + " ended in " + other + " instead of frames or a ProtocolException", other);
            }
        }
        assertTrue(protocolErrors > 1500, protocolErrors + " protocol errors, " + delivered + " delivered");
    }

    @Test
    void withoutLz4JavaTheSwitchNamesTheMissingArtifact() {
        // The platform class loader sees the JDK only: as if lz4-java were not on the class path.
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                () -> Lz4Dependency.require(ClassLoader.getPlatformClassLoader(), getClass().getModule(), "conn#1"));
        assertTrue(e.getMessage().contains("at.yawk.lz4:lz4-java") && e.getMessage().contains("conn#1")
                && e.getMessage().contains("V5_SEGMENTS_LZ4"), e.getMessage());
        assertEquals(ClassNotFoundException.class, e.getCause().getClass());
        // With it on the class path (as in this test), the same check passes.
        Lz4Dependency.require(getClass().getClassLoader(), getClass().getModule(), "conn#2");
    }

    @Test
    void lengthsAreBoundedByTheirFields() {
        List<Integer> bad = List.of(-1, Lz4TestSegments.MAX_PAYLOAD + 1);
        for (int length : bad) {
            assertThrows(IllegalArgumentException.class, () -> io.cqlnio.frame.Lz4Segments.writeHeader(
                    ByteBuffer.allocate(8), 0, length, 0, true));
            assertThrows(IllegalArgumentException.class, () -> io.cqlnio.frame.Lz4Segments.writeHeader(
                    ByteBuffer.allocate(8), 0, 0, length, true));
        }
    }
}
