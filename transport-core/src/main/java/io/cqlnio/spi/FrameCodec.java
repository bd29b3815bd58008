package io.cqlnio.spi;

import java.nio.ByteBuffer;

/**
 * How inbound bytes split into frames: a fixed-length header that declares the frame's total length.
 * The default, {@code io.cqlnio.frame.CqlFrameCodec}, reads the CQL v3/v4/v5 header.
 *
 * <p>Threads: called on loop threads, possibly several at once; implementations must be stateless or
 * thread-safe. The transport checks the returned length against {@code maxFrameLength} and the header
 * length before it sizes any buffer from it.
 *
 * <pre>{@code
 * FrameCodec fixedEight = new FrameCodec() {      // 4-byte length that counts the header too
 *     public int headerLength() { return 4; }
 *     public int frameLength(ByteBuffer b, int at) { return b.getInt(at); }
 * };
 * }</pre>
 */
public interface FrameCodec {

    /** Bytes needed before {@link #frameLength} can be asked; at least 1. */
    int headerLength();

    /**
     * Validates the header that starts at absolute index {@code headerOffset} (at least {@link #headerLength()}
     * bytes are readable there; positions and limits must not be changed) and returns the frame's total
     * length, header included.
     *
     * @throws ProtocolException when the header is invalid; the message names the offending value
     */
    int frameLength(ByteBuffer buffer, int headerOffset);
}
