package io.cqlnio.nio;

import io.cqlnio.frame.Lz4Segments;
import io.cqlnio.frame.Segments;
import io.cqlnio.spi.FrameCodec;
import io.cqlnio.spi.ProtocolException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32;

/**
 * The read path of one connection: reads into the loop's shared buffer, hands every whole frame found
 * there to the sink as a view (no copy), and carries a trailing partial frame over to the next read in a
 * buffer of its own.
 *
 * <p>Invariant 4 (docs/ARCHITECTURE.md): a header is validated (by the codec, then against {@code maxFrameLength}) before any
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
    /** Raw segment bytes read but not yet unwrapped because the sink stopped; handled after {@link #backlog}. */
    private ByteBuffer segmentBacklog;

    /** Protocol v5: inbound bytes are segments; their payloads carry the frames. */
    private boolean segments;
    /** Segments are LZ4-compressed ({@link Lz4Segments}) when not null. */
    private Lz4Codec lz4;
    /** A compressed segment's payload, decompressed; grows up to one payload, reused. */
    private ByteBuffer inflated;
    private ByteBuffer inflatedView;
    /** A segment that straddles reads, collected whole before it is checked and unwrapped. */
    private ByteBuffer segment;
    private ByteBuffer segmentView;
    private final CRC32 crc = new CRC32();
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
    int read(Wire channel, Sink sink) throws IOException {
        if ((backlog != null || segmentBacklog != null) && !resume(sink)) {
            return 0; // never read past bytes still held: they come first
        }
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
            boolean go = segments ? deliverSegments(shared, view, sink) : deliver(shared, view, sink);
            if (!go || n < shared.capacity()) {
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
        if (held != null) {
            backlog = null;
            if (!deliver(held, held.duplicate(), sink)) {
                return false;
            }
        }
        ByteBuffer raw = segmentBacklog;
        if (raw != null) {
            segmentBacklog = null;
            return deliverSegments(raw, raw.duplicate(), sink);
        }
        return true;
    }

    /** Loop. From the next byte on, inbound bytes are v5 segments. */
    void switchToSegments() {
        switchToSegments(null);
    }

    /** Loop. From the next byte on, inbound bytes are v5 segments, LZ4-compressed unless {@code codec} is null. */
    void switchToSegments(Lz4Codec codec) {
        lz4 = codec;
        segments = true;
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
        if (carrying) {
            boolean wasSegments = segments;
            if (!continueCarry(src, sink)) {
                hold(src);
                return false;
            }
            if (segments != wasSegments) {
                return deliverSegments(src, view, sink);
            }
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
            boolean wasSegments = segments;
            if (!sink.onFrame(view)) {
                hold(src);
                return false;
            }
            if (segments != wasSegments) {
                // The handler switched to v5 (on READY): what follows in this buffer is segments.
                return deliverSegments(src, view, sink);
            }
        }
        if (src.hasRemaining()) {
            startCarry(src);
        }
        return true;
    }

    /**
     * Unwraps every whole segment in {@code src}: checks the header's CRC24 before trusting its length and the
     * payload's CRC32 before delivering a byte of it, then hands the payload to the frame splitter, whose carry
     * joins a frame spread over several segments. A segment cut by the end of {@code src} waits in
     * {@link #segment}.
     */
    private boolean deliverSegments(ByteBuffer src, ByteBuffer srcView, Sink sink) {
        if (segment != null && segment.position() > 0) {
            if (!completeSegment(src)) {
                return true;
            }
            segment.flip();
            boolean go = unwrap(segment, segmentView, sink, src);
            segment.clear();
            if (!go) {
                return false;
            }
        }
        int headerLength = segmentHeaderLength();
        while (src.remaining() >= headerLength) {
            int start = src.position();
            int total = segmentLength(src, start);
            if (src.remaining() < total) {
                break;
            }
            int end = start + total;
            int limit = src.limit();
            src.limit(end);
            boolean go = unwrap(src, srcView, sink, null);
            src.limit(limit).position(end);
            if (!go) {
                holdSegments(src);
                return false;
            }
        }
        if (src.hasRemaining()) {
            if (segment == null) {
                // The largest segment either format allows: its lengths are 17-bit fields, never trusted further.
                segment = ByteBuffer.allocateDirect(Lz4Segments.HEADER_LENGTH + Segments.MAX_PAYLOAD
                        + Segments.TRAILER_LENGTH);
                segmentView = segment.duplicate();
            }
            segment.put(src);
        }
        return true;
    }

    /** Moves bytes of the segment in progress from {@code src}; {@code true} once it is whole. */
    private boolean completeSegment(ByteBuffer src) {
        int headerLength = segmentHeaderLength();
        if (segment.position() < headerLength) {
            int n = Math.min(headerLength - segment.position(), src.remaining());
            copy(src, segment, n);
            if (segment.position() < headerLength) {
                return false;
            }
        }
        int total = segmentLength(segment, 0);
        copy(src, segment, Math.min(total - segment.position(), src.remaining()));
        return segment.position() == total;
    }

    /**
     * One whole segment, position..limit of {@code buf}: verify, then deliver its payload's frames through
     * {@code payloadView} (a duplicate of buf). {@code rest}, when not null, is what follows in the read buffer,
     * held too if the sink stops.
     */
    private boolean unwrap(ByteBuffer buf, ByteBuffer payloadView, Sink sink, ByteBuffer rest) {
        int start = buf.position();
        int length;
        int uncompressedLength = 0;
        boolean selfContained;
        int payloadStart;
        if (lz4 == null) {
            int header3b = checkedHeader(buf, start);
            length = Segments.payloadLength(header3b);
            selfContained = Segments.isSelfContained(header3b);
            payloadStart = start + Segments.HEADER_LENGTH;
        } else {
            long header5b = checkedLz4Header(buf, start);
            length = Lz4Segments.compressedLength(header5b);
            uncompressedLength = Lz4Segments.uncompressedLength(header5b);
            selfContained = Lz4Segments.isSelfContained(header5b);
            payloadStart = start + Lz4Segments.HEADER_LENGTH;
        }
        int payloadEnd = payloadStart + length;
        Segments.reset(crc);
        int limit = buf.limit();
        buf.limit(payloadEnd).position(payloadStart);
        crc.update(buf);
        buf.limit(limit);
        int computed = (int) crc.getValue();
        int read = Segments.readTrailer(buf, payloadEnd);
        if (read != computed) {
            throw new ProtocolException(String.format("segment payload CRC32 mismatch: read 0x%08x, computed 0x%08x"
                    + " over %d payload bytes on %s", read, computed, length, owner));
        }
        if (selfContained && carrying) {
            throw new ProtocolException("a self-contained segment arrived while a frame spanning segments was"
                    + " unfinished (" + carry.position() + " bytes of it received) on " + owner);
        }
        boolean go;
        if (uncompressedLength == 0) {
            // Uncompressed framing, or a compressed segment's payload stored as is: the frames are right here.
            buf.limit(payloadEnd).position(payloadStart);
            go = deliverPayload(buf, payloadView, sink);
        } else {
            inflate(buf, payloadStart, length, uncompressedLength);
            length = uncompressedLength;
            go = deliverPayload(inflated, inflatedView, sink);
        }
        if (go && selfContained && carrying) {
            throw new ProtocolException("a self-contained segment of " + length + " bytes ends inside a frame ("
                    + carry.position() + " bytes of it in the segment) on " + owner);
        }
        buf.limit(limit).position(payloadEnd + Segments.TRAILER_LENGTH);
        if (!go && rest != null) {
            holdSegments(rest);
        }
        return go;
    }

    /** The frames of one verified payload; a frame continued in the next segment goes to the carry. */
    private boolean deliverPayload(ByteBuffer payload, ByteBuffer payloadView, Sink sink) {
        boolean wasSegments = segments;
        segments = false; // deliver() must not re-enter segment parsing for a payload
        try {
            return deliver(payload, payloadView, sink);
        } finally {
            segments = wasSegments;
        }
    }

    /**
     * Decompresses a verified payload into {@link #inflated} (position 0, limit the length). The declared length
     * is at most 128 KiB - 1 (a 17-bit field), so the buffer is bounded whatever the peer claims, and the
     * decompressor never writes past it: a block that would (a bomb) or that is malformed fails here.
     */
    private void inflate(ByteBuffer src, int at, int length, int declared) {
        if (inflated == null || inflated.capacity() < declared) {
            inflated = ByteBuffer.allocateDirect(Math.min(Segments.MAX_PAYLOAD, (declared + 4095) & ~4095));
            inflatedView = inflated.duplicate();
        }
        inflated.clear();
        int produced;
        try {
            produced = lz4.decompress(src, at, length, inflated, 0, inflated.capacity());
        } catch (ProtocolException e) {
            throw new ProtocolException("compressed segment declaring " + declared + " uncompressed bytes: "
                    + e.getMessage() + " on " + owner, e);
        }
        if (produced != declared) {
            throw new ProtocolException("compressed segment declares " + declared + " uncompressed bytes but its "
                    + length + "-byte LZ4 block decompressed to " + produced + " on " + owner);
        }
        inflated.limit(produced);
    }

    private int segmentHeaderLength() {
        return lz4 == null ? Segments.HEADER_LENGTH : Lz4Segments.HEADER_LENGTH;
    }

    /** Checks the header at {@code index} (its CRC24) and returns the whole segment's length on the wire. */
    private int segmentLength(ByteBuffer buf, int index) {
        if (lz4 == null) {
            return Segments.HEADER_LENGTH + Segments.payloadLength(checkedHeader(buf, index)) + Segments.TRAILER_LENGTH;
        }
        return Lz4Segments.HEADER_LENGTH + Lz4Segments.compressedLength(checkedLz4Header(buf, index))
                + Segments.TRAILER_LENGTH;
    }

    private long checkedLz4Header(ByteBuffer buf, int index) {
        try {
            return Lz4Segments.readHeader(buf, index);
        } catch (ProtocolException e) {
            throw new ProtocolException(e.getMessage() + " on " + owner, e);
        }
    }

    private int checkedHeader(ByteBuffer buf, int index) {
        try {
            return Segments.readHeader(buf, index);
        } catch (ProtocolException e) {
            throw new ProtocolException(e.getMessage() + " on " + owner, e);
        }
    }

    private void holdSegments(ByteBuffer src) {
        segmentBacklog = remainingCopy(src);
    }

    private static void copy(ByteBuffer src, ByteBuffer dst, int n) {
        int limit = src.limit();
        src.limit(src.position() + n);
        dst.put(src);
        src.limit(limit);
    }

    /** Keeps what the sink did not take; {@code src} may be the loop's shared buffer, so copy. */
    private void hold(ByteBuffer src) {
        backlog = remainingCopy(src);
    }

    /** What is left of {@code src}, copied (it may be the loop's shared buffer); {@code null} when nothing is. */
    private static ByteBuffer remainingCopy(ByteBuffer src) {
        if (!src.hasRemaining()) {
            return null;
        }
        ByteBuffer copy = ByteBuffer.allocate(src.remaining());
        copy.put(src).flip();
        return copy;
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
        copy(src, carry, n);
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
