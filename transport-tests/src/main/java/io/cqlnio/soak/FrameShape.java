package io.cqlnio.soak;

import java.nio.ByteBuffer;

/**
 * What frame number {@code seq} of a connection looks like, computed from the connection's seed and {@code seq}
 * alone, so the echo of any frame can be checked byte for byte without keeping a copy of what was written.
 *
 * <p>A frame is a CQL v4 request header (version 4, stream {@code seq & 0x7fff}, opcode QUERY, body length) and a
 * body of pseudo-random words unique to (seed, seq): a frame from another connection, or the same connection's
 * previous or next frame, fails the check. Sizes (header included) are skewed small: 70 % between 64 B and 1 KiB,
 * 25 % up to 16 KiB, 5 % up to 256 KiB, log-uniform within each band.
 */
final class FrameShape {

    static final int HEADER_LENGTH = 9;
    static final int MIN_LENGTH = 64;
    static final int MAX_LENGTH = 256 * 1024;
    /** {@link #verify} found the frame as written. */
    static final int OK = -1;

    private static final long GOLDEN = 0x9E3779B97F4A7C15L;
    private static final byte VERSION = 4;
    private static final byte OPCODE_QUERY = 7;

    private FrameShape() {
    }

    /** {@return the total length, header included, of frame {@code seq} of the connection seeded {@code seed}} */
    static int length(long seed, long seq) {
        long h = mix(seed ^ (seq * GOLDEN));
        int band = (int) ((h & 0xffff) * 100 >>> 16);                 // 0..99
        double within = (h >>> 32) * 0x1.0p-32;                          // 0..1
        int lo;
        int hi;
        if (band < 70) {
            lo = MIN_LENGTH;
            hi = 1024;
        } else if (band < 95) {
            lo = 1024;
            hi = 16 * 1024;
        } else {
            lo = 16 * 1024;
            hi = MAX_LENGTH;
        }
        return Math.min(hi, (int) (lo * Math.pow((double) hi / lo, within)));
    }

    /** Writes frame {@code seq} into {@code into} from index 0 and flips it to that frame's bytes. */
    static void fill(ByteBuffer into, long seed, long seq) {
        int length = length(seed, seq);
        into.clear();
        into.put(VERSION).put((byte) 0).putShort(stream(seq)).put(OPCODE_QUERY).putInt(length - HEADER_LENGTH);
        long state = bodySeed(seed, seq);
        while (into.position() + Long.BYTES <= length) {
            state += GOLDEN;
            into.putLong(mix(state));
        }
        long last = mix(state + GOLDEN);
        for (int shift = 56; into.position() < length; shift -= 8) {
            into.put((byte) (last >>> shift));
        }
        into.flip();
    }

    /**
     * Compares {@code frame} (position to limit, not moved) with frame {@code seq}.
     *
     * @return {@link #OK}, or the offset of the first byte that differs ({@code frame.remaining()} if only the
     *         lengths differ)
     */
    static int verify(ByteBuffer frame, long seed, long seq) {
        int length = length(seed, seq);
        int base = frame.position();
        if (frame.remaining() != length) {
            return Math.min(frame.remaining(), length);
        }
        int bodyLength = length - HEADER_LENGTH;
        long head = (long) VERSION << 56 | (stream(seq) & 0xffffL) << 32 | (long) OPCODE_QUERY << 24 | bodyLength >>> 8;
        long actualHead = frame.getLong(base);
        if (actualHead != head) {
            return Long.numberOfLeadingZeros(actualHead ^ head) / Byte.SIZE;
        }
        if (frame.get(base + Long.BYTES) != (byte) bodyLength) {
            return Long.BYTES;
        }
        long state = bodySeed(seed, seq);
        int i = HEADER_LENGTH;
        for (; i + Long.BYTES <= length; i += Long.BYTES) {
            state += GOLDEN;
            long expected = mix(state);
            long actual = frame.getLong(base + i);
            if (actual != expected) {
                return i + Long.numberOfLeadingZeros(actual ^ expected) / Byte.SIZE;   // big-endian: high byte first
            }
        }
        long last = mix(state + GOLDEN);
        for (int shift = 56; i < length; i++, shift -= 8) {
            if (frame.get(base + i) != (byte) (last >>> shift)) {
                return i;
            }
        }
        return OK;
    }

    static short stream(long seq) {
        return (short) (seq & 0x7fff);
    }

    private static long bodySeed(long seed, long seq) {
        return mix(seed + GOLDEN) ^ mix(seq);
    }

    /** SplitMix64's finaliser: every input bit reaches every output bit. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
