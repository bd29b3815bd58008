package io.cqlnio.nio;

/**
 * What the {@link FrameWriter} asks of the v5 segment layer once the switch is staged: {@link SegmentPacker}
 * (uncompressed, frames' own buffers between header and trailer) or {@link Lz4SegmentPacker} (compressed
 * copies). A frame packed into a segment is useless to the peer until its segment's trailer arrives, so the
 * writer hands each retired segment entry back here and learns which frames that completed.
 *
 * <p>Single-threaded: whoever holds the writer.
 */
interface Packer {

    /** Takes {@code frame}, accepted after the switch, in write order. */
    void pack(WriteEntry frame, EntryList staged);

    /**
     * The writer is about to gather: stage what was packed, at least {@code budget} bytes of it when that much
     * is held (a compressing packer stages lazily, so a backlog stays uncompressed and counted as pending).
     */
    void stage(EntryList staged, long budget);

    /**
     * The writer retired {@code e} (every byte of it is with the kernel).
     *
     * @return frames that are now written: those whose segment's trailer this completes
     */
    int retired(WriteEntry e);

    /** The connection ends: frames written but waiting for their trailer fail first, being the oldest. */
    void failAwaiting(Throwable cause);

    /** The connection ends, after the staged entries failed: frames taken but not yet staged fail, in order. */
    void failHeld(Throwable cause);

    /** {@return whether frames wait here that are not yet staged} */
    boolean holdsFrames();
}
