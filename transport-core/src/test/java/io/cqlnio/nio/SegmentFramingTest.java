package io.cqlnio.nio;

import io.cqlnio.testkit.TestFrames;
import io.cqlnio.frame.Segments;
import io.cqlnio.spi.CqlFrameCodec;
import io.cqlnio.spi.ProtocolException;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Protocol v5 framing through the seams: the write path packs queued frames into segments (a large frame
 * into a run of non-self-contained ones) and honours every short write at segment granularity; the read
 * path unwraps segments split anywhere and rejects either CRC being wrong.
 */
class SegmentFramingTest {

    /** A decoded segment stream: the frames' bytes, and where each segment ended in the stream. */
    record Decoded(List<byte[]> plainFrames, List<byte[]> frames, List<Long> frameSegmentEnds,
                   List<Boolean> selfContained) {
    }

    /** Independent decoder: {@code plainCount} frames back to back, then segments to the end. */
    static Decoded decode(byte[] stream, int plainCount) {
        ByteBuffer b = ByteBuffer.wrap(stream);
        List<byte[]> plain = new ArrayList<>();
        for (int i = 0; i < plainCount; i++) {
            int len = 9 + b.getInt(b.position() + 5);
            byte[] f = new byte[len];
            b.get(f);
            plain.add(f);
        }
        ByteArrayOutputStream payloads = new ByteArrayOutputStream();
        List<Long> ends = new ArrayList<>();
        List<Long> payloadEnds = new ArrayList<>();
        List<Boolean> selfContained = new ArrayList<>();
        while (b.hasRemaining()) {
            int header3b = Segments.readHeader(b, b.position());
            int length = Segments.payloadLength(header3b);
            selfContained.add(Segments.isSelfContained(header3b));
            byte[] payload = new byte[length];
            b.position(b.position() + 6);
            b.get(payload);
            CRC32 crc = Segments.newCrc32();
            crc.update(payload);
            assertEquals((int) crc.getValue(), Segments.readTrailer(b, b.position()), "trailer CRC32");
            b.position(b.position() + 4);
            payloads.writeBytes(payload);
            ends.add((long) b.position());
            payloadEnds.add((long) payloads.size());
        }
        List<byte[]> frames = new ArrayList<>();
        List<Long> frameSegmentEnds = new ArrayList<>();
        ByteBuffer p = ByteBuffer.wrap(payloads.toByteArray());
        while (p.hasRemaining()) {
            int len = 9 + p.getInt(p.position() + 5);
            byte[] f = new byte[len];
            p.get(f);
            frames.add(f);
            // The stream offset where the segment holding this frame's last byte ends.
            int segment = 0;
            while (payloadEnds.get(segment) < p.position()) {
                segment++;
            }
            frameSegmentEnds.add(ends.get(segment));
        }
        return new Decoded(plain, frames, frameSegmentEnds, selfContained);
    }

    private static byte[] bytes(ByteBuffer f) {
        byte[] b = new byte[f.remaining()];
        f.duplicate().get(b);
        return b;
    }

