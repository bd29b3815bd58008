package io.cqlnio.v5;

import io.cqlnio.frame.Lz4Segments;
import io.cqlnio.frame.Segments;
import net.jpountz.lz4.LZ4Factory;

import java.nio.ByteBuffer;
import java.util.zip.CRC32;

/**
 * LZ4 v5 segments for raw-socket tests, built the way Cassandra's {@code FrameEncoderLZ4} builds them (the fast
 * compressor of lz4-java's fastest instance; stored when compressing does not shrink the payload; CRC32 over the
 * payload as sent), and a few deliberately wrong ones, to see what the server does with them.
 */
final class Lz4RawSegments {

    private Lz4RawSegments() {
    }

    /** An honest segment around {@code payload}. */
    static byte[] segment(byte[] payload, boolean selfContained) {
        byte[] compressed = LZ4Factory.fastestInstance().fastCompressor().compress(payload);
        return compressed.length < payload.length
                ? build(compressed, payload.length, selfContained, crc32(compressed))
                : build(payload, 0, selfContained, crc32(payload));
    }

    /** A compressed segment whose CRC32 covers the uncompressed bytes: the mistake a reader of the spec can make. */
    static byte[] crcOverUncompressed(byte[] payload) {
        byte[] compressed = LZ4Factory.fastestInstance().fastCompressor().compress(payload);
        if (compressed.length >= payload.length) {
            throw new IllegalArgumentException("the payload must compress for this mistake to show");
        }
        return build(compressed, payload.length, true, crc32(payload));
    }

    private static byte[] build(byte[] onWire, int uncompressedLength, boolean selfContained, int crc32) {
        ByteBuffer b = ByteBuffer.allocate(Lz4Segments.HEADER_LENGTH + onWire.length + Segments.TRAILER_LENGTH);
        Lz4Segments.writeHeader(b, 0, onWire.length, uncompressedLength, selfContained);
        b.position(Lz4Segments.HEADER_LENGTH);
        b.put(onWire);
        Segments.writeTrailer(b, b.position(), crc32);
        return b.array();
    }

    static int crc32(byte[] bytes) {
        CRC32 crc = Segments.newCrc32();
        crc.update(bytes);
        return (int) crc.getValue();
    }

    /** The frames' bytes a whole segment carries: its payload, decompressed when it is compressed. */
    static byte[] payload(byte[] segment) {
        ByteBuffer b = ByteBuffer.wrap(segment);
        long header5b = Lz4Segments.readHeader(b, 0);
        int length = Lz4Segments.compressedLength(header5b);
        int uncompressed = Lz4Segments.uncompressedLength(header5b);
        byte[] onWire = java.util.Arrays.copyOfRange(segment, Lz4Segments.HEADER_LENGTH,
                Lz4Segments.HEADER_LENGTH + length);
        if (Segments.readTrailer(b, Lz4Segments.HEADER_LENGTH + length) != crc32(onWire)) {
            throw new AssertionError("the CRC32 of the payload as sent does not match its trailer");
        }
        return uncompressed == 0 ? onWire
                : LZ4Factory.safeInstance().safeDecompressor().decompress(onWire, uncompressed);
    }
}
