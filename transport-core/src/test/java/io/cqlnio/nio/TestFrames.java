package io.cqlnio.nio;

import java.nio.ByteBuffer;

/**
 * CQL-shaped test frames whose every byte is a function of (producer, sequence, index), so a receiver can
 * tell a byte-exact frame from a torn, shifted or reordered one.
 */
final class TestFrames {

    static final int HEADER = 9;
    /** The story's frame: 9-byte header + 23,928-byte body. */
    static final int STORY_BODY = 23_928;

    private TestFrames() {
    }

    /** A frame with {@code bodyLength} body bytes: producer in the stream id, sequence in the first body bytes. */
    static ByteBuffer frame(int producer, int seq, int bodyLength, boolean direct) {
        int body = Math.max(bodyLength, 8);
        ByteBuffer b = direct ? ByteBuffer.allocateDirect(HEADER + body) : ByteBuffer.allocate(HEADER + body);
        b.put((byte) 0x04).put((byte) 0).putShort((short) producer).put((byte) 0x07).putInt(body);
        b.putInt(producer).putInt(seq);
        for (int i = 8; i < body; i++) {
            b.put(fill(producer, seq, i));
        }
        return b.flip();
    }

    static byte fill(int producer, int seq, int index) {
        return (byte) (producer * 31 + seq * 17 + index * 7 + (index >>> 8));
    }

    /**
     * Checks one whole frame (position..limit) and returns its sequence number.
     *
     * @throws AssertionError naming the first bad byte
     */
    static int check(ByteBuffer frame, int expectedProducer) {
        int p = frame.position();
        int body = frame.getInt(p + 5);
        if (frame.get(p) != 0x04 || frame.remaining() != HEADER + body) {
            throw new AssertionError("bad header: version " + frame.get(p) + ", body " + body + ", have "
                    + frame.remaining());
        }
        int producer = frame.getInt(p + HEADER);
        int seq = frame.getInt(p + HEADER + 4);
        if (producer != expectedProducer && expectedProducer >= 0) {
            throw new AssertionError("producer " + producer + " where " + expectedProducer + " was expected");
        }
        for (int i = 8; i < body; i++) {
            if (frame.get(p + HEADER + i) != fill(producer, seq, i)) {
                throw new AssertionError("frame " + producer + "/" + seq + " byte " + i + " of " + body + " is wrong");
            }
        }
        return seq;
    }
}
