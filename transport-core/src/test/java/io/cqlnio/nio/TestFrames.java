package io.cqlnio.nio;

import java.nio.ByteBuffer;

/**
 * Bridge to {@link io.cqlnio.testkit.TestFrames} for the tests of this package that are being rewritten with the
 * nio internals; once they import {@code io.cqlnio.testkit.TestFrames} themselves, delete this class.
 */
final class TestFrames {

    static final int HEADER = io.cqlnio.testkit.TestFrames.HEADER;
    static final int STORY_BODY = io.cqlnio.testkit.TestFrames.STORY_BODY;

    private TestFrames() {
    }

    static ByteBuffer frame(int producer, int seq, int bodyLength, boolean direct) {
        return io.cqlnio.testkit.TestFrames.frame(producer, seq, bodyLength, direct);
    }

    static int check(ByteBuffer frame, int expectedProducer) {
        return io.cqlnio.testkit.TestFrames.check(frame, expectedProducer);
    }
}
