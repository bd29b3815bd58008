package io.cqlnio.nio;

import io.cqlnio.spi.CqlFrameCodec;
import io.cqlnio.spi.WriteListener;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import static io.cqlnio.nio.Lz4TestSegments.bytes;
import static io.cqlnio.nio.Lz4TestSegments.compressibleFrame;
import static io.cqlnio.nio.Lz4TestSegments.randomFrame;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * LZ4 v5 segments through the seams: the write path compresses what it packs (stored when that does not shrink
 * it), honours every short write, and acknowledges a frame only once its segment's trailer was taken; the read
 * path unwraps compressed and stored segments cut anywhere. The stream is checked by {@link Lz4TestSegments},
 * which shares no code with the transport's LZ4 path.
 */
class Lz4SegmentFramingTest {

    /** 3 bare frames, the switch, then a mix whose segments come out compressed, stored, and sliced. */
    private static List<ByteBuffer> mixedFrames() {
        List<ByteBuffer> frames = new ArrayList<>();
        for (int i = 0; i < 60; i++) {
            frames.add(compressibleFrame(i, 20 + i * 7, i % 2 == 0));
        }
        frames.add(randomFrame(60, 24 * 1024, 60, false));           // a stored segment between compressed ones
        frames.add(compressibleFrame(61, 23_928, true));               // the origin story's size
        frames.add(compressibleFrame(62, (1 << 20) - 9, false));       // 9 non-self-contained compressed segments
        frames.add(randomFrame(63, 200_000, 63, true));                // 2 non-self-contained stored segments
        frames.add(randomFrame(64, 100, 64, false));
        frames.add(compressibleFrame(65, 8, false));
        return frames;
    }

