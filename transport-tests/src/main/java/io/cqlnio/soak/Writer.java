package io.cqlnio.soak;

import java.util.ArrayList;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The one thread that writes every soak frame, the way a driver's request threads do: from outside the loops, so
 * the transport's write-through and its hand-over to the loop are both exercised. One thread, so each connection's
 * frames reach the wire in the order of their numbers and an echo can be checked against its number alone.
 *
 * <p>Keeps up to {@code window} frames outstanding per connection; an echo, a listener or a new connection wakes
 * it, and it parks when a pass over every connection wrote nothing.
 */
final class Writer implements Runnable {

    /** Longest park: a safety net only, every change of interest unparks it. */
    private static final long PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(1);

    private final int window;
    private final Queue<SoakConnection> arrivals = new ConcurrentLinkedQueue<>();
    private final ArrayList<SoakConnection> connections = new ArrayList<>();
    private final Thread thread;
    private volatile boolean writing = true;
    private volatile boolean stopped;

    Writer(int window) {
        this.window = window;
        this.thread = new Thread(this, "soak-writer");
        this.thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    /** Any thread: a connection that is open and attached. */
    void add(SoakConnection c) {
        arrivals.add(c);
        wake();
    }

    /** Any thread. */
    void wake() {
        LockSupport.unpark(thread);
    }

    /** Writes no new frame from now on (the run is draining); outstanding ones still complete. */
    void stopWriting() {
        writing = false;
    }

    void stop() throws InterruptedException {
        stopped = true;
        wake();
        thread.join(TimeUnit.SECONDS.toMillis(10));
    }

    @Override
    public void run() {
        while (!stopped) {
            for (SoakConnection c; (c = arrivals.poll()) != null; ) {
                connections.add(c);
            }
            boolean wrote = false;
            for (int i = connections.size() - 1; i >= 0; i--) {
                SoakConnection c = connections.get(i);
                if (c.isEnded() || c.isClosed()) {
                    connections.set(i, connections.get(connections.size() - 1));   // order does not matter
                    connections.remove(connections.size() - 1);
                } else if (writing) {
                    wrote |= c.topUp(window);
                }
            }
            if (!wrote) {
                LockSupport.parkNanos(this, PARK_NANOS);
            }
        }
    }
}
