package io.cqlnio.bench.netty;

import io.netty.channel.EventLoop;
import org.jctools.queues.MpscUnboundedXaddArrayQueue;

import java.util.ArrayList;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The Java driver's write coalescer, one per event loop: producers put frames on an MPSC queue; at most one
 * task at a time runs on the loop, hands every queued frame to {@code channel.write} and then calls
 * {@code flush()} once per channel it touched. This is how a Netty-based CQL driver writes at its best;
 * {@code writeAndFlush} per frame costs a syscall per frame.
 */
final class WriteCoalescer implements Runnable {

    /** Bounds one task so a flood of producers cannot keep the loop from flushing and reading. */
    private static final int MAX_WRITES_PER_RUN = 4096;

    private final EventLoop loop;
    private final MpscUnboundedXaddArrayQueue<PendingWrite> queue = new MpscUnboundedXaddArrayQueue<>(1024);
    /** True while a drain task is scheduled or running: producers schedule one only when they flip it. */
    private final AtomicBoolean scheduled = new AtomicBoolean();
    /** Loop thread only. */
    private final ArrayList<NettyConnection> touched = new ArrayList<>();
    /** Loop thread only: a listener that closes a channel must not re-enter the drain. */
    private boolean draining;
    /** Set once the loop rejected a task: from then on producers fail what they queue themselves. */
    private volatile boolean terminated;

    WriteCoalescer(EventLoop loop) {
        this.loop = loop;
    }

    /** Any thread. */
    void enqueue(PendingWrite write) {
        queue.offer(write);
        // Reading first keeps producers from hammering the CAS while a drain is already pending.
        if (!scheduled.get() && scheduled.compareAndSet(false, true)) {
            schedule();
        }
        if (terminated) {
            failLeftovers();
        }
    }

    private void schedule() {
        try {
            loop.execute(this);
        } catch (RejectedExecutionException e) {
            // The loop is shut down and will never drain: whatever is queued fails here.
            terminate();
        }
    }

    /** Called once the loop is gone (rejected a task, or the transport saw it terminate). */
    void terminate() {
        terminated = true;
        failLeftovers();
    }

    @Override
    public void run() {
        drain();
        scheduled.set(false);
        // A producer may have queued after the drain and before the flag cleared, seen it set, and left.
        if (!queue.isEmpty() && scheduled.compareAndSet(false, true)) {
            schedule();
        }
    }

    /** Loop thread only: also called when a channel goes inactive, so its queued frames fail before onClosed. */
    void drain() {
        if (draining) {
            return;
        }
        draining = true;
        try {
            PendingWrite write;
            int n = 0;
            while (n++ < MAX_WRITES_PER_RUN && (write = queue.poll()) != null) {
                NettyConnection connection = write.connection;
                connection.writeOnLoop(write);
                if (!connection.touched) {
                    connection.touched = true;
                    touched.add(connection);
                }
            }
            for (int i = 0; i < touched.size(); i++) {
                NettyConnection connection = touched.get(i);
                connection.touched = false;
                connection.flushOnLoop();
            }
            touched.clear();
        } finally {
            draining = false;
        }
    }

    /**
     * Fails every queued frame once the loop is gone. Synchronized because the queue has one consumer:
     * after termination that is whichever thread holds this lock.
     */
    private synchronized void failLeftovers() {
        PendingWrite write;
        while ((write = queue.poll()) != null) {
            write.connection.failUnqueued(write);
        }
    }
}
