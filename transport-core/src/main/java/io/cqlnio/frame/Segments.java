package io.cqlnio.frame;

import io.cqlnio.spi.ProtocolException;

import java.nio.ByteBuffer;
import java.util.zip.CRC32;

/**
 * Protocol v5 segment framing (Cassandra 4.0+), uncompressed: after READY every byte on the connection is a
 * sequence of segments, each
 * <pre>
 *   header  6 bytes, little-endian: payload length (17 bits) | self-contained flag (bit 17) | 6 bits padding,
 *           then a CRC24 of those 3 bytes (3 bytes)
 *   payload up to 128 KiB - 1 bytes: whole frames (self-contained) or one slice of one large frame
 *   trailer 4 bytes, little-endian: CRC32 of the payload, seeded with the bytes FA 2D 55 CA
 * </pre>
 * The CRC24 uses the polynomial 0x1974F0B and the initial value 0x875060, reading the header's bytes least
 * significant first, as the server does. Stateless helpers; thread-safe.
 *
 * <pre>{@code
 * ByteBuffer header = ByteBuffer.allocate(Segments.HEADER_LENGTH);
 * Segments.writeHeader(header, 0, payloadLength, true);
 * CRC32 crc = Segments.newCrc32();
 * crc.update(payload.duplicate());
 * ByteBuffer trailer = ByteBuffer.allocate(Segments.TRAILER_LENGTH);
 * Segments.writeTrailer(trailer, 0, (int) crc.getValue());
 * }</pre>
 */
public final class Segments {

    /** Bytes of a segment header. */
    public static final int HEADER_LENGTH = 6;
    /** Bytes of a segment trailer (the payload's CRC32). */
    public static final int TRAILER_LENGTH = 4;
    /** The largest payload one segment carries: 128 KiB - 1. */
    public static final int MAX_PAYLOAD = (1 << 17) - 1;

    private static final int CRC24_INIT = 0x875060;
    private static final int CRC24_POLY = 0x1974F0B;
    private static final byte[] CRC32_SEED = {(byte) 0xFA, (byte) 0x2D, (byte) 0x55, (byte) 0xCA};
    private static final int[] CRC24_TABLE = crc24Table();

    private Segments() {
    }

    /** {@return a CRC32 already fed the seed bytes; feed it the payload, then take {@code (int) getValue()}} */
    public static CRC32 newCrc32() {
        CRC32 crc = new CRC32();
        crc.update(CRC32_SEED);
        return crc;
    }

    /**
     * Resets {@code crc} to the seeded state, to reuse one instance without allocating.
     *
     * @param crc a CRC32 owned by the caller's thread
     */
    public static void reset(CRC32 crc) {
        crc.reset();
        crc.update(CRC32_SEED);
    }

    /**
     * @param header3b the header's first 3 bytes as an int, least significant byte first
     * @return the CRC24 of those 3 bytes, in the low 24 bits
     */
    public static int crc24(int header3b) {
        return crc24(header3b & 0xffffffL, 3);
    }

    /**
     * The CRC24 over the low {@code length} bytes of {@code bytes}, least significant byte first: 3 bytes for an
     * uncompressed segment's header, 5 for a compressed one's ({@link Lz4Segments}).
     *
     * @param bytes  the header's bytes as a long, least significant byte first
     * @param length how many of them, 1..8
     * @return the CRC24, in the low 24 bits
     */
    public static int crc24(long bytes, int length) {
        int crc = CRC24_INIT;
        for (int i = 0; i < length; i++) {
            int b = (int) (bytes >>> (8 * i)) & 0xff;
            crc = ((crc << 8) ^ CRC24_TABLE[((crc >>> 16) ^ b) & 0xff]) & 0xffffff;
        }
        return crc;
    }

