package io.cqlnio.cql;

/**
 * The free stream ids of one connection, 0..capacity-1, as a stack: the most recently freed id is reused
 * first, which keeps the ids in use small. A lock is enough here: it is held for a few instructions.
 */
final class StreamIds {
    private final int[] free;
    private int top;

    StreamIds(int capacity) {
        free = new int[capacity];
        for (int i = 0; i < capacity; i++) {
            free[i] = capacity - 1 - i;   // id 0 on top
        }
        top = capacity;
    }

    /** A free id, or -1 when every id is in use. */
    synchronized int acquire() {
        return top == 0 ? -1 : free[--top];
    }

    /** Returns {@code id}; the caller guarantees it was acquired and not yet released. */
    synchronized void release(int id) {
        if (top == free.length) {
            throw new IllegalStateException("stream id " + id + " released twice");
        }
        free[top++] = id;
    }

    synchronized int available() {
        return top;
    }
}
