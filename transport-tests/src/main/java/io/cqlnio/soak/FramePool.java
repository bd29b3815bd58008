package io.cqlnio.soak;

import java.nio.ByteBuffer;
import java.util.concurrent.ArrayBlockingQueue;

/**
 * The direct buffers frames are written from: a fixed number per size class, all allocated up front, each back in
 * the pool when its write listener runs. Fixed so that the runner's own direct memory is flat from the first sample
 * (a pool that grew to the largest demand seen would creep up for the whole run, and heap frames would make the
 * JDK cache temporary direct copies per writing thread, which creeps the same way); anything that grows on top is
 * not the runner's. An empty class makes the writer wait, so the pool also caps the bytes in flight.
 *
 * <p>Thread-safe: the writer takes, whichever thread runs a listener gives back.
 */
final class FramePool {

    private static final int[] CAPACITIES = {1024, 16 * 1024, FrameShape.MAX_LENGTH};

    private final ArrayBlockingQueue<ByteBuffer>[] free;
    private final long bytes;

    /**
     * @param small  buffers of up to 1 KiB
     * @param medium buffers of up to 16 KiB
     * @param large  buffers of up to 256 KiB
     */
    @SuppressWarnings("unchecked")
    FramePool(int small, int medium, int large) {
        int[] counts = {small, medium, large};
        free = new ArrayBlockingQueue[CAPACITIES.length];
        long total = 0;
        for (int i = 0; i < CAPACITIES.length; i++) {
            free[i] = new ArrayBlockingQueue<>(counts[i]);
            for (int n = 0; n < counts[i]; n++) {
                free[i].add(ByteBuffer.allocateDirect(CAPACITIES[i]));
                total += CAPACITIES[i];
            }
        }
        bytes = total;
    }

    /** Sized for {@code inFlight} frames at once, about in the proportions {@link FrameShape} draws them. */
    static FramePool forFramesInFlight(int inFlight) {
        return new FramePool(inFlight, Math.max(16, inFlight / 2), Math.max(16, inFlight / 12));
    }

    /** {@return a free buffer that holds {@code length} bytes, or {@code null} when its class has none free} */
    ByteBuffer take(int length) {
        return free[classOf(length)].poll();
    }

    /** Gives back a buffer {@link #take} handed out. */
    void give(ByteBuffer buffer) {
        if (!free[classOf(buffer.capacity())].offer(buffer)) {
            throw new IllegalStateException("a buffer given back twice: the pool is full");
        }
    }

    /** {@return buffers free now, over every class} */
    int freeBuffers() {
        int n = 0;
        for (ArrayBlockingQueue<ByteBuffer> q : free) {
            n += q.size();
        }
        return n;
    }

    /** {@return the direct bytes the pool holds, constant} */
    long bytes() {
        return bytes;
    }

    private static int classOf(int length) {
        for (int i = 0; i < CAPACITIES.length; i++) {
            if (length <= CAPACITIES[i]) {
                return i;
            }
        }
        throw new IllegalArgumentException("a frame of " + length + " B is above " + FrameShape.MAX_LENGTH);
    }
}
