package io.cqlnio.spi;

/**
 * How frames are carried on the wire; see {@link Connection#switchFraming}.
 *
 * <pre>{@code
 * // in onFrame, on the READY that answers a v5 STARTUP:
 * connection.switchFraming(Framing.V5_SEGMENTS);
 * }</pre>
 */
public enum Framing {
    /** Frames back to back: protocol v3 and v4, and v5 up to its READY. */
    FRAMES,
    /**
     * Protocol v5 segments, uncompressed: a 6-byte header guarded by a CRC24, a payload of whole frames (or one
     * slice of a frame too large for one segment) and a CRC32 trailer. See {@code io.cqlnio.frame.Segments}.
     */
    V5_SEGMENTS
}
