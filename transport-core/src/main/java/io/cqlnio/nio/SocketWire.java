package io.cqlnio.nio;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.ReadableByteChannel;

/**
 * The plaintext {@link Wire}: the socket's own counts, unchanged. A kernel that takes a byte holds it for good,
 * so nothing is ever unacknowledged and there is no backlog of our own. The channels are a seam: tests pass
 * scripted ones that make short writes and split reads at chosen byte offsets.
 */
final class SocketWire implements Wire {

    private final GatheringByteChannel out;
    private final ReadableByteChannel in;

    SocketWire(GatheringByteChannel out, ReadableByteChannel in) {
        this.out = out;
        this.in = in;
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
        return out.write(srcs, offset, length);
    }

    @Override
    public long unacknowledged() {
        return 0;
    }

    @Override
    public boolean hasBacklog() {
        return false;
    }

    @Override
    public boolean budgetsWrites() {
        return true;
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        return in.read(dst);
    }
}
