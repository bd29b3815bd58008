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
            if (!deliver(sink) || n < shared.capacity()) {
                break;
            }
        }
        return total;
    }

    /** Bytes of an unfinished frame held over; they are lost if the stream ends now. */
    int carriedBytes() {
        return carrying ? carry.position() : 0;
    }

    private boolean deliver(Sink sink) {
        if (carrying && !continueCarry(sink)) {
            return false;
        }
        while (shared.remaining() >= headerLength) {
            int start = shared.position();
            int length = frameLength(shared, start);
            if (shared.remaining() < length) {
                break;
            }
            shared.position(start + length);
            view.clear();
            view.limit(start + length).position(start);
            view.order(ByteOrder.BIG_ENDIAN);
            framesRead++;
            if (!sink.onFrame(view)) {
                return false;
            }
        }
        if (shared.hasRemaining()) {
            startCarry();
        }
        return true;
    }

    /** Completes the carried frame from the shared buffer; {@code false} if delivery must stop. */
    private boolean continueCarry(Sink sink) {
        if (carryFrameLength < 0) {
            copyIntoCarry(headerLength - carry.position());
            if (carry.position() < headerLength) {
                return true;
            }
            carryFrameLength = frameLength(carry, 0);
        }
        copyIntoCarry(carryFrameLength - carry.position());
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

    private void startCarry() {
        carrying = true;
        // deliver() validated this header already when it is complete: the length is within maxFrameLength.
        carryFrameLength = shared.remaining() >= headerLength ? frameLength(shared, shared.position()) : -1;
        if (carry == null) {
            int first = carryFrameLength > 0
                    ? Math.min(carryFrameLength, Math.max(shared.remaining(), INITIAL_CARRY))
                    : headerLength;
            carry = ByteBuffer.allocate(first);
        }
        copyIntoCarry(shared.remaining());
    }

    /** Moves up to {@code wanted} bytes from the shared buffer to the carry, growing it only as bytes arrive. */
    private void copyIntoCarry(int wanted) {
        int n = Math.min(wanted, shared.remaining());
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
        int limit = shared.limit();
        shared.limit(shared.position() + n);
        carry.put(shared);
        shared.limit(limit);
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
