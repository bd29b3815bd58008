package io.cqlnio.nio;

import io.cqlnio.spi.Cancellable;
import io.cqlnio.spi.Connection;
import io.cqlnio.spi.ConnectionClosedException;
import io.cqlnio.spi.ConnectionStats;
import io.cqlnio.spi.FrameHandler;
import io.cqlnio.spi.TransportException;
import io.cqlnio.spi.WriteListener;

import java.nio.ByteBuffer;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.SelectionKey;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

import org.jctools.queues.MpmcArrayQueue;

/**
 * A connection's write side with everything around it played by the test: the caller's half ({@link #write})
 * runs on whatever thread calls it, and the loop is whoever calls {@link #turn} (only that thread counts as the
 * loop). The wire is any {@link GatheringByteChannel}, so short writes, zero-byte writes and failures land where a
 * test puts them. {@code closeNow} does what the connection's does to the writer: fail what it holds, or leave it
 * to the caller that holds it.
 */
final class ThroughRig implements ConnectionControl, Loop {

    final FrameQueue queue;
    final FrameWriter writer;
    final WriteSide writes;
    final Queue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    final AtomicInteger dirty = new AtomicInteger();
    volatile ConnectionState state = ConnectionState.OPEN;
    volatile Throwable closedCause;
    final AtomicInteger closes = new AtomicInteger();
    private volatile Thread loopThread;
    private boolean tornDown;
    private int interestOps = SelectionKey.OP_READ;

    /**
     * @param quietNanos {@code writeThroughQuietTime}; negative: write-through off (every claim goes to the loop)
     */
    ThroughRig(GatheringByteChannel channel, long quietNanos, int spin) {
        queue = new FrameQueue("rig", new WriteEntry.Pool(64), 1 << 30, 1 << 29, 0);
        writer = new FrameWriter(queue, 1 << 20, spin);
        MpmcArrayQueue<ByteBuffer[]> callerIovs = null;
        if (quietNanos >= 0) {
            callerIovs = new MpmcArrayQueue<>(4);
            for (int i = 0; i < 4; i++) {
                callerIovs.offer(new ByteBuffer[64]);
            }
        }
        Connection connection = null; // only its toString is ever used, in messages
        writes = new WriteSide(this, connection, (c, f) -> { }, this, new SocketWire(channel, null), null, null,
                new ByteBuffer[16], callerIovs, Math.max(0, quietNanos), queue, writer);
    }

    /** Any thread: what {@code Connection.write} does once the frame passed the state check. */
    void write(ByteBuffer frame, WriteListener listener) {
        writes.handOver(queue.offer(frame, null, listener));
    }

    void write(ByteBuffer[] parts, WriteListener listener) {
        writes.handOver(queue.offer(null, parts, listener));
    }

    void switchToSegments() {
        writes.handOver(queue.offerSwitchToSegments());
    }

    /** Makes the calling thread the loop. */
    ThroughRig loopIsCurrentThread() {
        loopThread = Thread.currentThread();
        return this;
    }

    /**
     * One loop turn on the calling thread: tasks, then the flushes that are due, then OP_WRITE if it is set. The
     * calling thread does not become the loop: a test may play a caller and the loop in turn on one thread.
     */
    int turn(boolean kernelHasRoom) {
        int work = 0;
        Runnable task;
        while ((task = tasks.poll()) != null) {
            task.run();
            work++;
        }
        for (int n = dirty.getAndSet(0); n > 0; n--) {
            flushFromLoop();
            work++;
        }
        if (kernelHasRoom && (interestOps & SelectionKey.OP_WRITE) != 0 && !tornDown) {
            writes.onWritable();
            work++;
        }
        return work;
    }

    /** Loop turns until nothing is left to do. */
    void drain() {
        for (int i = 0; i < 10_000 && turn(true) > 0; i++) {
            // keep turning
        }
    }

    // ---------------------------------------------------------------- Loop

    @Override
    public boolean inLoop() {
        return Thread.currentThread() == loopThread;
    }

    @Override
    public boolean execute(Runnable task) {
        tasks.add(task);
        return true;
    }

    @Override
    public boolean markDirty(LoopMember member) {
        dirty.incrementAndGet();
        return false;
    }

    @Override
    public Cancellable schedule(Runnable task, long delayNanos) {
        throw new UnsupportedOperationException("no timers in the rig");
    }

    @Override
    public void deregister(LoopMember member) {
    }

    // ---------------------------------------------------------------- ConnectionControl

    @Override
    public int interestOps() {
        return interestOps;
    }

    @Override
    public void setInterest(int ops) {
        interestOps = ops;
    }

    @Override
    public ConnectionState state() {
        return state;
    }

    @Override
    public boolean isTornDown() {
        return tornDown;
    }

    @Override
    public void closeNow(Throwable closedCause, Throwable frameCause) {
        if (tornDown) {
            return;
        }
        tornDown = true;
        state = ConnectionState.CLOSED;
        this.closedCause = closedCause;
        closes.incrementAndGet();
        writer.close(frameCause);
    }

    /** Loop: no socket to half-close, so the drain ends at once, as if the peer's EOF came with the FIN. */
    @Override
    public void halfClose() {
        state = ConnectionState.DRAINING;
        closeNow(null, new ConnectionClosedException("rig closed"));
    }

    @Override
    public void finishDrain() {
        closeNow(null, new ConnectionClosedException("rig closed"));
    }

    /** Loop: what {@code Connection.close()} then its loop task do. */
    void closeGracefully() {
        state = ConnectionState.CLOSING;
        flushIfUnclaimed();
    }

    @Override
    public void failConnect(TransportException cause) {
        closeNow(cause, cause);
    }

    @Override
    public void handshakeDone() {
    }

    @Override
    public void flushIfUnclaimed() {
        if (state != ConnectionState.CLOSED && queue.claimForLoop()) {
            flushFromLoop();
        }
    }

    @Override
    public void onSelected(int readyOps) {
    }

    @Override
    public void flushFromLoop() {
        if (state != ConnectionState.CLOSED) {
            writes.flush();
        }
    }

    @Override
    public void rekeyed(SelectionKey key) {
    }

    @Override
    public void closeOnError(Throwable t) {
        closeNow(t, new ConnectionClosedException("rig closed: " + t, t));
    }

    @Override
    public void closeOnTransportClose(ConnectionClosedException cause) {
        closeNow(cause, cause);
    }

    @Override
    public ConnectionStats stats() {
        return null;
    }

    @Override
    public String toString() {
        return "rig";
    }
}
