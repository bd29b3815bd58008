package io.cqlnio.testkit;

import io.cqlnio.spi.CqlFrameCodec;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * CQL-shaped test frames (9-byte v4 header, the producer in the stream id, producer and sequence in the first 8
 * body bytes) whose every byte is a function of (producer, sequence, index): a receiver tells a byte-exact frame
 * from a torn, shifted or reordered one, and names the first wrong byte. Stateless; any thread.
 */
public final class TestFrames {

    /** The v4 header; the codec's own constant, so the tests and the transport cannot disagree on it. */
    public static final int HEADER = CqlFrameCodec.HEADER_LENGTH;
    /** The origin story's frame: 9-byte header + 23,928-byte body = 23,937 bytes. */
    public static final int STORY_BODY = 23_928;
    public static final int STORY_FRAME = HEADER + STORY_BODY;

    private TestFrames() {
    }

    /** A request frame with at least 8 body bytes: producer in the stream id, sequence in the body. */
    public static ByteBuffer frame(int producer, int seq, int bodyLength, boolean direct) {
        int body = Math.max(bodyLength, 8);
        ByteBuffer b = direct ? ByteBuffer.allocateDirect(HEADER + body) : ByteBuffer.allocate(HEADER + body);
        b.put((byte) 0x04).put((byte) 0).putShort((short) producer).put((byte) 0x07).putInt(body);
        b.putInt(producer).putInt(seq);
        for (int i = 8; i < body; i++) {
            b.put(fill(producer, seq, i));
        }
        return b.flip();
    }

    /** A response-direction frame (version byte 0x84), as a server sends it. */
    public static ByteBuffer response(int producer, int seq, int bodyLength) {
        ByteBuffer b = frame(producer, seq, bodyLength, false);
        b.put(0, (byte) 0x84);
        return b;
    }

    /**
     * Checks a byte stream that several producers' frames were written into: every frame whole and byte-exact,
     * each producer's in its own order from sequence 0, nothing between them.
     *
     * @return how many frames the stream holds
     * @throws AssertionError naming the first bad frame or byte
     */
    public static int checkInterleaved(byte[] stream, int producers) {
        ByteBuffer out = ByteBuffer.wrap(stream);
        int[] next = new int[producers];
        int frames = 0;
        while (out.hasRemaining()) {
            int length = HEADER + out.getInt(out.position() + 5);
            ByteBuffer frame = out.slice().limit(length);
            int producer = frame.getShort(2);
            int seq = check(frame, producer);
            if (seq != next[producer]) {
                throw new AssertionError("frame " + frames + ": producer " + producer + " sequence " + seq
                        + " where " + next[producer] + " was due");
            }
            next[producer]++;
            out.position(out.position() + length);
            frames++;
        }
        return frames;
    }

    /** Body byte {@code index} of frame ({@code producer}, {@code seq}). */
    public static byte fill(int producer, int seq, int index) {
        return (byte) (producer * 31 + seq * 17 + index * 7 + (index >>> 8));
    }

    /**
     * Checks one whole frame (position..limit), of either direction, and returns its sequence number.
     *
     * @param expectedProducer the producer it must come from, or -1 for any
     * @throws AssertionError naming the first bad byte
     */
    public static int check(ByteBuffer frame, int expectedProducer) {
        int p = frame.position();
        if (frame.remaining() < HEADER + 8) {
            throw new AssertionError("frame of " + frame.remaining() + " bytes is shorter than header + 8");
        }
        int version = frame.get(p) & 0x7f;
        int body = frame.getInt(p + 5);
        if (version != 4 || frame.remaining() != HEADER + body) {
            throw new AssertionError("bad header: version byte " + frame.get(p) + ", body " + body + ", have "
                    + frame.remaining());
        }
        int producer = frame.getInt(p + HEADER);
        int seq = frame.getInt(p + HEADER + 4);
        if (producer != expectedProducer && expectedProducer >= 0) {
            throw new AssertionError("producer " + producer + " where " + expectedProducer + " was expected");
        }
        if (frame.getShort(p + 2) != (short) producer) {
            throw new AssertionError("stream id " + frame.getShort(p + 2) + " does not match producer " + producer);
        }
        for (int i = 8; i < body; i++) {
            if (frame.get(p + HEADER + i) != fill(producer, seq, i)) {
                throw new AssertionError("frame " + producer + "/" + seq + " byte " + i + " of " + body + " is wrong");
            }
        }
        return seq;
    }

    /**
     * Splits a frame into 1..5 parts at random points, empty parts included: the multi-part write must put
     * them on the wire contiguously, in array order.
     */
    public static ByteBuffer[] parts(ByteBuffer frame, SplittableRandom random) {
        int n = 1 + random.nextInt(5);
        int[] cuts = new int[n + 1];
        cuts[0] = frame.position();
        cuts[n] = frame.limit();
        for (int i = 1; i < n; i++) {
            cuts[i] = cuts[0] + random.nextInt(frame.remaining() + 1);
        }
        Arrays.sort(cuts, 1, n);
        ByteBuffer[] parts = new ByteBuffer[n];
        for (int i = 0; i < n; i++) {
            parts[i] = frame.duplicate().limit(cuts[i + 1]).position(cuts[i]);
        }
        return parts;
    }

    /** Mostly small bodies, some mid-size, and the story's 23,928-byte body one time in fifty. */
    public static int mixedBody(SplittableRandom random) {
        int r = random.nextInt(100);
        if (r < 2) {
            return STORY_BODY;
        }
        if (r < 10) {
            return 1024 + random.nextInt(8192);
        }
        return 8 + random.nextInt(300);
    }
}