    /**
     * Writes a segment header at absolute {@code index}; the buffer's position does not move.
     *
     * @param dst           has at least {@link #HEADER_LENGTH} bytes from {@code index}
     * @param index         absolute index of the header's first byte
     * @param payloadLength 0..{@link #MAX_PAYLOAD}
     * @param selfContained whether the payload is whole frames (else one slice of one large frame)
     * @throws IllegalArgumentException when {@code payloadLength} is out of range
     */
    public static void writeHeader(ByteBuffer dst, int index, int payloadLength, boolean selfContained) {
        if (payloadLength < 0 || payloadLength > MAX_PAYLOAD) {
            throw new IllegalArgumentException("segment payload length " + payloadLength + " is outside 0.."
                    + MAX_PAYLOAD);
        }
        int header3b = payloadLength | (selfContained ? 1 << 17 : 0);
        put3(dst, index, header3b);
        put3(dst, index + 3, crc24(header3b));
    }

    /**
     * Writes a trailer (the payload's CRC32, little-endian) at absolute {@code index}; the position does not move.
     *
     * @param dst   has at least {@link #TRAILER_LENGTH} bytes from {@code index}
     * @param index absolute index of the trailer's first byte
     * @param crc32 the payload's seeded CRC32, {@code (int) crc.getValue()}
     */
    public static void writeTrailer(ByteBuffer dst, int index, int crc32) {
        dst.put(index, (byte) crc32);
        dst.put(index + 1, (byte) (crc32 >>> 8));
        dst.put(index + 2, (byte) (crc32 >>> 16));
        dst.put(index + 3, (byte) (crc32 >>> 24));
    }

    /**
     * Validates the header at absolute {@code index} and returns its first 3 bytes (payload length in the low
     * 17 bits, self-contained flag in bit 17).
     *
     * @param src   has at least {@link #HEADER_LENGTH} bytes from {@code index}
     * @param index absolute index of the header's first byte
     * @return the header's first 3 bytes, for {@link #payloadLength} and {@link #isSelfContained}
     * @throws ProtocolException naming both CRC24 values when the header is corrupt
     */
    public static int readHeader(ByteBuffer src, int index) {
        int header3b = get3(src, index);
        int read = get3(src, index + 3);
        int computed = crc24(header3b);
        if (read != computed) {
            throw new ProtocolException(String.format("segment header CRC24 mismatch: read 0x%06x, computed 0x%06x"
                    + " over header bytes 0x%06x", read, computed, header3b));
        }
        return header3b;
    }

    /**
     * @param header3b a header read by {@link #readHeader}
     * @return its payload length
     */
    public static int payloadLength(int header3b) {
        return header3b & MAX_PAYLOAD;
    }

    /**
     * @param header3b a header read by {@link #readHeader}
     * @return its self-contained flag
     */
    public static boolean isSelfContained(int header3b) {
        return (header3b & (1 << 17)) != 0;
    }

    /**
     * @param src   has at least {@link #TRAILER_LENGTH} bytes from {@code index}
     * @param index absolute index of the trailer's first byte
     * @return the trailer's CRC32 as an int
     */
    public static int readTrailer(ByteBuffer src, int index) {
        return (src.get(index) & 0xff) | (src.get(index + 1) & 0xff) << 8 | (src.get(index + 2) & 0xff) << 16
                | (src.get(index + 3) & 0xff) << 24;
    }

    private static void put3(ByteBuffer dst, int index, int value) {
        dst.put(index, (byte) value);
        dst.put(index + 1, (byte) (value >>> 8));
        dst.put(index + 2, (byte) (value >>> 16));
    }

    private static int get3(ByteBuffer src, int index) {
        return (src.get(index) & 0xff) | (src.get(index + 1) & 0xff) << 8 | (src.get(index + 2) & 0xff) << 16;
    }

    /** Byte-at-a-time table for the MSB-first CRC24 register: the same result as shifting bit by bit. */
    private static int[] crc24Table() {
        int[] table = new int[256];
        for (int b = 0; b < 256; b++) {
            int crc = b << 16;
            for (int i = 0; i < 8; i++) {
                crc <<= 1;
                if ((crc & 0x1000000) != 0) {
                    crc ^= CRC24_POLY;
                }
            }
            table[b] = crc & 0xffffff;
        }
        return table;
    }
}
