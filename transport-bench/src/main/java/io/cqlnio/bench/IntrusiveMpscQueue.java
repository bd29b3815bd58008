package io.cqlnio.bench;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A candidate for the per-connection frame queue (issue 12), here only to be measured against the JCTools
 * queues by {@link QueueFootprint}: Dmitry Vyukov's intrusive MPSC node queue, in which the element is
 * its own node. A queue is two references and one stub node (about 40 bytes, no array); an offer allocates
 * nothing, whatever the depth, because the pooled entry that carries the frame carries the link too.
 *
 * <p>Producers: {@link #offer} from any thread, wait-free (one {@code getAndSet} on the tail, then one
 * release store linking the previous tail to the new node). Consumer: {@link #poll}, one thread only. Between
 * a producer's {@code getAndSet} and its link the queue is not empty but the consumer cannot yet reach the new
 * node: {@code poll} then returns null (a relaxed poll) instead of spinning. A writer that clears its
 * "scheduled" flag before draining and whose producers set it after offering loses nothing by this: the
 * producer still inside its offer has not yet looked at the flag, so it schedules the drain again.
 *
 * <p>A node may be in one queue at a time; {@code poll} hands it back no longer referenced by the queue
 * (its successor is already linked), so the caller may recycle it at once.
 */
final class IntrusiveMpscQueue {

    private static final VarHandle NEXT;
    private static final VarHandle TAIL;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            NEXT = lookup.findVarHandle(IntrusiveNode.class, "next", IntrusiveNode.class);
            TAIL = lookup.findVarHandle(IntrusiveMpscQueue.class, "tail", IntrusiveNode.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Stands in for "no element" at the head, so the queue never needs a null tail. */
    private final IntrusiveNode stub = new IntrusiveNode();
    /** Producers' end: the last node offered. */
    @SuppressWarnings("unused") // through TAIL
    private volatile IntrusiveNode tail = stub;
    /** Consumer's end; consumer only. */
    private IntrusiveNode head = stub;

    /** Any thread. Always succeeds. */
    void offer(IntrusiveNode node) {
        NEXT.set(node, (IntrusiveNode) null); // plain: the getAndSet below publishes it
        IntrusiveNode previous = (IntrusiveNode) TAIL.getAndSet(this, node);
        NEXT.setRelease(previous, node);
    }

    /** Consumer only. The oldest node, or null when empty or when its producer has not linked it yet. */
    IntrusiveNode poll() {
        IntrusiveNode first = head;
        IntrusiveNode next = (IntrusiveNode) NEXT.getAcquire(first);
        if (first == stub) {
            if (next == null) {
                return null;
            }
            head = next;
            first = next;
            next = (IntrusiveNode) NEXT.getAcquire(next);
        }
        if (next != null) {
            head = next;
            return first;
        }
        if (first != (IntrusiveNode) TAIL.getAcquire(this)) {
            return null; // a producer has swapped the tail but not linked it yet
        }
        // first is the last node: put the stub behind it so it can leave without emptying the queue's links.
        offer(stub);
        next = (IntrusiveNode) NEXT.getAcquire(first);
        if (next != null) {
            head = next;
            return first;
        }
        return null;
    }

    /**
     * Consumer only. False as soon as a producer has swapped the tail, even before it links its node: a node in
     * that gap is not lost, and the caller that sees "not empty" comes back for it.
     */
    boolean isEmpty() {
        return head == stub && (IntrusiveNode) TAIL.getAcquire(this) == stub;
    }
}
