package io.cqlnio.bench;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.AtomicReferenceFieldUpdater;

/**
 * A candidate for the per-connection frame queue (issue 12), here only to be measured by {@link QueueFootprint}:
 * the shape of the core's {@code FrameQueue} on the lead's branch, an intrusive Treiber stack taken whole.
 * Producers push with one CAS on the top (the element links itself, nothing is allocated); the consumer swaps
 * the top for null and reverses what it got into acceptance order, then hands it out one by one. A queue is one
 * reference for producers and one for the consumer's batch: no array, no stub.
 *
 * <p>Unlike {@link IntrusiveMpscQueue} there is no window in which an offered element is unreachable (the CAS
 * publishes it whole), so "empty" means empty; the price is that a push retries when another producer's CAS
 * won, and the consumer walks each batch once more to reverse it (it walks the entries anyway to stage them).
 *
 * <p>Producers: {@link #offer} from any thread. Consumer: {@link #poll}, one thread only.
 */
final class IntrusiveStackQueue {

    private static final AtomicReferenceFieldUpdater<IntrusiveStackQueue, IntrusiveNode> TOP =
            AtomicReferenceFieldUpdater.newUpdater(IntrusiveStackQueue.class, IntrusiveNode.class, "top");
    private static final VarHandle NEXT;

    static {
        try {
            NEXT = MethodHandles.lookup().findVarHandle(IntrusiveNode.class, "next", IntrusiveNode.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Newest first; null when nothing was offered since the last take. */
    private volatile IntrusiveNode top;
    /** Consumer only: the rest of the last batch taken, oldest first. */
    private IntrusiveNode batch;

    /** Any thread. Always succeeds. */
    void offer(IntrusiveNode node) {
        IntrusiveNode h;
        do {
            h = top;
            NEXT.set(node, h); // plain: published by the CAS
        } while (!TOP.compareAndSet(this, h, node));
    }

    /** Consumer only. The oldest element, or null when empty. */
    IntrusiveNode poll() {
        IntrusiveNode first = batch;
        if (first == null) {
            if (top == null) {
                return null;
            }
            IntrusiveNode e = TOP.getAndSet(this, null);
            while (e != null) {
                IntrusiveNode newer = (IntrusiveNode) NEXT.get(e);
                NEXT.set(e, first);
                first = e;
                e = newer;
            }
        }
        batch = (IntrusiveNode) NEXT.get(first);
        NEXT.set(first, (IntrusiveNode) null);
        return first;
    }
}
