package io.cqlnio.nio;

import net.jpountz.lz4.LZ4Factory;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.zip.CRC32;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * LZ4 v5 segments built and read independently of the transport: lz4-java's pure-Java instance, the CRC24 bit by
 * bit as Cassandra's {@code Crc.crc24} computes it, and the seeded CRC32 written out here. So a packer or reader
 * that is only consistent with itself (both wrong the same way) fails against these.
 */
final class Lz4TestSegments {

    static final int MAX_PAYLOAD = (1 << 17) - 1;
    private static final byte[] SEED = {(byte) 0xFA, (byte) 0x2D, (byte) 0x55, (byte) 0xCA};

    private Lz4TestSegments() {
    }

    /** One decoded compressed segment. */
    record Segment(int start, int end, int compressedLength, int uncompressedLength, boolean selfContained,
                   byte[] payload) {
        boolean stored() {
            return uncompressedLength == 0;
        }
    }

    /** A decoded stream: frames before the switch, the segments, and the frames their payloads carry. */
    record Decoded(List<byte[]> plainFrames, List<Segment> segments, List<byte[]> frames, List<Long> frameSegmentEnds) {
    }

    /** Bit-at-a-time CRC24 (polynomial 0x1974F0B, initial 0x875060), bytes least significant first. */
    static int crc24(long bytes, int length) {
        int crc = 0x875060;
        for (int i = 0; i < length; i++) {
            crc ^= (int) ((bytes >>> (8 * i)) & 0xff) << 16;
            for (int bit = 0; bit < 8; bit++) {
                crc <<= 1;
                if ((crc & 0x1000000) != 0) {
                    crc ^= 0x1974F0B;
                }
            }
        }
        return crc & 0xffffff;
    }

    static int crc32(byte[] b, int offset, int length) {
        CRC32 crc = new CRC32();
        crc.update(SEED);
        crc.update(b, offset, length);
        return (int) crc.getValue();
    }

    /**
     * A segment as Cassandra's encoder writes it, with room to lie: {@code payloadOnWire} goes out as is,
     * the header says {@code compressedLength} and {@code uncompressedLength}, both CRCs are right.
     */
    static byte[] segment(byte[] payloadOnWire, int compressedLength, int uncompressedLength, boolean selfContained) {
        long header5b = (compressedLength & 0x1FFFFL) | (uncompressedLength & 0x1FFFFL) << 17
                | (selfContained ? 1L << 34 : 0);
        long header8b = header5b | (long) crc24(header5b, 5) << 40;
        ByteBuffer b = ByteBuffer.allocate(8 + payloadOnWire.length + 4);
        for (int i = 0; i < 8; i++) {
            b.put((byte) (header8b >>> (8 * i)));
        }
        b.put(payloadOnWire);
        int crc = crc32(payloadOnWire, 0, payloadOnWire.length);
        b.put((byte) crc).put((byte) (crc >>> 8)).put((byte) (crc >>> 16)).put((byte) (crc >>> 24));
        return b.array();
    }

    /** An honest segment around {@code payload}: compressed if that makes it shorter, else stored. */
    static byte[] segment(byte[] payload, boolean selfContained) {
        byte[] compressed = compress(payload);
        return compressed.length < payload.length
                ? segment(compressed, compressed.length, payload.length, selfContained)
                : segment(payload, payload.length, 0, selfContained);
    }

    static byte[] compress(byte[] payload) {
        return LZ4Factory.safeInstance().fastCompressor().compress(payload);
    }

