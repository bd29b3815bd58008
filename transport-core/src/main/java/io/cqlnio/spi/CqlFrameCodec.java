package io.cqlnio.spi;

import java.nio.ByteBuffer;

/**
 * The CQL native protocol frame header (v3, v4 and the v5 frame header), 9 bytes:
 * <pre>
 *   0: version   low 7 bits = protocol version 3..6, high bit set on responses
 *   1: flags
 *   2: stream id (2 bytes, signed)
 *   4: opcode
 *   5: body length (4 bytes, big-endian, signed: must be 0..2^31-10)
 * </pre>
 * Accepts both directions, so one codec serves a driver (reading responses) and a test peer (reading
 * requests). It is {@link TransportConfig}'s default, so it lives in the SPI: the contract names its default
 * without an implementation package. Stateless; any thread, concurrently.
 *
 * <pre>{@code
 * ByteBuffer header = ...;                                         // at least 9 bytes readable
 * int total = CqlFrameCodec.INSTANCE.frameLength(header, header.position());  // 9 + body length
 * }</pre>
 */
public final class CqlFrameCodec implements FrameCodec {

    /** The shared instance; {@link #frameLength} throws a {@link ProtocolException} naming a bad value. */
    public static final CqlFrameCodec INSTANCE = new CqlFrameCodec();

    /** Length of the CQL frame header. */
    public static final int HEADER_LENGTH = 9;
    /** Offset of the 4-byte body length within the header. */
    public static final int LENGTH_OFFSET = 5;
    /** Lowest protocol version accepted. */
    public static final int MIN_VERSION = 3;
    /** Highest protocol version accepted (v6 is Cassandra 5.0's beta). */
    public static final int MAX_VERSION = 6;

    private CqlFrameCodec() {
    }

    @Override
    public int headerLength() {
        return HEADER_LENGTH;
    }

    @Override
    public int frameLength(ByteBuffer buffer, int headerOffset) {
        int versionByte = buffer.get(headerOffset) & 0xff;
        int version = versionByte & 0x7f;
        if (version < MIN_VERSION || version > MAX_VERSION) {
            throw new ProtocolException(String.format("invalid protocol version byte 0x%02x (%d): expected %d..%d,"
                    + " with or without the response bit 0x80", versionByte, versionByte, MIN_VERSION, MAX_VERSION));
        }
        int bodyLength = buffer.getInt(headerOffset + LENGTH_OFFSET);
        if (bodyLength < 0 || bodyLength > Integer.MAX_VALUE - HEADER_LENGTH) {
            throw new ProtocolException("invalid frame body length " + bodyLength + " (0x"
                    + Integer.toHexString(bodyLength) + "): must be 0.." + (Integer.MAX_VALUE - HEADER_LENGTH));
        }
        return HEADER_LENGTH + bodyLength;
    }

    @Override
    public String toString() {
        return "CqlFrameCodec";
    }
}
