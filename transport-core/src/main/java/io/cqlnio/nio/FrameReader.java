package io.cqlnio.nio;

import io.cqlnio.spi.FrameCodec;
import io.cqlnio.spi.ProtocolException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ReadableByteChannel;

/**
 * The read path of one connection: reads into the loop's shared buffer, hands every whole frame found
 * there to the sink as a view (no copy), and carries a trailing partial frame over to the next read in a
 * buffer of its own.
 *
 * <p>Invariant 4: a header is validated (by the codec, then against {@code maxFrameLength}) before any
 * buffer is sized from it, and the carry buffer for a long frame grows with the bytes that actually
 * arrived, so a peer that declares a huge frame and then trickles gets no more memory than it sent.
 *
 * <p>Loop thread only.
 */
final class FrameReader {

    /** Receives whole frames; returns {@code false} to stop delivery (the connection closed). */
    interface Sink {
        boolean onFrame(ByteBuffer frame);
    }

    /** A carry buffer up to this size is kept for the next partial frame; a larger one goes back to the GC. */
    static final int RETAINED_CARRY = 1024 * 1024;
    /** First carry buffer for a frame of known length: the whole frame up to this, else what arrived. */
    static final int INITIAL_CARRY = 64 * 1024;
    /** Reads per readiness event before the loop serves others. */
    static final int MAX_READS_PER_TURN = 16;

    private final Object owner;
    private final FrameCodec codec;
    private final int headerLength;
    private final int maxFrameLength;
    private final ByteBuffer shared;
    private final ByteBuffer view;

    private ByteBuffer carry;
    private boolean carrying;
    /** Read but not delivered: the sink stopped (paused) with these bytes in hand. */
    private ByteBuffer backlog;
    /** Total length of the carried frame, or -1 while its header is incomplete. */
    private int carryFrameLength = -1;

    volatile long framesRead;
    volatile long bytesRead;

    /**
     * @param shared the loop's read buffer; {@code view} a duplicate of it used to hand out frames, so that
     *               a handler moving the view's position or limit cannot disturb parsing
     */
    FrameReader(Object owner, FrameCodec codec, int maxFrameLength, ByteBuffer shared, ByteBuffer view) {
        this.owner = owner;
        this.codec = codec;
        this.headerLength = codec.headerLength();
        this.maxFrameLength = maxFrameLength;
        this.shared = shared;
        this.view = view;
    }

    /**
     * Reads what the channel has (up to {@link #MAX_READS_PER_TURN} reads) and delivers every whole frame.
     * When the sink stops (it paused or closed), the bytes already read are held for {@link #resume}.
     *
     * @return bytes read, or -1 at end of stream
     * @throws ProtocolException on an invalid header; the connection must close
     */
    int read(ReadableByteChannel channel, Sink sink) throws IOException {
        int total = 0;
        for (int i = 0; i < MAX_READS_PER_TURN; i++) {
            shared.clear();
            int n = channel.read(shared);
            if (n < 0) {
                return total == 0 ? -1 : total;
            }
            if (n == 0) {
                break;
            }
            total += n;
            bytesRead += n;
            shared.flip();
            if (!deliver(shared, view, sink) || n < shared.capacity()) {
                break;
            }
        }
        return total;
    }

    /**
     * Delivers the frames held when the sink last stopped.
     *
     * @return {@code false} if the sink stopped again (what is left stays held)
     */
    boolean resume(Sink sink) {
        ByteBuffer held = backlog;
        if (held == null) {
            return true;
        }
        backlog = null;
        return deliver(held, held.duplicate(), sink);
    }

    /** Bytes of an unfinished frame held over; they are lost if the stream ends now. */
    int carriedBytes() {
        return carrying ? carry.position() : 0;
    }

    /** Bytes read but not yet delivered because the sink stopped. */
    int heldBytes() {
        return backlog == null ? 0 : backlog.remaining();
    }

