package io.cqlnio.nio;

import io.cqlnio.testkit.TestFrames;
import io.cqlnio.spi.CqlFrameCodec;
import io.cqlnio.spi.ProtocolException;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Invariant 4 and the framing of inbound bytes through the read seam: every split point, frames larger
 * than the read buffer, bad version bytes and hostile lengths.
 */
class FrameReaderTest {

    private static final int READ_BUFFER = 64;

    /** A reader over a fresh shared buffer of {@code readBuffer} bytes. */
    private static FrameReader reader(int readBuffer, int maxFrameLength) {
        ByteBuffer shared = ByteBuffer.allocateDirect(readBuffer);
        return new FrameReader("test-connection", CqlFrameCodec.INSTANCE, maxFrameLength, shared, shared.duplicate());
    }

    /** Reads the whole channel, as the loop would on every readiness event, and returns copies of the frames. */
    private static List<byte[]> drain(FrameReader reader, ScriptedReadChannel channel) throws IOException {
        List<byte[]> frames = new ArrayList<>();
        int guard = 0;
        while (reader.read(new SocketWire(null, channel), frame -> {
            byte[] copy = new byte[frame.remaining()];
            frame.duplicate().get(copy);
            frames.add(copy);
            frame.position(frame.limit()); // a handler may consume the buffer; the reader must not care
            return true;
        }) >= 0) {
            assertTrue(++guard < 1_000_000, "no progress");
            if (channel.exhausted()) {
                break;
            }
        }
        return frames;
    }

    private static List<byte[]> sampleFrames() {
        List<byte[]> frames = new ArrayList<>();
        int[] bodies = {8, 8, 100, 8, 200, 8, 57};
        for (int i = 0; i < bodies.length; i++) {
            ByteBuffer f = TestFrames.frame(5, i, bodies[i], false);
            byte[] b = new byte[f.remaining()];
            f.get(b);
            frames.add(b);
        }
        return frames;
    }

