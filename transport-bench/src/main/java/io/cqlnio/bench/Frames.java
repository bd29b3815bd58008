package io.cqlnio.bench;

import java.nio.ByteBuffer;

/** CQL-shaped benchmark frames: the 9-byte v4 header (QUERY opcode) and a patterned body. */
final class Frames {

    static final int HEADER_LENGTH = 9;
    static final byte VERSION_V4_REQUEST = 0x04;
    static final byte OPCODE_QUERY = 0x07;

    private Frames() {
    }

    /** A direct buffer holding one whole frame of {@code bodySize} body bytes, position 0, limit its length. */
    static ByteBuffer newFrame(int streamId, int bodySize) {
        return newFrame(streamId, bodySize, false);
    }

    /**
     * As {@link #newFrame(int, int)}; the body is the alphabet over and over (LZ4 shrinks it to almost nothing)
     * or, when {@code random}, random bytes seeded by the stream id (LZ4 cannot shrink them: stored segments).
     */
    static ByteBuffer newFrame(int streamId, int bodySize, boolean random) {
        ByteBuffer frame = ByteBuffer.allocateDirect(HEADER_LENGTH + bodySize);
        frame.put(VERSION_V4_REQUEST).put((byte) 0).putShort((short) streamId).put(OPCODE_QUERY).putInt(bodySize);
        java.util.SplittableRandom bytes = new java.util.SplittableRandom(streamId);
        for (int i = 0; i < bodySize; i++) {
            frame.put(random ? (byte) bytes.nextInt(256) : (byte) ('a' + i % 26));
        }
        return frame.flip();
    }

    /** Total length of the frame whose header starts at absolute {@code index}. */
    static int frameLength(ByteBuffer buffer, int index) {
        return HEADER_LENGTH + buffer.getInt(index + 5);
    }
}
