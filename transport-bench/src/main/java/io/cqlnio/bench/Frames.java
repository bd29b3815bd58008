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
        ByteBuffer frame = ByteBuffer.allocateDirect(HEADER_LENGTH + bodySize);
        frame.put(VERSION_V4_REQUEST).put((byte) 0).putShort((short) streamId).put(OPCODE_QUERY).putInt(bodySize);
        for (int i = 0; i < bodySize; i++) {
            frame.put((byte) ('a' + i % 26));
        }
        return frame.flip();
    }

    /** Total length of the frame whose header starts at absolute {@code index}. */
    static int frameLength(ByteBuffer buffer, int index) {
        return HEADER_LENGTH + buffer.getInt(index + 5);
    }
}
