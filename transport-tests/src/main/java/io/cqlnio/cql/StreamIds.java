package io.cqlnio.cql;

/**
 * The free stream ids of one connection, 0..capacity-1, as a stack: the most recently freed id is reused
 * first, which keeps the ids in use small. An id is only ever free or held, never both: the client holds an
 * orphaned id (its request timed out) until the late response arrives, and {@link #release} refuses an id that
 * is not held, so a bug that frees an id twice fails loudly instead of letting two requests share it.
 * A lock is enough here: it is held for a few instructions.
 */
final class StreamIds {
    private final int[] free;
    private final boolean[] held;
    private int top;

    StreamIds(int capacity) {
        free = new int[capacity];
        held = new boolean[capacity];
        for (int i = 0; i < capacity; i++) {
            free[i] = capacity - 1 - i;   // id 0 on top
        }
        top = capacity;
    }

    /** A free id, now held, or -1 when every id is held. */
    synchronized int acquire() {
        if (top == 0) {
            return -1;
        }
        int id = free[--top];
        held[id] = true;
        return id;
    }

    /**
     * Frees {@code id}.
     *
     * @throws IllegalStateException when {@code id} is not held (released twice, or never acquired)
     */
    synchronized void release(int id) {
        if (id < 0 || id >= held.length || !held[id]) {
            throw new IllegalStateException("stream id " + id + " released but not held (released twice?)");
        }
        held[id] = false;
        free[top++] = id;
    }

    synchronized int available() {
        return top;
    }
}
