package io.cqlnio.nio;

import io.cqlnio.spi.TransportConfig;

import org.jctools.queues.MessagePassingQueue;
import org.jctools.queues.MpmcArrayQueue;

import java.nio.ByteBuffer;

/**
 * What one loop lends to every connection on it: one iov array for the loop's gathering writes, one read buffer
 * (a connection keeps inbound bytes of its own only while a frame is incomplete), one pool of write entries, a
 * few iov arrays for callers writing through, and the configuration. Sharing them is why an idle connection costs
 * little. The loop's iov and read buffers are loop-thread only; the pools are safe from any thread.
 */
final class LoopResources {

    private static final int ENTRY_POOL_SIZE = 8192;
    private static final int CALLER_IOVS = 8;
    private static final int CALLER_IOV_LENGTH = 64;

    final TransportConfig config;
    final ByteBuffer[] iov;
    final ByteBuffer readBuffer;
    /** A second view of {@link #readBuffer}, so a reader can hand out a frame without moving the buffer. */
    final ByteBuffer readView;
    /** Producers take entries from it on any thread; the writer's holder gives them back. */
    final WriteEntry.Pool entryPool = new WriteEntry.Pool(ENTRY_POOL_SIZE);
    /**
     * One array per caller writing through at once (more callers than arrays pass their writer to the loop);
     * null when write-through is off. Short: a caller writes what was queued when it found the writer idle.
     */
    final MessagePassingQueue<ByteBuffer[]> callerIovs;

    LoopResources(TransportConfig config) {
        this.config = config;
        this.iov = new ByteBuffer[config.maxBuffersPerWrite()];
        this.readBuffer = ByteBuffer.allocateDirect(config.readBufferSize());
        this.readView = readBuffer.duplicate();
        this.callerIovs = config.writeThrough() ? callerIovs(config.maxBuffersPerWrite()) : null;
    }

    private static MessagePassingQueue<ByteBuffer[]> callerIovs(int maxBuffersPerWrite) {
        int callers = Math.max(2, Math.min(CALLER_IOVS, Runtime.getRuntime().availableProcessors()));
        MessagePassingQueue<ByteBuffer[]> iovs = new MpmcArrayQueue<>(callers);
        for (int i = 0; i < callers; i++) {
            iovs.offer(new ByteBuffer[Math.min(CALLER_IOV_LENGTH, maxBuffersPerWrite)]);
        }
        return iovs;
    }
}
