package io.cqlnio.nio;

import io.cqlnio.testkit.LoopbackPeer;

import javax.net.ssl.SSLContext;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.function.BiConsumer;

/**
 * Bridge to {@link LoopbackPeer} with a {@link LoopbackPeer#frames} server, for the tests of this package that are
 * being rewritten with the nio internals; once they make a {@code LoopbackPeer} themselves, delete this class.
 */
final class FramePeer implements AutoCloseable {

    private final LoopbackPeer peer;

    FramePeer(int receiveBuffer, boolean stalled, boolean echo, BiConsumer<Integer, ByteBuffer> onFrame)
            throws IOException {
        this(null, receiveBuffer, stalled, echo, onFrame);
    }

    FramePeer(SSLContext tls, int receiveBuffer, boolean stalled, boolean echo,
              BiConsumer<Integer, ByteBuffer> onFrame) throws IOException {
        LoopbackPeer.FrameSink sink = onFrame == null ? null : onFrame::accept;
        this.peer = new LoopbackPeer(receiveBuffer, stalled, 50, tls, LoopbackPeer.frames(sink, echo));
    }

    InetSocketAddress address() {
        return peer.address();
    }

    void release() {
        peer.release();
    }

    List<Throwable> errors() {
        return peer.errors();
    }

    @Override
    public void close() throws IOException {
        peer.close();
    }
}
