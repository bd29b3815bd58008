package io.cqlnio.frame;

import io.cqlnio.spi.ProtocolException;

import java.nio.ByteBuffer;

/**
 * Protocol v5 segment framing with LZ4 (STARTUP {@code COMPRESSION: lz4}), as Cassandra 4.0+ writes it: every
 * segment is
 * <pre>
 *   header  8 bytes, little-endian: compressed length (17 bits) | uncompressed length (17 bits)
 *           | self-contained flag (bit 34) | 5 bits padding, then a CRC24 of those 5 bytes (3 bytes)
 *   payload compressed length bytes: one raw LZ4 block (no LZ4 frame header), or, when the uncompressed
 *           length is 0, the payload itself stored as is (compressing did not make it shorter)
 *   trailer 4 bytes, little-endian: CRC32 of the payload bytes as sent (compressed, or stored), seeded as in
 *           {@link Segments}
 * </pre>
 * Both lengths are at most {@link Segments#MAX_PAYLOAD} by the width of their fields. The CRC24 is
 * {@link Segments#crc24(long, int)} over 5 bytes. Stateless helpers; thread-safe. The trailer is written and read
 * with {@link Segments#writeTrailer} and {@link Segments#readTrailer}.
 */
public final class Lz4Segments {

    /** Bytes of a compressed segment's header. */
    public static final int HEADER_LENGTH = 8;

    private static final int SELF_CONTAINED_BIT = 34;

    private Lz4Segments() {
    }

    /**
     * Writes a header at absolute {@code index}; the buffer's position does not move.
     *
     * @param dst                has at least {@link #HEADER_LENGTH} bytes from {@code index}
     * @param index              absolute index of the header's first byte
     * @param compressedLength   payload bytes on the wire, 0..{@link Segments#MAX_PAYLOAD}
     * @param uncompressedLength the payload's length once decompressed, or 0 when it is stored uncompressed
     * @param selfContained      whether the payload is whole frames (else one slice of one large frame)
     * @throws IllegalArgumentException when a length is out of range
     */
    public static void writeHeader(ByteBuffer dst, int index, int compressedLength, int uncompressedLength,
                                   boolean selfContained) {
        check("compressed", compressedLength);
        check("uncompressed", uncompressedLength);
        long header5b = compressedLength | (long) uncompressedLength << 17
                | (selfContained ? 1L << SELF_CONTAINED_BIT : 0);
        long header8b = header5b | (long) Segments.crc24(header5b, 5) << 40;
        for (int i = 0; i < HEADER_LENGTH; i++) {
            dst.put(index + i, (byte) (header8b >>> (8 * i)));
        }
    }

    /**
     * Validates the header at absolute {@code index} (its CRC24) and returns its first 5 bytes.
     *
     * @param src   has at least {@link #HEADER_LENGTH} bytes from {@code index}
     * @param index absolute index of the header's first byte
     * @return the header's first 5 bytes, for {@link #compressedLength}, {@link #uncompressedLength} and
     *         {@link #isSelfContained}
     * @throws ProtocolException naming both CRC24 values when the header is corrupt
     */
    public static long readHeader(ByteBuffer src, int index) {
        long header8b = 0;
        for (int i = 0; i < HEADER_LENGTH; i++) {
            header8b |= (src.get(index + i) & 0xffL) << (8 * i);
        }
        long header5b = header8b & 0xff_ffff_ffffL;
        int read = (int) (header8b >>> 40);
        int computed = Segments.crc24(header5b, 5);
        if (read != computed) {
            throw new ProtocolException(String.format("compressed segment header CRC24 mismatch: read 0x%06x,"
                    + " computed 0x%06x over header bytes 0x%010x", read, computed, header5b));
        }
        return header5b;
    }

    /**
     * @param header5b a header read by {@link #readHeader}
     * @return the payload's length on the wire
     */
    public static int compressedLength(long header5b) {
        return (int) header5b & Segments.MAX_PAYLOAD;
    }

    /**
     * @param header5b a header read by {@link #readHeader}
     * @return the payload's length once decompressed, or 0 for a payload stored uncompressed
     */
    public static int uncompressedLength(long header5b) {
        return (int) (header5b >>> 17) & Segments.MAX_PAYLOAD;
    }

    /**
     * @param header5b a header read by {@link #readHeader}
     * @return its self-contained flag
     */
    public static boolean isSelfContained(long header5b) {
        return (header5b & 1L << SELF_CONTAINED_BIT) != 0;
    }

    private static void check(String which, int length) {
        if (length < 0 || length > Segments.MAX_PAYLOAD) {
            throw new IllegalArgumentException(which + " segment length " + length + " is outside 0.."
                    + Segments.MAX_PAYLOAD);
        }
    }
}
