package io.cqlnio.v5;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Protocol v5 bytes exactly as Cassandra 5.0.9 sent them, to pin the segment codec to the server's.
 *
 * <p>Provenance: captured on 2026-11-26 from the harness's node ({@code cassandra-all} 5.0.9, JDK 17, 127.0.0.1)
 * through {@link RawV5Socket}, a plain blocking socket with no transport in between: STARTUP with a v5 header,
 * the READY below, then one request per self-contained segment built with {@code io.cqlnio.frame.Segments}, and
 * the server's answer read byte for byte. {@code V5CassandraIT#theServerStillSendsTheGoldenBytes} repeats the
 * capture against the live node and compares, so a vector that stops matching the server is noticed there, and
 * {@code GoldenSegmentsTest} checks the codec against these bytes without a node.
 *
 * <p>Only answers whose bytes do not depend on the run are pinned (no connection ids, no timestamps); the ERROR
 * frames the server sends on a CRC mismatch start with a random connection id, so they are matched by pattern in
 * the IT instead.
 */
final class GoldenSegments {

    private GoldenSegments() {
    }

    /** The READY answering STARTUP (v5 header, stream 0): the last frame before segments, itself unwrapped. */
    static final String READY_FRAME = "850000000200000000";

    /** QUERY {@code USE system} on stream 1: RESULT Set_keyspace "system", one self-contained 21-byte segment. */
    static final String USE_SYSTEM_STREAM_1 = "150002b5a441" + "85000001080000000c00000003000673797374656d" + "47fbf9ec";

    /** The same answer on stream 6: same header, another payload, another CRC32. */
    static final String USE_SYSTEM_STREAM_6 = "150002b5a441" + "85000006080000000c00000003000673797374656d" + "23f1d70d";

    /** OPTIONS on stream 2: SUPPORTED {PROTOCOL_VERSIONS, COMPRESSION, CQL_VERSION}, a 111-byte payload. */
    static final String SUPPORTED_STREAM_2 = "6f00020a9b44"
            + "850000020600000066"
            + "0003001150524f544f434f4c5f56455253494f4e5300040004332f76330004342f76340004352f76350009362f76362d62"
            + "657461000b434f4d5052455353494f4e00020006736e6170707900036c7a34000b43514c5f56455253494f4e0001000533"
            + "2e342e37"
            + "41a4c6a3";

    /** The same SUPPORTED on stream 5 (the server's CRC32 differs only through the stream id). */
    static final String SUPPORTED_STREAM_5 = "6f00020a9b44"
            + "850000050600000066"
            + "0003001150524f544f434f4c5f56455253494f4e5300040004332f76330004342f76340004352f76350009362f76362d62"
            + "657461000b434f4d5052455353494f4e00020006736e6170707900036c7a34000b43514c5f56455253494f4e0001000533"
            + "2e342e37"
            + "aaeda19d";

    /** QUERY {@code FOO} on stream 3: ERROR 0x2000 (syntax error), a 68-byte payload. */
    static final String SYNTAX_ERROR_STREAM_3 = "440002a791b0"
            + "85000003000000003b00002000"
            + "00356c696e6520313a30206e6f20766961626c6520616c7465726e617469766520617420696e7075742027464f4f2720285b"
            + "464f4f5d29"
            + "70461ecd";

    /**
     * A frame too large for one segment: {@code SELECT b FROM v5_golden.big WHERE k = 1} on stream 4, where
     * {@code b} holds {@link #bigBlob()}. The server cut the 200,050-byte RESULT frame into two non-self-contained
     * segments with 131,054 and 68,996 payload bytes (its slices stop 17 bytes short of the 131,071 a payload may
     * hold); their headers and trailers are pinned here and the payload is rebuilt by {@link #bigResultFrame()}.
     */
    static final String BIG_SEGMENT_1_HEADER = "eeff018ccc4d";
    static final String BIG_SEGMENT_1_TRAILER = "9ffb8c39";
    static final int BIG_SEGMENT_1_PAYLOAD = 131_054;
    static final String BIG_SEGMENT_2_HEADER = "840d01a7c8af";
    static final String BIG_SEGMENT_2_TRAILER = "26979fff";
    static final int BIG_SEGMENT_2_PAYLOAD = 68_996;
    static final String BIG_KEYSPACE = "v5_golden";
    static final int BIG_BLOB_LENGTH = 200_000;

    /** The blob the big vector selects: byte i is {@code i * 31 + 7}. */
    static byte[] bigBlob() {
        byte[] blob = new byte[BIG_BLOB_LENGTH];
        for (int i = 0; i < blob.length; i++) {
            blob[i] = (byte) (i * 31 + 7);
        }
        return blob;
    }

    /** The whole RESULT Rows frame the server sent for the big vector (v5 body layout, spec 4.2.5.2). */
    static byte[] bigResultFrame() {
        byte[] ks = BIG_KEYSPACE.getBytes(StandardCharsets.US_ASCII);
        byte[] table = "big".getBytes(StandardCharsets.US_ASCII);
        byte[] blob = bigBlob();
        int body = 4 + 4 + 4 + (2 + ks.length) + (2 + table.length) + (2 + 1) + 2 + 4 + 4 + blob.length;
        ByteBuffer f = ByteBuffer.allocate(9 + body);
        f.put((byte) 0x85).put((byte) 0).putShort((short) 4).put((byte) 0x08).putInt(body);
        f.putInt(2);                                              // kind: Rows
        f.putInt(1);                                              // flags: global table spec
        f.putInt(1);                                              // one column
        f.putShort((short) ks.length).put(ks).putShort((short) table.length).put(table);
        f.putShort((short) 1).put((byte) 'b').putShort((short) 0x0003);   // b blob
        f.putInt(1);                                              // one row
        f.putInt(blob.length).put(blob);
        return f.array();
    }

    static byte[] bytes(String hex) {
        return RawV5Socket.unhex(hex);
    }
}
