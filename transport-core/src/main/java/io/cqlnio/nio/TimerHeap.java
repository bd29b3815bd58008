package io.cqlnio.nio;

/**
 * A 4-ary min-heap of timers by deadline, with each timer's index kept in the timer so a cancel removes it
 * in O(log n). Four children per node make the heap half as deep as a binary one and keep siblings in one
 * cache line, which matters with the 100,000 request timeouts a busy driver keeps per loop. Loop thread only.
 */
final class TimerHeap {

    /** What the heap orders: a deadline, and the slot it has in the heap (-1 when not in it). */
    abstract static class Node {
        final long deadlineNanos;
        int heapIndex = -1;

        Node(long deadlineNanos) {
            this.deadlineNanos = deadlineNanos;
        }

        /** Loop. The deadline has passed. */
        abstract void fire();
    }

    private Node[] heap = new Node[64];
    private int size;

    /** The node in slot {@code i} (a seam for tests of the heap's shape). */
    Node at(int i) {
        return heap[i];
    }

    int size() {
        return size;
    }

    /** The earliest timer, or {@code null}. */
    Node peek() {
        return size == 0 ? null : heap[0];
    }

    void add(Node t) {
        if (size == heap.length) {
            heap = java.util.Arrays.copyOf(heap, size * 2);
        }
        siftUp(size++, t);
    }

    /** Removes and returns the earliest timer, or {@code null}. */
    Node poll() {
        if (size == 0) {
            return null;
        }
        Node first = heap[0];
        removeAt(0);
        return first;
    }

    /** Removes {@code t} if it is in the heap. */
    void remove(Node t) {
        int i = t.heapIndex;
        if (i >= 0 && i < size && heap[i] == t) {
            removeAt(i);
        }
    }

    private void removeAt(int i) {
        Node removed = heap[i];
        removed.heapIndex = -1;
        Node last = heap[--size];
        heap[size] = null;
        if (i < size) {
            siftDown(i, last);
            if (heap[i] == last) {
                siftUp(i, last);
            }
        }
    }

    private void siftUp(int i, Node t) {
        while (i > 0) {
            int parent = (i - 1) >>> 2;
            Node p = heap[parent];
            if (t.deadlineNanos - p.deadlineNanos >= 0) {
                break;
            }
            place(i, p);
            i = parent;
        }
        place(i, t);
    }

    private void siftDown(int i, Node t) {
        while (true) {
            int first = (i << 2) + 1;
            if (first >= size) {
                break;
            }
            int best = first;
            int end = Math.min(first + 4, size);
            for (int c = first + 1; c < end; c++) {
                if (heap[c].deadlineNanos - heap[best].deadlineNanos < 0) {
                    best = c;
                }
            }
            if (heap[best].deadlineNanos - t.deadlineNanos >= 0) {
                break;
            }
            place(i, heap[best]);
            i = best;
        }
        place(i, t);
    }

    private void place(int i, Node t) {
        heap[i] = t;
        t.heapIndex = i;
    }
}
