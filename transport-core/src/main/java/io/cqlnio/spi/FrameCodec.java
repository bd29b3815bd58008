package io.cqlnio.spi;

import java.nio.ByteBuffer;

/**
 * How inbound bytes split into frames: a fixed-length header that declares the frame's total length.
 * The default, {@link #cql()}, reads the CQL v3/v4/v5 frame header.
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
     * The CQL native protocol frame header of protocol v3, v4 and v5 (v5's frames inside segments, too):
     * 9 bytes, of which byte 0 is the version (3..6 in its low 7 bits, the high bit set on responses) and
     * bytes 5..8 the big-endian body length (0..2<sup>31</sup>-10). It accepts requests and responses alike, so
     * it serves a driver and a test peer. This is {@link TransportConfig}'s default.
     *
     * <pre>{@code
     * int total = FrameCodec.cql().frameLength(header, header.position());   // 9 + body length
     * }</pre>
     *
     * @return the shared, stateless instance; its {@link #frameLength} throws a {@link ProtocolException}
     *         that names a bad version byte or body length
     */
    static FrameCodec cql() {
        return CqlHeaderCodec.INSTANCE;
    }

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
