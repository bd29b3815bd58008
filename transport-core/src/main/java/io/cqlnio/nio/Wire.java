package io.cqlnio.nio;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * What a connection's writer and reader talk to: the socket itself ({@link SocketWire}) or TLS in front of it
 * ({@link TlsWire}). Loop thread only (or whoever holds the writer, for the write side).
 *
 * <p>The one rule that makes the write path correct on both: {@link #write} reports only bytes the kernel now
 * holds for good. A plain socket takes a prefix of what it is offered and says how much. TLS takes plaintext out
 * of the buffers as it encrypts it, but reports it only once the kernel has every byte of the records carrying
 * it, possibly in a later call; until then it is {@link #unacknowledged()}, and the writer keeps those frames at
 * the head of its queue. That is why this is not a {@link java.nio.channels.GatheringByteChannel}: its count is
 * not "bytes consumed from these buffers in this call".
 */
interface Wire {

    /**
     * Offers {@code srcs[offset..offset+length)} in order.
     *
     * @return bytes of everything ever offered, in order, that are now with the kernel for good and were not
     * reported before: always a prefix of what is not yet reported
     * @throws IOException the socket failed; what earlier calls reported stays reported
     */
    long write(ByteBuffer[] srcs, int offset, int length) throws IOException;

    /** Bytes taken out of offered buffers by earlier writes and not yet reported as written. */
    long unacknowledged();

    /**
     * The wire holds output of its own that the kernel has not taken (or a failure still to report): the last
     * write was short even if every offered buffer is empty, and the writer must wait for {@code OP_WRITE}.
     */
    boolean hasBacklog();

    /**
     * Whether offering more than the kernel takes costs a copy of the excess (the JDK copies every offered heap
     * byte into a direct buffer before {@code writev}), so the writer should offer less after a short write.
     */
    boolean budgetsWrites();

    /**
     * Reads into {@code dst}.
     *
     * @return bytes put in {@code dst}, or -1 once the peer has ended the stream and nothing is left
     */
    int read(ByteBuffer dst) throws IOException;
}
