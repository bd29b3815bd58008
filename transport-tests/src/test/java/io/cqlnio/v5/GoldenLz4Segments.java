package io.cqlnio.v5;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

/**
 * Protocol v5 LZ4 segments exactly as Cassandra 5.0.9 sent them after a STARTUP with {@code COMPRESSION: lz4}, to
 * pin {@code io.cqlnio.frame.Lz4Segments} and the LZ4 read path to the server's {@code FrameEncoderLZ4}.
 *
 * <p>Provenance: captured on 2026-12-06 from the harness's node ({@code cassandra-all} 5.0.9, its lz4-java, JDK 17,
 * 127.0.0.1) through {@link RawV5Socket}, a plain blocking socket with no transport in between: STARTUP with a v5
 * header and {@code COMPRESSION: lz4}, the READY below (itself a bare frame), then one request per segment built by
 * {@link Lz4RawSegments}, and the server's answer read byte for byte. {@code V5Lz4CassandraIT#theServerStillSendsTheGoldenLz4Bytes}
 * repeats the capture against the live node and compares; {@code GoldenLz4SegmentsTest} checks the codec against
 * these bytes without a node.
 *
 * <p>What they show: small answers go out stored (uncompressed length 0: LZ4 would not shrink them); a compressible
 * answer goes out as one raw LZ4 block; a frame over one payload is cut into non-self-contained segments each
 * compressed on its own; random bytes over one payload go out as stored slices; every trailer is the seeded
 * CRC32 of the payload as sent.
 */
final class GoldenLz4Segments {

    private GoldenLz4Segments() {
    }

    static final String KEYSPACE = "v5_golden_lz4";

    /** The READY answering STARTUP with COMPRESSION lz4: a bare v5 frame, not compressed. */
    static final String READY_FRAME = "850000000200000000";

    /** QUERY {@code USE system} on stream 1: RESULT Set_keyspace "system" (21 bytes), stored. */
    static final String USE_SYSTEM_STREAM_1 = "15000000046c90aa85000001080000000c00000003000673797374656d47fbf9ec";

    /** OPTIONS on stream 2: SUPPORTED (111 bytes), compressed to 107: compressed, as it shrank. */
    static final String SUPPORTED_STREAM_2 = "6b00de000448b3dff0378500000206000000660003001150524f544f434f4c5f56455253494f4e5300040004332f76330004"
            + "342f76340004352f76350009362f76362d62657461000b434f4d505245532d00f50400020006736e6170707900036c7a3400"
            + "0b435149009000010005332e342e37255d909f";

    /** QUERY {@code FOO} on stream 3: ERROR 0x2000 (68 bytes). */
    static final String SYNTAX_ERROR_STREAM_3 = "4400000004f9a1d785000003000000003b0000200000356c696e6520313a30206e6f20766961626c6520616c7465726e6174"
            + "69766520617420696e7075742027464f4f2720285b464f4f5d2970461ecd";

    /** {@code SELECT b FROM v5_golden_lz4.pattern WHERE k = 1} on stream 4: a compressible RESULT in one segment. */
    static final String PATTERN_STREAM_4 = "9001b49c0498daa6f102850000040800004e5100000002000000010400f10d0d76355f676f6c64656e5f6c7a340007706174"
            + "7465726e00016200032100fff4004e200726456483a2c1e0ff1e3d5c7b9ab9d8f71635547392b1d0ef0e2d4c6b8aa9c8e706"
            + "25446382a1c0dffe1d3c5b7a99b8d7f61534537291b0cfee0d2c4b6a89a8c7e60524436281a0bfdefd1c3b5a7998b7d6f514"
            + "33527190afceed0c2b4a6988a7c6e504234261809fbeddfc1b3a597897b6d5f4133251708faecdec0b2a496887a6c5e40322"
            + "41607f9ebddcfb1a39587796b5d4f31231506f8eadcceb0a29486786a5c4e30221405f7e9dbcdbfa1938577695b4d3f21130"
            + "4f6e8daccbea0928476685a4c3e201203f5e7d9cbbdaf91837567594b3d2f1102f4e6d8cabcae90827466584a3c2e1001f3e"
            + "5d7c9bbad9f81736557493b2d1f00f2e4d6c8baac9e80001ffffffffffffffffffffffffffffffffffffffffffffffffffff"
            + "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            + "ff55504c6b8aa9c8b15ff052";
    static final int PATTERN_BLOB_LENGTH = 20_000;

