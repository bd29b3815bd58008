package io.cqlnio.nio;

/**
 * A first-in first-out list of {@link WriteEntry}s linked through their own {@code next} field, with the sum of
 * their {@code remaining} bytes. The writer's staged frames and the frames waiting for their segment's trailer
 * are each one of these. Single-threaded: whoever holds the writer.
 */
final class EntryList {

    private WriteEntry head;
    private WriteEntry tail;
    private int size;
    private long bytes;

    void addLast(WriteEntry e) {
        e.next = null;
        if (tail == null) {
            head = e;
        } else {
            tail.next = e;
        }
        tail = e;
        size++;
        bytes += e.remaining;
    }

    WriteEntry peekFirst() {
        return head;
    }

    WriteEntry pollFirst() {
        WriteEntry e = head;
        if (e != null) {
            head = e.next;
            if (head == null) {
                tail = null;
            }
            e.next = null;
            size--;
            bytes -= e.remaining;
        }
        return e;
    }

    /** The wire took {@code n} bytes of the first entry, fewer than it has. */
    void consumeFromFirst(long n) {
        head.remaining -= n;
        bytes -= n;
    }

    boolean isEmpty() {
        return head == null;
    }

    int size() {
        return size;
    }

    /** Sum of {@code remaining} over the entries. */
    long bytes() {
        return bytes;
    }
}
