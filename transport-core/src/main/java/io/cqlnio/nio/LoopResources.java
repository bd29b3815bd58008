package io.cqlnio.nio;

import io.cqlnio.spi.TransportConfig;

import java.nio.ByteBuffer;

/**
 * What one loop lends to every connection on it, used only on the loop thread: one iov array for gathering
 * writes, one read buffer (a connection keeps inbound bytes of its own only while a frame is incomplete), one
 * pool of write entries, and the configuration. Sharing them is why an idle connection costs little.
 */
final class LoopResources {

    private static final int ENTRY_POOL_SIZE = 8192;

    final TransportConfig config;
    final ByteBuffer[] iov;
    final ByteBuffer readBuffer;
    /** A second view of {@link #readBuffer}, so a reader can hand out a frame without moving the buffer. */
    final ByteBuffer readView;
    /** Producers take entries from it on any thread; only the loop gives them back. */
    final WriteEntry.Pool entryPool = new WriteEntry.Pool(ENTRY_POOL_SIZE);

    LoopResources(TransportConfig config) {
        this.config = config;
        this.iov = new ByteBuffer[config.maxBuffersPerWrite()];
        this.readBuffer = ByteBuffer.allocateDirect(config.readBufferSize());
        this.readView = readBuffer.duplicate();
    }
}