    /** Frames whole in {@code src} go to the sink through {@code view} (a duplicate of src); the tail is carried. */
    private boolean deliver(ByteBuffer src, ByteBuffer view, Sink sink) {
        if (carrying && !continueCarry(src, sink)) {
            hold(src);
            return false;
        }
        while (src.remaining() >= headerLength) {
            int start = src.position();
            int length = frameLength(src, start);
            if (src.remaining() < length) {
                break;
            }
            src.position(start + length);
            view.clear();
            view.limit(start + length).position(start);
            view.order(ByteOrder.BIG_ENDIAN);
            framesRead++;
            if (!sink.onFrame(view)) {
                hold(src);
                return false;
            }
        }
        if (src.hasRemaining()) {
            startCarry(src);
        }
        return true;
    }

    /** Keeps what the sink did not take; {@code src} may be the loop's shared buffer, so copy. */
    private void hold(ByteBuffer src) {
        if (src.hasRemaining()) {
            ByteBuffer copy = ByteBuffer.allocate(src.remaining());
            copy.put(src).flip();
            backlog = copy;
        }
    }

    /** Completes the carried frame from {@code src}; {@code false} if delivery must stop. */
    private boolean continueCarry(ByteBuffer src, Sink sink) {
        if (carryFrameLength < 0) {
            copyIntoCarry(src, headerLength - carry.position());
            if (carry.position() < headerLength) {
                return true;
            }
            carryFrameLength = frameLength(carry, 0);
        }
        copyIntoCarry(src, carryFrameLength - carry.position());
        if (carry.position() < carryFrameLength) {
            return true;
        }
        carry.flip();
        carrying = false;
        carryFrameLength = -1;
        framesRead++;
        boolean go = sink.onFrame(carry);
        carry.clear();
        carry.order(ByteOrder.BIG_ENDIAN);
        if (carry.capacity() > RETAINED_CARRY) {
            carry = null;
        }
        return go;
    }

    private void startCarry(ByteBuffer src) {
        carrying = true;
        // deliver() validated this header already when it is complete: the length is within maxFrameLength.
        carryFrameLength = src.remaining() >= headerLength ? frameLength(src, src.position()) : -1;
        if (carry == null) {
            int first = carryFrameLength > 0
                    ? Math.min(carryFrameLength, Math.max(src.remaining(), INITIAL_CARRY))
                    : headerLength;
            carry = ByteBuffer.allocate(first);
        }
        copyIntoCarry(src, src.remaining());
    }

    /** Moves up to {@code wanted} bytes from {@code src} to the carry, growing it only as bytes arrive. */
    private void copyIntoCarry(ByteBuffer src, int wanted) {
        int n = Math.min(wanted, src.remaining());
        if (n <= 0) {
            return;
        }
        int needed = carry.position() + n;
        if (needed > carry.capacity()) {
            int ceiling = carryFrameLength > 0 ? carryFrameLength : headerLength;
            int capacity = (int) Math.min(ceiling, Math.max(needed, 2L * carry.capacity()));
            ByteBuffer bigger = ByteBuffer.allocate(capacity);
            carry.flip();
            bigger.put(carry);
            carry = bigger;
        }
        int limit = src.limit();
        src.limit(src.position() + n);
        carry.put(src);
        src.limit(limit);
    }

    private int frameLength(ByteBuffer buffer, int headerOffset) {
        int length;
        try {
            length = codec.frameLength(buffer, headerOffset);
        } catch (ProtocolException e) {
            throw new ProtocolException(e.getMessage() + " on " + owner, e);
        }
        if (length > maxFrameLength) {
            throw new ProtocolException("frame length " + length + " exceeds maxFrameLength " + maxFrameLength
                    + " on " + owner);
        }
        if (length < headerLength) {
            throw new ProtocolException("frame length " + length + " is shorter than the " + headerLength
                    + "-byte header on " + owner);
        }
        return length;
    }
}