    /**
     * {@code SELECT b FROM v5_golden_lz4.big WHERE k = 1} on stream 5: a compressible 200,054-byte RESULT in two
     * non-self-contained compressed segments, pinned whole.
     */
    static final String BIG_SEGMENT_1 = "3f03e8ff03fb1c4bf102850000050800030d6d00000002000000010400f1090d76355f676f6c64656e5f6c7a340003626967"
            + "00016200031d00fff4030d400726456483a2c1e0ff1e3d5c7b9ab9d8f71635547392b1d0ef0e2d4c6b8aa9c8e70625446382"
            + "a1c0dffe1d3c5b7a99b8d7f61534537291b0cfee0d2c4b6a89a8c7e60524436281a0bfdefd1c3b5a7998b7d6f51433527190"
            + "afceed0c2b4a6988a7c6e504234261809fbeddfc1b3a597897b6d5f4133251708faecdec0b2a496887a6c5e4032241607f9e"
            + "bddcfb1a39587796b5d4f31231506f8eadcceb0a29486786a5c4e30221405f7e9dbcdbfa1938577695b4d3f211304f6e8dac"
            + "cbea0928476685a4c3e201203f5e7d9cbbdaf91837567594b3d2f1102f4e6d8cabcae90827466584a3c2e1001f3e5d7c9bba"
            + "d9f81736557493b2d1f00f2e4d6c8baac9e80001ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            + "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            + "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            + "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            + "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            + "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            + "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            + "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            + "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            + "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            + "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa6506e8daccbeab413e00e";
    static final String BIG_SEGMENT_2 = "1802041b02b11462fff10928476685a4c3e201203f5e7d9cbbdaf91837567594b3d2f1102f4e6d8cabcae90827466584a3c2"
            + "e1001f3e5d7c9bbad9f81736557493b2d1f00f2e4d6c8baac9e80726456483a2c1e0ff1e3d5c7b9ab9d8f71635547392b1d0"
            + "ef0e2d4c6b8aa9c8e70625446382a1c0dffe1d3c5b7a99b8d7f61534537291b0cfee0d2c4b6a89a8c7e60524436281a0bfde"
            + "fd1c3b5a7998b7d6f51433527190afceed0c2b4a6988a7c6e504234261809fbeddfc1b3a597897b6d5f4133251708faecdec"
            + "0b2a496887a6c5e4032241607f9ebddcfb1a39587796b5d4f31231506f8eadcceb0a29486786a5c4e30221405f7e9dbcdbfa"
            + "1938577695b4d3f211304f6e8daccbea0001ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            + "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            + "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            + "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            + "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
            + "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff77502c4b6a89a84ba16b83";
    static final int BIG_BLOB_LENGTH = 200_000;

    /**
     * {@code SELECT b FROM v5_golden_lz4.random WHERE k = 1} on stream 6: a random 200,000-byte blob, whose
     * 200,057-byte RESULT goes out in two stored slices (131,060 and 68,997 bytes: the server's slices stop short
     * of 131,071); headers and trailers pinned, payloads rebuilt by {@link #resultFrame}.
     */
    static final String RANDOM_SEGMENT_1_HEADER = "f4ff01000060313e";
    static final String RANDOM_SEGMENT_1_TRAILER = "6e9b0bce";
    static final String RANDOM_SEGMENT_2_HEADER = "850d010000edbefb";
    static final String RANDOM_SEGMENT_2_TRAILER = "0ba02c2a";

    /** A blob that compresses well: byte i is {@code i * 31 + 7} (period 256). */
    static byte[] patternBlob(int length) {
        byte[] blob = new byte[length];
        for (int i = 0; i < blob.length; i++) {
            blob[i] = (byte) (i * 31 + 7);
        }
        return blob;
    }

    /** A blob LZ4 cannot shrink: SplittableRandom(5009) bytes. */
    static byte[] randomBlob() {
        byte[] blob = new byte[BIG_BLOB_LENGTH];
        new SplittableRandom(5009).nextBytes(blob);
        return blob;
    }

    /** The RESULT Rows frame the server sends for {@code SELECT b FROM KEYSPACE.table WHERE k = 1} on {@code stream}. */
    static byte[] resultFrame(int stream, String table, byte[] blob) {
        byte[] ks = KEYSPACE.getBytes(StandardCharsets.US_ASCII);
        byte[] t = table.getBytes(StandardCharsets.US_ASCII);
        int body = 4 + 4 + 4 + (2 + ks.length) + (2 + t.length) + (2 + 1) + 2 + 4 + 4 + blob.length;
        ByteBuffer f = ByteBuffer.allocate(9 + body);
        f.put((byte) 0x85).put((byte) 0).putShort((short) stream).put((byte) 0x08).putInt(body);
        f.putInt(2);                                              // kind: Rows
        f.putInt(1);                                              // flags: global table spec
        f.putInt(1);                                              // one column
        f.putShort((short) ks.length).put(ks).putShort((short) t.length).put(t);
        f.putShort((short) 1).put((byte) 'b').putShort((short) 0x0003);   // b blob
        f.putInt(1);                                              // one row
        f.putInt(blob.length).put(blob);
        return f.array();
    }
}
