package io.cqlnio.soak;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A frame checks against itself only: not another number, not another connection, not with one byte changed. */
class FrameShapeTest {

    @Test
    void aFrameVerifiesAsItselfAndAsNothingElse() {
        ByteBuffer b = ByteBuffer.allocateDirect(FrameShape.MAX_LENGTH);
        for (long seq = 0; seq < 2_000; seq++) {
            FrameShape.fill(b, 7, seq);
            assertEquals(FrameShape.length(7, seq), b.remaining());
            assertEquals(FrameShape.OK, FrameShape.verify(b, 7, seq));
            assertNotEquals(FrameShape.OK, FrameShape.verify(b, 7, seq + 1));
            assertNotEquals(FrameShape.OK, FrameShape.verify(b, 8, seq));
            int at = (int) (seq * 31 % b.remaining());
            b.put(at, (byte) (b.get(at) ^ 1));
            assertEquals(at, FrameShape.verify(b, 7, seq), "a flipped bit is found where it is");
            assertEquals(0, b.position(), "verify does not move the buffer");
        }
    }

    @Test
    void sizesStayInRangeAndSkewSmall() {
        int small = 0;
        int large = 0;
        int n = 100_000;
        for (long seq = 0; seq < n; seq++) {
            int length = FrameShape.length(3, seq);
            assertTrue(length >= FrameShape.MIN_LENGTH && length <= FrameShape.MAX_LENGTH, "length " + length);
            small += length <= 1024 ? 1 : 0;
            large += length > 16 * 1024 ? 1 : 0;
        }
        assertEquals(0.70, (double) small / n, 0.01);
        assertEquals(0.05, (double) large / n, 0.005);
    }
}
