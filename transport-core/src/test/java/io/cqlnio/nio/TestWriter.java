package io.cqlnio.nio;

import io.cqlnio.spi.WriteListener;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.GatheringByteChannel;

/** A connection's write path without the connection: a {@link FrameQueue} and its {@link FrameWriter}. */
final class TestWriter {

    final FrameQueue queue;
    final FrameWriter writer;
    private GatheringByteChannel lastChannel;
    private Wire lastWire;

    TestWriter(Object owner, WriteEntry.Pool pool, long high, long low, long maxBytesPerWrite, int spin) {
        this(owner, pool, high, low, maxBytesPerWrite, spin, 0);
    }

    TestWriter(Object owner, WriteEntry.Pool pool, long high, long low, long maxBytesPerWrite, int spin,
               long maxPendingBytes) {
        queue = new FrameQueue(owner, pool, high, low, maxPendingBytes);
        writer = new FrameWriter(queue, maxBytesPerWrite, spin);
    }

    /** Offers as a caller without write-through does: a claim it wins goes to the loop, which the test plays. */
    int enqueue(ByteBuffer single, ByteBuffer[] parts, WriteListener listener) {
        return toLoop(queue.offer(single, parts, listener));
    }

    int enqueueSwitchToSegments() {
        return toLoop(queue.offerSwitchToSegments());
    }

    /** The switch to LZ4-compressed v5 segments. */
    int enqueueSwitchToLz4Segments() {
        return toLoop(queue.offerSwitchToSegments(new Lz4Codec()));
    }

    int claim(int result) {
        return toLoop(queue.claimAfterPush(result));
    }

    private int toLoop(int offered) {
        if ((offered & FrameQueue.CLAIMED) != 0 && !queue.passTo(FrameQueue.LOOP)) {
            writer.finishClose();
        }
        return offered;
    }

    /** Flushes into a plain channel, as the socket's wire does (the wire is kept, so this allocates nothing). */
    FrameWriter.Flush flush(GatheringByteChannel channel, ByteBuffer[] iov) throws IOException {
        if (channel != lastChannel) {
            lastChannel = channel;
            lastWire = new SocketWire(channel, null);
        }
        return writer.flush(lastWire, iov);
    }

    FrameWriter.Flush flush(Wire wire, ByteBuffer[] iov) throws IOException {
        return writer.flush(wire, iov);
    }

    void close(Throwable cause) {
        writer.close(cause);
    }

    long pendingBytes() {
        return queue.pendingBytes();
    }

    boolean isWritable() {
        return queue.isWritable();
    }

    long framesWritten() {
        return writer.framesWritten;
    }

    long shortWrites() {
        return writer.shortWrites;
    }

    long writeCalls() {
        return writer.writeCalls;
    }
}