    @Test
    void compressedSegmentsThroughEveryShortWrite() throws Exception {
        for (int k : new int[]{1, 2, 3, 7, 8, 9, 11, 12, 13, 64, 1000, 4096, 65_536, 1 << 20}) {
            TestWriter writer = new TestWriter("k=" + k, new WriteEntry.Pool(64), 1L << 30, 1L << 29, 1 << 20, 16);
            ScriptedChannel channel = ScriptedChannel.accepting(k);
            List<Long> firedAt = new ArrayList<>();
            WriteListener listener = failure -> {
                assertNull(failure);
                firedAt.add(channel.acceptedCount());
            };
            List<byte[]> before = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                ByteBuffer f = compressibleFrame(100 + i, 30, false);
                before.add(bytes(f));
                writer.enqueue(f, null, listener);
            }
            writer.enqueueSwitchToLz4Segments();
            List<byte[]> after = new ArrayList<>();
            for (ByteBuffer f : mixedFrames()) {
                after.add(bytes(f));
                if (f.remaining() > 300_000) {
                    // As two parts, so a slice boundary falls inside a part and a part inside a slice.
                    writer.enqueue(null, new ByteBuffer[]{f.duplicate().limit(300_001), f.duplicate().position(300_001)},
                            listener);
                } else {
                    writer.enqueue(f, null, listener);
                }
            }
            ByteBuffer[] iov = new ByteBuffer[1024];
            int guard = 0;
            while (writer.flush(channel, iov) != FrameWriter.Flush.DRAINED) {
                assertTrue(++guard < 5_000_000, "no progress");
            }
            Lz4TestSegments.Decoded d = Lz4TestSegments.decode(channel.bytes(), 3);
            for (int i = 0; i < 3; i++) {
                assertArrayEquals(before.get(i), d.plainFrames().get(i), "bare frame " + i + ", k=" + k);
            }
            assertEquals(after.size(), d.frames().size(), "k=" + k);
            for (int i = 0; i < after.size(); i++) {
                assertArrayEquals(after.get(i), d.frames().get(i), "segmented frame " + i + ", k=" + k);
            }
            assertEquals(3 + after.size(), firedAt.size(), "every listener once, k=" + k);
            for (int i = 3; i < firedAt.size(); i++) {
                long segmentEnd = d.frameSegmentEnds().get(i - 3);
                assertTrue(firedAt.get(i) >= segmentEnd, "frame " + (i - 3) + " acknowledged at byte "
                        + firedAt.get(i) + ", before its segment's trailer ended at " + segmentEnd + " (k=" + k + ")");
            }
            long nonSelfContained = d.segments().stream().filter(s -> !s.selfContained()).count();
            assertEquals(9 + 2, nonSelfContained, "1 MiB in 9 slices, 200,009 bytes in 2");
            assertTrue(d.segments().stream().anyMatch(Lz4TestSegments.Segment::stored), "a stored segment");
            assertTrue(d.segments().stream().anyMatch(s -> !s.stored()), "a compressed segment");
            assertTrue(d.segments().stream().filter(s -> !s.selfContained()).anyMatch(Lz4TestSegments.Segment::stored)
                    && d.segments().stream().filter(s -> !s.selfContained()).anyMatch(s -> !s.stored()),
                    "slices both stored and compressed");
            assertEquals(0, writer.pendingBytes(), "k=" + k);
            assertEquals(3 + after.size(), writer.framesWritten());
        }
    }

    /**
     * A close with frames in every place a compressing writer keeps them (waiting for their segment's end, staged,
     * held uncompressed, still queued): each listener hears exactly once, in write order, successes first, and the
     * pending count goes back to zero.
     */
    @Test
    void aCloseMidStreamEndsEveryFrameOnceInOrder() throws Exception {
        for (long k : new long[]{0, 1, 100, 5000, 70_000, 300_000}) {
            TestWriter writer = new TestWriter("close k=" + k, new WriteEntry.Pool(64), 1L << 30, 1L << 29, 1 << 20, 4);
            writer.enqueueSwitchToLz4Segments();
            List<String> outcomes = new ArrayList<>();
            int frames = 120;
            for (int i = 0; i < frames; i++) {
                int n = i;
                ByteBuffer f = i % 3 == 0 ? randomFrame(i, 24 * 1024, i, false)
                        : i % 3 == 1 ? compressibleFrame(i, 24 * 1024, true) : compressibleFrame(i, 200_000, false);
                writer.enqueue(f, null, failure -> outcomes.add(n + (failure == null ? " ok" : " failed")));
            }
            ScriptedChannel channel = new ScriptedChannel(call -> call == 0 ? k : 0);   // one write of k, then none
            writer.flush(channel, new ByteBuffer[64]);
            writer.close(new IllegalStateException("closed mid-stream"));
            assertEquals(frames, outcomes.size(), "every listener once, k=" + k + ": " + outcomes);
            boolean failing = false;
            for (int i = 0; i < frames; i++) {
                assertTrue(outcomes.get(i).startsWith(i + " "), "write order, k=" + k + ": " + outcomes);
                failing |= outcomes.get(i).endsWith("failed");
                assertTrue(!failing || outcomes.get(i).endsWith("failed"), "a success after a failure: " + outcomes);
            }
            assertEquals(0, writer.pendingBytes(), "k=" + k);
        }
    }

    @Test
    void compressibleBodiesShrinkAndRandomOnesGoOutStoredAtCost() throws Exception {
        long[] wire = new long[2];
        long[] payload = new long[2];
        for (int kind = 0; kind < 2; kind++) {
            TestWriter writer = new TestWriter("ratio", new WriteEntry.Pool(64), 1L << 30, 1L << 29, 1 << 20, 16);
            ScriptedChannel channel = ScriptedChannel.accepting(Long.MAX_VALUE);
            writer.enqueueSwitchToLz4Segments();
            for (int i = 0; i < 20; i++) {
                ByteBuffer f = kind == 0 ? compressibleFrame(i, 24 * 1024, false) : randomFrame(i, 24 * 1024, i, false);
                payload[kind] += f.remaining();
                writer.enqueue(f, null, null);
            }
            while (writer.flush(channel, new ByteBuffer[64]) != FrameWriter.Flush.DRAINED) {
                // drain
            }
            wire[kind] = channel.acceptedCount();
            assertEquals(20, Lz4TestSegments.decode(channel.bytes(), 0).frames().size());
        }
        assertTrue(wire[0] <= 0.3 * payload[0], "compressible: " + wire[0] + " bytes on the wire for " + payload[0]);
        // Stored: 12 bytes of header and trailer per segment, nothing more.
        assertTrue(wire[1] <= payload[1] + 12 * 5, "random: " + wire[1] + " bytes on the wire for " + payload[1]);
    }

    private static FrameReader reader(int readBuffer) {
        ByteBuffer shared = ByteBuffer.allocateDirect(readBuffer);
        return new FrameReader("lz4-test", CqlFrameCodec.INSTANCE, 256 << 20, shared, shared.duplicate());
    }

    /** READY as a bare frame, then what our writer makes of {@code frames} in LZ4 segments. */
    static byte[] streamWithSwitch(List<ByteBuffer> frames) throws Exception {
        TestWriter writer = new TestWriter("w", new WriteEntry.Pool(64), 1L << 30, 1L << 29, 1 << 20, 16);
        ScriptedChannel out = ScriptedChannel.accepting(Long.MAX_VALUE);
        ByteBuffer ready = ByteBuffer.allocate(9).put((byte) 0x85).put((byte) 0).putShort((short) 0).put((byte) 2)
                .putInt(0).flip();
        writer.enqueue(ready, null, null);
        writer.enqueueSwitchToLz4Segments();
        for (ByteBuffer f : frames) {
            writer.enqueue(f.duplicate(), null, null);
        }
        while (writer.flush(out, new ByteBuffer[1024]) != FrameWriter.Flush.DRAINED) {
            // drain
        }
        return out.bytes();
    }

    /** Everything the reader delivers; the handler switches the reader to LZ4 segments on the first frame. */
    static List<byte[]> readAll(FrameReader reader, ScriptedReadChannel channel) throws Exception {
        List<byte[]> got = new ArrayList<>();
        Lz4Codec lz4 = new Lz4Codec();
        int guard = 0;
        while (!channel.exhausted() || guard == 0) {
            reader.read(new SocketWire(null, channel), frame -> {
                got.add(bytes(frame));
                if (got.size() == 1) {
                    reader.switchToSegments(lz4); // the handler's switchFraming(V5_SEGMENTS_LZ4) on READY
                }
                return true;
            });
            assertTrue(++guard < 1_000_000);
        }
        return got;
    }

    @Test
    void readerUnwrapsCompressedAndStoredSegmentsCutAtEverySplitPoint() throws Exception {
        List<ByteBuffer> frames = List.of(compressibleFrame(1, 300, false), randomFrame(2, 40, 2, false),
                compressibleFrame(3, 12, false));
        List<ByteBuffer> stored = List.of(randomFrame(4, 50, 4, false));
        for (List<ByteBuffer> batch : List.of(frames, stored)) {
            byte[] stream = streamWithSwitch(batch);
            for (int cut = 1; cut < stream.length; cut++) {
                for (int readBuffer : new int[]{64, 4096}) {
                    List<byte[]> got = readAll(reader(readBuffer), new ScriptedReadChannel(stream, new int[]{cut}, true));
                    assertEquals(batch.size() + 1, got.size(), "cut " + cut);
                    for (int i = 0; i < batch.size(); i++) {
                        assertArrayEquals(bytes(batch.get(i)), got.get(i + 1), "frame " + i + ", cut at " + cut);
                    }
                }
            }
        }
    }

    @Test
    void readerJoinsLargeFramesAcrossCompressedAndStoredSlices() throws Exception {
        List<ByteBuffer> frames = mixedFrames();
        byte[] stream = streamWithSwitch(frames);
        int[] cuts = java.util.stream.IntStream.iterate(5, c -> c < stream.length, c -> c + 7919).toArray();
        List<byte[]> got = readAll(reader(65536), new ScriptedReadChannel(stream, cuts, true));
        assertEquals(frames.size() + 1, got.size());
        for (int i = 0; i < frames.size(); i++) {
            assertArrayEquals(bytes(frames.get(i)), got.get(i + 1), "frame " + i);
        }
    }

    @Test
    void readerTakesSegmentsBuiltWithoutTheTransport() throws Exception {
        // Honest segments from the independent encoder: compressed, stored, and a frame over two slices.
        byte[] small = bytes(compressibleFrame(1, 500, false));
        byte[] random = bytes(randomFrame(2, 500, 2, false));
        byte[] big = bytes(compressibleFrame(3, 200_000, false));
        byte[] stream = Lz4TestSegments.concat(
                new byte[]{(byte) 0x85, 0, 0, 0, 2, 0, 0, 0, 0},
                Lz4TestSegments.segment(Lz4TestSegments.concat(small, random), true),
                Lz4TestSegments.segment(random, true),
                Lz4TestSegments.segment(java.util.Arrays.copyOf(big, 100_000), false),
                Lz4TestSegments.segment(java.util.Arrays.copyOfRange(big, 100_000, big.length), false));
        List<byte[]> got = readAll(reader(4096), new ScriptedReadChannel(stream, new int[]{17, stream.length / 2},
                true));
        assertEquals(5, got.size());
        assertArrayEquals(small, got.get(1));
        assertArrayEquals(random, got.get(2));
        assertArrayEquals(random, got.get(3));
        assertArrayEquals(big, got.get(4));
    }

    /** Steady state, small frames: enqueue, compress, write and retire allocate nothing per frame. */
    @Test
    void noAllocationPerFrameInSteadyState() throws Exception {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean)
                java.lang.management.ManagementFactory.getThreadMXBean();
        TestWriter w = new TestWriter("alloc", new WriteEntry.Pool(8192), 1L << 30, 1L << 29, 1 << 20, 16);
        w.enqueueSwitchToLz4Segments();
        ByteBuffer[] iov = new ByteBuffer[1024];
        WriterAndLoopRacesTest.NullChannel sink = new WriterAndLoopRacesTest.NullChannel();
        ByteBuffer[] frames = new ByteBuffer[64];
        for (int i = 0; i < frames.length; i++) {
            frames[i] = compressibleFrame(i, 200, true);
        }
        WriteListener l = f -> { };
        for (int warm = 0; warm < 20_000; warm++) {
            cycle(w, frames, l, sink, iov);
        }
        long before = mx.getThreadAllocatedBytes(Thread.currentThread().getId());
        int cycles = 2000;
        for (int i = 0; i < cycles; i++) {
            cycle(w, frames, l, sink, iov);
        }
        long perFrame = (mx.getThreadAllocatedBytes(Thread.currentThread().getId()) - before)
                / ((long) cycles * frames.length);
        assertEquals(0, perFrame, "bytes allocated per frame with LZ4 segments");
    }

    private static void cycle(TestWriter w, ByteBuffer[] frames, WriteListener l,
                              java.nio.channels.GatheringByteChannel sink, ByteBuffer[] iov) throws Exception {
        for (ByteBuffer f : frames) {
            f.clear();
            w.enqueue(f, null, l);
        }
        while (w.flush(sink, iov) != FrameWriter.Flush.DRAINED) {
            // drain
        }
    }
}
