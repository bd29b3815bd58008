package io.cqlnio.nio;

import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;

/**
 * The read seam: serves a byte stream in reads that end exactly at the given cut points, then EOF (-1) or
 * "nothing more yet" (0). A read never crosses a cut, so a test controls where every read boundary falls.
 */
final class ScriptedReadChannel implements ReadableByteChannel {

    private final byte[] stream;
    private final int[] cuts;
    private int position;
    private int nextCut;
    private final boolean eofAtEnd;

    /** @param cuts ascending offsets where one read must stop; the stream's end is an implicit last cut */
    ScriptedReadChannel(byte[] stream, int[] cuts, boolean eofAtEnd) {
        this.stream = stream;
        this.cuts = cuts;
        this.eofAtEnd = eofAtEnd;
    }

    /** {@code true} when a read stopped at a cut: the next {@link #read} serves the next piece. */
    boolean atCut() {
        return nextCut > 0 && nextCut <= cuts.length && position == cuts[nextCut - 1];
    }

    boolean exhausted() {
        return position == stream.length;
    }

    @Override
    public int read(ByteBuffer dst) {
        if (position == stream.length) {
            return eofAtEnd ? -1 : 0;
        }
        int end = stream.length;
        while (nextCut < cuts.length && cuts[nextCut] <= position) {
            nextCut++;
        }
        if (nextCut < cuts.length) {
            end = cuts[nextCut];
        }
        int n = Math.min(end - position, dst.remaining());
        dst.put(stream, position, n);
        position += n;
        return n;
    }

    @Override
    public boolean isOpen() {
        return true;
    }

    @Override
    public void close() {
    }
}