    @Test
    void framesAfterTheSwitchArePackedIntoSegmentsThroughEveryShortWrite() {
        for (int k : new int[]{1, 2, 5, 6, 7, 9, 10, 64, 1000, 4096, 65_536, 1 << 20}) {
            TestWriter writer = new TestWriter("k=" + k, new WriteEntry.Pool(64), 1 << 30, 1 << 29, 1 << 20, 16);
            ScriptedChannel channel = ScriptedChannel.accepting(k);
            List<byte[]> before = new ArrayList<>();
            List<byte[]> after = new ArrayList<>();
            List<Integer> order = new ArrayList<>();
            List<Long> firedAt = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                ByteBuffer f = TestFrames.frame(1, i, 20 + i, false);
                before.add(bytes(f));
                int index = order.size() + before.size() + after.size();
                writer.enqueue(f, null, failure -> {
                    assertNull(failure);
                    firedAt.add(channel.acceptedCount());
                });
            }
            writer.enqueueSwitchToSegments();
            // 100 small frames (some segments hold many), the story's frame, and a 1 MiB frame (9 segments).
            List<ByteBuffer> frames = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                frames.add(TestFrames.frame(2, i, 8 + i, i % 2 == 0));
            }
            frames.add(TestFrames.frame(2, 100, TestFrames.STORY_BODY, true));
            ByteBuffer big = TestFrames.frame(2, 101, (1 << 20) - 9, false);
            frames.add(big);
            frames.add(TestFrames.frame(2, 102, 8, false));
            for (ByteBuffer f : frames) {
                after.add(bytes(f));
                if (f == big) {
                    // As two parts, so a segment boundary falls inside a part and a part inside a segment.
                    writer.enqueue(null, new ByteBuffer[]{f.duplicate().limit(300_000), f.duplicate().position(300_000)},
                            failure -> firedAt.add(channel.acceptedCount()));
                } else {
                    writer.enqueue(f, null, failure -> firedAt.add(channel.acceptedCount()));
                }
            }
            ByteBuffer[] iov = new ByteBuffer[1024];
            int guard = 0;
            try {
                while (writer.flush(channel, iov) != FrameWriter.Flush.DRAINED) {
                    assertTrue(++guard < 5_000_000, "no progress");
                }
            } catch (java.io.IOException e) {
                throw new AssertionError(e);
            }
            Decoded d = decode(channel.bytes(), 3);
            for (int i = 0; i < 3; i++) {
                assertArrayEquals(before.get(i), d.plainFrames().get(i), "plain frame " + i + ", k=" + k);
            }
            assertEquals(after.size(), d.frames().size(), "k=" + k);
            for (int i = 0; i < after.size(); i++) {
                assertArrayEquals(after.get(i), d.frames().get(i), "segmented frame " + i + ", k=" + k);
            }
            assertEquals(3 + after.size(), firedAt.size(), "every listener once");
            // A frame inside a segment is acknowledged only once its segment's trailer was accepted.
            for (int i = 3; i < firedAt.size(); i++) {
                long at = firedAt.get(i);
                long segmentEnd = d.frameSegmentEnds().get(i - 3);
                assertTrue(at >= segmentEnd, "frame " + (i - 3) + " acknowledged at byte " + at
                        + ", before its segment ended at " + segmentEnd + " (k=" + k + ")");
            }
            long nonSelfContained = d.selfContained().stream().filter(b -> !b).count();
            assertEquals(9, nonSelfContained, "a 1 MiB frame spans 9 non-self-contained segments");
            assertEquals(0, writer.pendingBytes());
            assertEquals(3 + after.size(), writer.framesWritten());
        }
    }

    private static FrameReader reader(int readBuffer) {
        ByteBuffer shared = ByteBuffer.allocateDirect(readBuffer);
        return new FrameReader("v5-test", CqlFrameCodec.INSTANCE, 256 << 20, shared, shared.duplicate());
    }

    /** READY as a plain frame, then segments written by our own writer. */
    private static byte[] streamWithSwitch(List<byte[]> segmentedFrames, ByteBuffer[] iovHolder) throws Exception {
        TestWriter writer = new TestWriter("w", new WriteEntry.Pool(64), 1 << 30, 1 << 29, 1 << 20, 16);
        ScriptedChannel out = ScriptedChannel.accepting(Long.MAX_VALUE);
        ByteBuffer ready = ByteBuffer.allocate(9).put((byte) 0x85).put((byte) 0).putShort((short) 0).put((byte) 2)
                .putInt(0).flip();
        writer.enqueue(ready, null, null);
        writer.enqueueSwitchToSegments();
        for (byte[] f : segmentedFrames) {
            writer.enqueue(ByteBuffer.wrap(f), null, null);
        }
        while (writer.flush(out, iovHolder) != FrameWriter.Flush.DRAINED) {
            // drain
        }
        return out.bytes();
    }

    private static List<byte[]> readAll(FrameReader reader, ScriptedReadChannel channel) throws Exception {
        List<byte[]> got = new ArrayList<>();
        int guard = 0;
        while (!channel.exhausted() || guard == 0) {
            reader.read(new SocketWire(null, channel), frame -> {
                byte[] copy = new byte[frame.remaining()];
                frame.duplicate().get(copy);
                got.add(copy);
                if (got.size() == 1) {
                    reader.switchToSegments(); // the handler's switchFraming on READY
                }
                return true;
            });
            assertTrue(++guard < 1_000_000);
        }
        return got;
    }

    @Test
    void readerUnwrapsSegmentsCutAtEverySplitPoint() throws Exception {
        List<byte[]> frames = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            frames.add(bytes(TestFrames.frame(3, i, 10 + i, false)));
        }
        byte[] stream = streamWithSwitch(frames, new ByteBuffer[16]);
        for (int cut = 1; cut < stream.length; cut++) {
            for (int readBuffer : new int[]{64, 4096}) {
                List<byte[]> got = readAll(reader(readBuffer), new ScriptedReadChannel(stream, new int[]{cut}, true));
                assertEquals(4, got.size(), "cut " + cut);
                for (int i = 0; i < 3; i++) {
                    assertArrayEquals(frames.get(i), got.get(i + 1), "frame " + i + " with a cut at " + cut);
                }
            }
        }
    }

    @Test
    void readerJoinsA1MiBFrameAcross9SegmentsAndSplitsA100FrameSegment() throws Exception {
        List<byte[]> frames = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            frames.add(bytes(TestFrames.frame(4, i, 8 + i, false)));
        }
        frames.add(bytes(TestFrames.frame(4, 100, (1 << 20) - 9, false)));
        frames.add(bytes(TestFrames.frame(4, 101, 8, false)));
        byte[] stream = streamWithSwitch(frames, new ByteBuffer[1024]);
        int[] cuts = java.util.stream.IntStream.iterate(7, c -> c < stream.length, c -> c + 7919).toArray();
        List<byte[]> got = readAll(reader(65536), new ScriptedReadChannel(stream, cuts, true));
        assertEquals(frames.size() + 1, got.size());
        for (int i = 0; i < frames.size(); i++) {
            assertArrayEquals(frames.get(i), got.get(i + 1), "frame " + i);
        }
    }

    @Test
    void aSelfContainedSegmentEndingInsideAFrameIsRejected() throws Exception {
        // READY, then one self-contained segment whose payload is a frame cut short (valid CRCs).
        ByteBuffer ready = ByteBuffer.allocate(9).put((byte) 0x85).put((byte) 0).putShort((short) 0).put((byte) 2)
                .putInt(0).flip();
        byte[] frame = bytes(TestFrames.frame(6, 0, 40, false));
        byte[] partial = java.util.Arrays.copyOf(frame, 20);
        ByteBuffer seg = ByteBuffer.allocate(6 + partial.length + 4);
        Segments.writeHeader(seg, 0, partial.length, true);
        seg.position(6);
        seg.put(partial);
        CRC32 crc = Segments.newCrc32();
        crc.update(partial);
        Segments.writeTrailer(seg, 6 + partial.length, (int) crc.getValue());
        byte[] stream = new byte[9 + seg.capacity()];
        ready.get(stream, 0, 9);
        System.arraycopy(seg.array(), 0, stream, 9, seg.capacity());
        ProtocolException e = assertThrows(ProtocolException.class,
                () -> readAll(reader(4096), new ScriptedReadChannel(stream, new int[0], true)));
        assertTrue(e.getMessage().contains("self-contained segment") && e.getMessage().contains("ends inside a frame"),
                e.getMessage());
    }

    @Test
    void aSecondSwitchInTheQueueIsHarmless() throws Exception {
        TestWriter writer = new TestWriter("w", new WriteEntry.Pool(64), 1 << 30, 1 << 29, 1 << 20, 16);
        ScriptedChannel out = ScriptedChannel.accepting(Long.MAX_VALUE);
        writer.enqueueSwitchToSegments();
        ByteBuffer a = TestFrames.frame(7, 0, 10, false);
        ByteBuffer b = TestFrames.frame(7, 1, 10, false);
        byte[] expectA = bytes(a);
        byte[] expectB = bytes(b);
        writer.enqueue(a, null, null);
        writer.enqueueSwitchToSegments();
        writer.enqueue(b, null, null);
        while (writer.flush(out, new ByteBuffer[16]) != FrameWriter.Flush.DRAINED) {
            // drain
        }
        Decoded d = decode(out.bytes(), 0);
        assertEquals(2, d.frames().size());
        assertArrayEquals(expectA, d.frames().get(0));
        assertArrayEquals(expectB, d.frames().get(1));
    }

    @Test
    void corruptCrcsCloseWithAProtocolExceptionNamingTheCheck() throws Exception {
        List<byte[]> frames = List.of(bytes(TestFrames.frame(5, 0, 50, false)));
        byte[] stream = streamWithSwitch(frames, new ByteBuffer[16]);
        int segmentStart = 9; // after READY
        byte[] badHeader = stream.clone();
        badHeader[segmentStart + 1] ^= 0x01;
        ProtocolException h = assertThrows(ProtocolException.class,
                () -> readAll(reader(4096), new ScriptedReadChannel(badHeader, new int[0], true)));
        assertTrue(h.getMessage().contains("CRC24 mismatch") && h.getMessage().contains("v5-test"), h.getMessage());

        byte[] badPayload = stream.clone();
        badPayload[segmentStart + 6 + 20] ^= 0x40;
        ProtocolException p = assertThrows(ProtocolException.class,
                () -> readAll(reader(4096), new ScriptedReadChannel(badPayload, new int[0], true)));
        assertTrue(p.getMessage().contains("CRC32 mismatch: read 0x") && p.getMessage().contains("computed 0x"),
                p.getMessage());

        byte[] badTrailer = stream.clone();
        badTrailer[badTrailer.length - 1] ^= 0x01;
        assertThrows(ProtocolException.class,
                () -> readAll(reader(64), new ScriptedReadChannel(badTrailer, new int[]{segmentStart + 3}, true)));
        assertFalse(h.getMessage().isEmpty());
    }
}