    private static byte[] concat(List<byte[]> frames) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        frames.forEach(out::writeBytes);
        return out.toByteArray();
    }

    private static void assertSameFrames(List<byte[]> expected, List<byte[]> actual, String where) {
        assertEquals(expected.size(), actual.size(), "frame count " + where);
        for (int i = 0; i < expected.size(); i++) {
            assertArrayEquals(expected.get(i), actual.get(i), "frame " + i + " " + where);
        }
    }

    @Test
    void everySingleSplitPoint() throws IOException {
        List<byte[]> frames = sampleFrames();
        byte[] stream = concat(frames);
        for (int cut = 1; cut < stream.length; cut++) {
            List<byte[]> got = drain(reader(READ_BUFFER, 1 << 20), new ScriptedReadChannel(stream, new int[]{cut}, true));
            assertSameFrames(frames, got, "with a cut at " + cut);
        }
    }

    @Test
    void everyPairOfSplitPoints() throws IOException {
        List<byte[]> frames = sampleFrames().subList(0, 4);
        byte[] stream = concat(frames);
        for (int a = 1; a < stream.length; a++) {
            for (int b = a + 1; b < stream.length; b++) {
                List<byte[]> got = drain(reader(READ_BUFFER, 1 << 20),
                        new ScriptedReadChannel(stream, new int[]{a, b}, true));
                assertSameFrames(frames, got, "with cuts at " + a + " and " + b);
            }
        }
    }

    @Test
    void randomCutsOverALongStreamWithFramesLargerThanTheReadBuffer() throws IOException {
        long seed = System.nanoTime();
        SplittableRandom random = new SplittableRandom(seed);
        List<byte[]> frames = new ArrayList<>();
        for (int i = 0; i < 2_000; i++) {
            int body = random.nextInt(10) == 0 ? TestFrames.STORY_BODY : 8 + random.nextInt(500);
            ByteBuffer f = TestFrames.frame(6, i, body, false);
            byte[] b = new byte[f.remaining()];
            f.get(b);
            frames.add(b);
        }
        byte[] stream = concat(frames);
        int[] cuts = random.ints(5_000, 1, stream.length).sorted().distinct().toArray();
        for (int readBuffer : new int[]{64, 1000, 65536}) {
            List<byte[]> got = drain(reader(readBuffer, 1 << 20), new ScriptedReadChannel(stream, cuts, true));
            assertSameFrames(frames, got, "seed " + seed + ", read buffer " + readBuffer);
        }
    }

    @Test
    void everyBadVersionByteIsRejectedNamingTheValue() {
        for (int v = 0; v < 256; v++) {
            int version = v & 0x7f;
            byte[] frame = TestFrames.frame(0, 0, 8, false).array();
            frame[0] = (byte) v;
            FrameReader reader = reader(READ_BUFFER, 1 << 20);
            ScriptedReadChannel channel = new ScriptedReadChannel(frame, new int[0], true);
            if (version >= 3 && version <= 6) {
                assertEquals(1, assertDoesNotThrowFrames(reader, channel));
            } else {
                ProtocolException e = assertThrows(ProtocolException.class, () -> drain(reader, channel));
                String hex = String.format("0x%02x (%d)", v, v);
                assertTrue(e.getMessage().contains(hex) && e.getMessage().contains("test-connection"),
                        "message must name " + hex + " and the connection: " + e.getMessage());
            }
        }
    }

    @Test
    void theStorysByte95() {
        byte[] frame = TestFrames.frame(0, 0, 8, false).array();
        frame[0] = 0x5f;
        ProtocolException e = assertThrows(ProtocolException.class,
                () -> drain(reader(READ_BUFFER, 1 << 20), new ScriptedReadChannel(frame, new int[0], true)));
        assertTrue(e.getMessage().startsWith("invalid protocol version byte 0x5f (95)"), e.getMessage());
    }

    private static int assertDoesNotThrowFrames(FrameReader reader, ScriptedReadChannel channel) {
        try {
            return drain(reader, channel).size();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void hostileLengthsFailBeforeAnythingIsSizedFromThem() {
        int max = 1 << 20;
        for (int pass = 0; pass < 2; pass++) { // the first pass pays for class loading and JIT
        for (int length : new int[]{-1, Integer.MIN_VALUE, Integer.MAX_VALUE, Integer.MAX_VALUE - 9, max, 2_000_000_000}) {
            byte[] header = {0x04, 0, 0, 1, 0x07, 0, 0, 0, 0};
            ByteBuffer.wrap(header).putInt(5, length);
            // The header alone, and then the header split after its first byte.
            for (int[] cuts : new int[][]{{}, {1}, {5}, {8}}) {
                FrameReader reader = reader(READ_BUFFER, max);
                long before = allocatedBytes();
                ProtocolException e = assertThrows(ProtocolException.class,
                        () -> drain(reader, new ScriptedReadChannel(header, cuts, false)));
                long allocated = allocatedBytes() - before;
                // Named as the header's body length, or as the total frame length it implies.
                assertTrue(e.getMessage().contains(String.valueOf(length))
                        || e.getMessage().contains(String.valueOf(length + 9L)), e.getMessage());
                if (pass == 1) {
                    assertTrue(allocated < 64 * 1024, "allocated " + allocated + " bytes for a hostile length " + length);
                }
            }
        }
        }
    }

    @Test
    void aValidButHugeFrameTrickledInGetsOnlyWhatArrived() throws IOException {
        int declared = 200 << 20; // within maxFrameLength 256 MiB, but only 4 KiB ever arrive
        byte[] stream = new byte[9 + 4096];
        ByteBuffer.wrap(stream).put((byte) 0x84).put((byte) 0).putShort((short) 1).put((byte) 8).putInt(declared - 9);
        FrameReader reader = reader(READ_BUFFER, 256 << 20);
        long before = allocatedBytes();
        List<byte[]> got = drain(reader, new ScriptedReadChannel(stream, new int[]{100, 1000, 2000}, false));
        long allocated = allocatedBytes() - before;
        assertEquals(0, got.size());
        assertEquals(stream.length, reader.carriedBytes());
        assertTrue(allocated < 1 << 20, "allocated " + allocated + " bytes for 4 KiB of a declared 200 MiB frame");
    }

    @Test
    void lengthAboveMaxFrameLengthNamesBothNumbers() {
        byte[] header = {(byte) 0x84, 0, 0, 1, 0x08, 0, 0, 0, 0};
        ByteBuffer.wrap(header).putInt(5, 5000);
        ProtocolException e = assertThrows(ProtocolException.class,
                () -> drain(reader(READ_BUFFER, 4096), new ScriptedReadChannel(header, new int[0], false)));
        assertTrue(e.getMessage().contains("5009") && e.getMessage().contains("4096"), e.getMessage());
    }

    @Test
    void garbageAfterValidFramesFailsAfterDeliveringThem() {
        List<byte[]> frames = sampleFrames().subList(0, 2);
        byte[] good = concat(frames);
        byte[] stream = Arrays.copyOf(good, good.length + 20);
        Arrays.fill(stream, good.length, stream.length, (byte) 0x5f);
        List<byte[]> delivered = new ArrayList<>();
        FrameReader reader = reader(READ_BUFFER, 1 << 20);
        ScriptedReadChannel channel = new ScriptedReadChannel(stream, new int[0], true);
        assertThrows(ProtocolException.class, () -> {
            while (reader.read(new SocketWire(null, channel), f -> {
                byte[] copy = new byte[f.remaining()];
                f.get(copy);
                delivered.add(copy);
                return true;
            }) >= 0) {
                // keep reading
            }
        });
        assertSameFrames(frames, delivered, "before the garbage");
    }

    private static long allocatedBytes() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean())
                .getThreadAllocatedBytes(Thread.currentThread().getId());
    }
}
