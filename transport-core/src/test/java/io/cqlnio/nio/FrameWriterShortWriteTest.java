package io.cqlnio.nio;

import io.cqlnio.testkit.TestFrames;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Invariant 1 through the write seam, deterministically: a channel that takes exactly k bytes per call, for
 * every k from 1 to the size of the frames, with and without a zero-byte write between calls. The bytes out
 * must be the exact concatenation of the frames, and each listener must fire once, in order, and only when
 * the last byte of its frame has been taken.
 */
class FrameWriterShortWriteTest {

    /** Small frames in several shapes: a single buffer, a header+body pair, three parts with an empty one. */
    private static List<ByteBuffer[]> smallFrames() {
        List<ByteBuffer[]> frames = new ArrayList<>();
        frames.add(new ByteBuffer[]{TestFrames.frame(1, 0, 40, false)});
        ByteBuffer f = TestFrames.frame(1, 1, 100, true);
        frames.add(new ByteBuffer[]{f.duplicate().limit(9), f.duplicate().position(9)});
        ByteBuffer g = TestFrames.frame(1, 2, 30, false);
        frames.add(new ByteBuffer[]{g.duplicate().limit(5), g.duplicate().position(5).limit(5), g.duplicate().position(5)});
        frames.add(new ByteBuffer[]{TestFrames.frame(1, 3, 8, true)});
        return frames;
    }

    private static final ByteBuffer[] STORY = {
            TestFrames.frame(2, 0, TestFrames.STORY_BODY, true), TestFrames.frame(2, 1, TestFrames.STORY_BODY, false)};

    /** The story's frame, 9 + 23,928 bytes, handed over as the two iovecs the story's sendmsg had: 16,384 + 7,553. */
    private static List<ByteBuffer[]> storyFrames() {
        List<ByteBuffer[]> frames = new ArrayList<>();
        for (ByteBuffer f : STORY) {
            frames.add(new ByteBuffer[]{f.duplicate().limit(16_384), f.duplicate().position(16_384)});
        }
        frames.add(new ByteBuffer[]{TestFrames.frame(2, 2, 20, false)});
        return frames;
    }

    @Test
    void everyChunkSizeOverSmallFrames() {
        int total = totalBytes(smallFrames());
        for (int k = 1; k <= total; k++) {
            run(smallFrames(), k, false, 1024, 1 << 20);
            run(smallFrames(), k, true, 1024, 1 << 20);
        }
    }

    @Test
    void everyChunkSizeOverTheStoryFrame() {
        // Every k from 1 to one whole story frame (9 + 23,928), the frame that tore in the story.
        for (int k = 1; k <= TestFrames.HEADER + TestFrames.STORY_BODY; k++) {
            run(storyFrames(), k, false, 1024, 1 << 20);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3})
    void tinyIovArraysSplitMultiPartFramesAcrossCalls(int iovLength) {
        for (int k : new int[]{1, 7, 9, 64, 1000, 100_000}) {
            run(smallFrames(), k, false, iovLength, 1 << 20);
            run(storyFrames(), k, true, iovLength, 1 << 20);
        }
    }

    @Test
    void byteBudgetClipsTheLastBufferAndRestoresItsLimit() {
        for (int k : new int[]{1, 50, 4096, 100_000}) {
            List<ByteBuffer[]> frames = storyFrames();
            run(frames, k, false, 1024, FrameWriter.MIN_BYTES_PER_WRITE);
            for (ByteBuffer[] frame : frames) {
                for (ByteBuffer part : frame) {
                    assertEquals(part.capacity() == part.limit() || part.limit() == 16_384, true,
                            "a clipped limit was not restored: " + part);
                }
            }
        }
    }

    @Test
    void emptyFramesCompleteInOrder() {
        List<ByteBuffer[]> frames = List.of(new ByteBuffer[]{ByteBuffer.allocate(0)},
                new ByteBuffer[]{TestFrames.frame(3, 0, 10, false)}, new ByteBuffer[]{ByteBuffer.allocate(0)},
                new ByteBuffer[]{});
        run(frames, 3, true, 1024, 1 << 20);
    }

    /**
     * Writes {@code frames} through a channel taking at most {@code k} bytes a call (and nothing on every
     * other call when {@code zeroBetween}), flushing as the loop would, and checks everything.
     */
    private static void run(List<ByteBuffer[]> frames, int k, boolean zeroBetween, int iovLength, long maxBytesPerWrite) {
        byte[] expected = concat(frames);
        TestWriter writer = new TestWriter("k=" + k, new WriteEntry.Pool(16), 1 << 30, 1 << 29,
                maxBytesPerWrite, 16);
        ScriptedChannel channel = new ScriptedChannel(call -> zeroBetween && call % 2 == 1 ? 0 : k);
        long[] ends = new long[frames.size()];
        long end = 0;
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < frames.size(); i++) {
            ByteBuffer[] parts = frames.get(i);
            for (ByteBuffer p : parts) {
                end += p.remaining();
            }
            ends[i] = end;
            int index = i;
            WriteCheck check = failure -> {
                assertNull(failure);
                // Never early: every byte of this frame has been taken by the channel.
                assertTrue(channel.acceptedCount() >= ends[index], "frame " + index + " acknowledged at "
                        + channel.acceptedCount() + " of " + ends[index] + " bytes (k=" + k + ")");
                order.add(index);
            };
            if (parts.length == 1) {
                writer.enqueue(parts[0], null, check::done);
            } else {
                writer.enqueue(null, parts, check::done);
            }
        }
        ByteBuffer[] iov = new ByteBuffer[iovLength];
        int flushes = 0;
        FrameWriter.Flush result;
        do {
            try {
                result = writer.flush(channel, iov);
            } catch (java.io.IOException e) {
                throw new AssertionError(e);
            }
            assertTrue(++flushes < 10_000_000, "no progress");
        } while (result != FrameWriter.Flush.DRAINED);

        assertArrayEquals(expected, channel.bytes(), "stream differs for k=" + k);
        List<Integer> inOrder = new ArrayList<>();
        for (int i = 0; i < frames.size(); i++) {
            inOrder.add(i);
        }
        assertEquals(inOrder, order, "listeners out of order or missing, k=" + k);
        assertEquals(0, writer.pendingBytes());
        assertTrue(Arrays.stream(iov).allMatch(b -> b == null), "iov keeps references to written buffers");
        if (k < Math.min(expected.length, maxBytesPerWrite)) {
            assertTrue(writer.shortWrites() > 0, "k=" + k + " produced no short write");
        }
    }

    private interface WriteCheck {
        void done(Throwable failure);
    }

    private static int totalBytes(List<ByteBuffer[]> frames) {
        return concat(frames).length;
    }

    private static byte[] concat(List<ByteBuffer[]> frames) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (ByteBuffer[] frame : frames) {
            for (ByteBuffer part : frame) {
                ByteBuffer d = part.duplicate();
                while (d.hasRemaining()) {
                    out.write(d.get());
                }
            }
        }
        return out.toByteArray();
    }
}