    /** {@code plainCount} bare frames, then LZ4 segments to the end; every check of the format asserted. */
    static Decoded decode(byte[] stream, int plainCount) {
        ByteBuffer b = ByteBuffer.wrap(stream);
        List<byte[]> plain = new ArrayList<>();
        for (int i = 0; i < plainCount; i++) {
            byte[] f = new byte[9 + b.getInt(b.position() + 5)];
            b.get(f);
            plain.add(f);
        }
        List<Segment> segments = new ArrayList<>();
        ByteArrayOutputStream payloads = new ByteArrayOutputStream();
        List<Long> payloadEnds = new ArrayList<>();
        while (b.hasRemaining()) {
            int start = b.position();
            long header8b = 0;
            for (int i = 0; i < 8; i++) {
                header8b |= (b.get() & 0xffL) << (8 * i);
            }
            long header5b = header8b & 0xff_ffff_ffffL;
            assertEquals(crc24(header5b, 5), (int) (header8b >>> 40), "CRC24 of the header at " + start);
            int compressedLength = (int) (header5b & 0x1FFFF);
            int uncompressedLength = (int) ((header5b >>> 17) & 0x1FFFF);
            boolean selfContained = (header5b & (1L << 34)) != 0;
            assertEquals(0, header5b >>> 35, "padding bits at " + start);
            byte[] onWire = new byte[compressedLength];
            b.get(onWire);
            int trailer = (b.get() & 0xff) | (b.get() & 0xff) << 8 | (b.get() & 0xff) << 16 | (b.get() & 0xff) << 24;
            assertEquals(crc32(onWire, 0, onWire.length), trailer, "CRC32 over the payload as sent, at " + start);
            byte[] payload = onWire;
            if (uncompressedLength != 0) {
                payload = LZ4Factory.safeInstance().safeDecompressor().decompress(onWire, uncompressedLength);
                assertEquals(uncompressedLength, payload.length);
                // Cassandra sends stored what does not shrink: a compressed payload is always the shorter one.
                assertEquals(true, compressedLength < uncompressedLength, "compressed but not shorter at " + start);
            }
            segments.add(new Segment(start, b.position(), compressedLength, uncompressedLength, selfContained, payload));
            payloads.writeBytes(payload);
            payloadEnds.add((long) payloads.size());
        }
        List<byte[]> frames = new ArrayList<>();
        List<Long> frameSegmentEnds = new ArrayList<>();
        ByteBuffer p = ByteBuffer.wrap(payloads.toByteArray());
        while (p.hasRemaining()) {
            byte[] f = new byte[9 + p.getInt(p.position() + 5)];
            p.get(f);
            frames.add(f);
            int s = 0;
            while (payloadEnds.get(s) < p.position()) {
                s++;
            }
            frameSegmentEnds.add((long) segments.get(s).end());
        }
        return new Decoded(plain, segments, frames, frameSegmentEnds);
    }

    /** A v4-shaped request frame whose body compresses well (text that repeats with variations). */
    static ByteBuffer compressibleFrame(int stream, int bodyLength, boolean direct) {
        byte[] body = new byte[bodyLength];
        byte[] text = ("INSERT INTO ks.t (k, v) VALUES (" + stream + ", 'the quick brown fox') ").getBytes();
        for (int i = 0; i < bodyLength; i++) {
            body[i] = text[i % text.length];
        }
        if (bodyLength > 16) {
            body[bodyLength / 2] = (byte) stream;   // not wholly periodic
        }
        return frame(stream, body, direct);
    }

    /** A frame whose body is random: LZ4 cannot shrink it, so its segment goes out stored. */
    static ByteBuffer randomFrame(int stream, int bodyLength, long seed, boolean direct) {
        byte[] body = new byte[bodyLength];
        new SplittableRandom(seed).nextBytes(body);
        return frame(stream, body, direct);
    }

    static ByteBuffer frame(int stream, byte[] body, boolean direct) {
        ByteBuffer b = direct ? ByteBuffer.allocateDirect(9 + body.length) : ByteBuffer.allocate(9 + body.length);
        b.put((byte) 0x04).put((byte) 0).putShort((short) stream).put((byte) 0x07).putInt(body.length).put(body);
        return b.flip();
    }

    static byte[] bytes(ByteBuffer f) {
        byte[] b = new byte[f.remaining()];
        f.duplicate().get(b);
        return b;
    }

    static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        byte[] all = Arrays.copyOf(parts[0], n);
        int at = parts[0].length;
        for (int i = 1; i < parts.length; i++) {
            System.arraycopy(parts[i], 0, all, at, parts[i].length);
            at += parts[i].length;
        }
        return all;
    }
}
