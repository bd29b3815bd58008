package io.cqlnio.spi;

import java.nio.ByteBuffer;

/**
 * How inbound bytes split into frames: a fixed-length header that declares the frame's total length.
 * The default, {@link CqlFrameCodec}, reads the CQL v3/v4/v5 frame header.
 *
 * <p>Threads: called on loop threads, possibly several at once; implementations must be stateless or
 * thread-safe. The transport checks the returned length against {@code maxFrameLength} and the header
 * length before it sizes any buffer from it.
 *
 * <pre>{@code
 * FrameCodec lengthPrefixed = new FrameCodec() {   // a 4-byte length that counts the header too
 *     public int headerLength() { return 4; }
 *     public int frameLength(ByteBuffer b, int at) { return b.getInt(at); }
 * };
 * TransportConfig config = TransportConfig.builder().frameCodec(lengthPrefixed).build();
 * }</pre>
 */
public interface FrameCodec {

    /**
     * Threads: any, concurrently.
     *
     * @return bytes needed before {@link #frameLength} can be asked; at least 1
     */
    int headerLength();

    /**
     * Validates the header that starts at absolute index {@code headerOffset} and returns the frame's total
     * length, header included. Threads: any, concurrently; it must not block.
     *
     * @param buffer       holds at least {@link #headerLength()} readable bytes from {@code headerOffset}; its
     *                     position and limit must not be changed
     * @param headerOffset absolute index of the header's first byte
     * @return the frame's total length in bytes, header included
     * @throws ProtocolException when the header is invalid; the message names the offending value
     */
    int frameLength(ByteBuffer buffer, int headerOffset);
}
