package io.cqlnio.spi;

/**
 * How frames are carried on the wire; see {@link Connection#switchFraming}.
 *
 * <pre>{@code
 * // in onFrame, on the READY that answers a v5 STARTUP:
 * connection.switchFraming(Framing.V5_SEGMENTS);
 * // or, when that STARTUP carried COMPRESSION: lz4
 * connection.switchFraming(Framing.V5_SEGMENTS_LZ4);
 * }</pre>
 */
public enum Framing {
    /** Frames back to back: protocol v3 and v4, and v5 up to its READY. */
    FRAMES,
    /**
     * Protocol v5 segments, uncompressed: a 6-byte header guarded by a CRC24, a payload of whole frames (or one
     * slice of a frame too large for one segment) and a CRC32 trailer. See {@code io.cqlnio.frame.Segments}.
     */
    V5_SEGMENTS,
    /**
     * Protocol v5 segments compressed with LZ4, after a STARTUP that asked for {@code COMPRESSION: lz4}: an 8-byte
     * header (compressed and uncompressed lengths, self-contained flag) guarded by a CRC24, a payload that is one
     * raw LZ4 block (or stored as is when compressing would not shrink it) and a CRC32 trailer over the payload as
     * sent. See {@code io.cqlnio.frame.Lz4Segments}. Needs {@code at.yawk.lz4:lz4-java} (an optional dependency of
     * {@code transport-core}): without it {@link Connection#switchFraming} throws
     * {@link UnsupportedOperationException} naming the artifact.
     */
    V5_SEGMENTS_LZ4
}
