package io.cqlnio.bench;

/**
 * The link an element of {@link IntrusiveMpscQueue} or {@link IntrusiveStackQueue} carries itself, so queueing
 * it allocates nothing: the frame writer's pooled entry would extend this (one more reference per entry).
 * An element is in at most one queue at a time. The queues access {@code next} through VarHandles, with the
 * ordering each needs.
 */
class IntrusiveNode {
    @SuppressWarnings("unused") // through the queues' VarHandles
    volatile IntrusiveNode next;
}
