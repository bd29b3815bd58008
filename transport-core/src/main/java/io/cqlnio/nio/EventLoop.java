package io.cqlnio.nio;

import io.cqlnio.spi.Cancellable;
import io.cqlnio.spi.ConnectionClosedException;
import io.cqlnio.spi.TransportConfig;
import org.jctools.queues.MessagePassingQueue;
import org.jctools.queues.MpscUnboundedXaddArrayQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SelectableChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.util.ArrayList;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * One selector, one thread, and every channel registered with it. The duty cycle ({@link #doWork()}) runs
 * submitted tasks, flushes the connections writers marked dirty, fires due timers, then handles ready
 * keys; when a cycle found nothing to do the loop blocks in {@code select} until a key is ready, the next
 * timer is due, or a producer wakes it. Producers wake it only when it is actually blocked: a burst of
 * writes to a busy loop costs no wakeups at all.
 *
 * <p>The loop never blocks except in {@code select} and never dies: an exception while serving one
 * connection closes that connection, an exception anywhere else is logged and the loop goes on.
 */
final class EventLoop implements Loop, Runnable {

    private static final Logger LOG = LoggerFactory.getLogger(EventLoop.class);

    private static final int AWAKE = 0;
    private static final int SLEEPING = 1;
    /** Tasks run per cycle, so a flood of submissions cannot starve I/O. */
    private static final int MAX_TASKS_PER_CYCLE = 1024;

    private final LoopResources resources;
    /** Polls ({@code selectNow} and a yield) left before the loop may block: reset by every turn that did work. */
    private final int pollsBeforeSleep;
    private int pollsLeft;

    private final String name;
    private final Thread thread;
    private volatile Selector selector;
    private final MessagePassingQueue<Runnable> tasks = new MpscUnboundedXaddArrayQueue<>(256, 2);
    private final MessagePassingQueue<LoopMember> dirty = new MpscUnboundedXaddArrayQueue<>(256, 2);
    private final AtomicInteger wakeState = new AtomicInteger(AWAKE);
    private final Consumer<SelectionKey> onSelected = this::onSelected;
    /** Written by the loop; concurrent so {@link #addStats} can walk it from any thread. */
    private final Set<LoopMember> connections = ConcurrentHashMap.newKeySet();
    private final TimerHeap timers = new TimerHeap();

    private volatile boolean shutdownRequested;
    private volatile boolean terminated;
    /** Test seam: the next select throws, as a broken selector would. */
    volatile boolean failNextSelect;

    // Written by the loop only; volatile so stats() on another thread sees them.
    private volatile long startNanos;
    private volatile long idleNanos;
    /** When the current blocking select began, or 0 when not in one: idle time still being accrued. */
    private volatile long idleSince;
    private long firstKeyNanos;
    private volatile long maxTurnNanos;
    /** Totals of the connections that closed; written by the loop, published by {@link #closedVersion}. */
    private final LoopCounters closed = new LoopCounters();
    private volatile int closedVersion;
    private volatile long selectorRebuilds;

    EventLoop(String name, TransportConfig config) throws IOException {
        this.name = name;
        this.resources = new LoopResources(config);
        this.pollsBeforeSleep = config.pollsBeforeSleep();
        this.selector = Selector.open();
        this.thread = new Thread(this, name);
    }

    void start() {
        thread.start();
    }

    /** What this loop lends its connections (loop thread only). */
    LoopResources resources() {
        return resources;
    }

    @Override
    public boolean inLoop() {
        return Thread.currentThread() == thread;
    }

    // ---------------------------------------------------------------- any thread

    @Override
    public boolean execute(Runnable task) {
        tasks.offer(task);
        wakeup();
        return !terminated;
    }

    @Override
    public boolean markDirty(LoopMember member) {
        dirty.offer(member);
        return wakeup();
    }

    /** Any thread. Wakes the selector only if the loop sleeps in it; {@code true} if it did. */
    boolean wakeup() {
        if (wakeState.get() == SLEEPING && !inLoop() && wakeState.compareAndSet(SLEEPING, AWAKE)) {
            selector.wakeup();
            return true;
        }
        return false;
    }

    /** Any thread. Asks the loop to close everything and end. */
    void shutdown() {
        shutdownRequested = true;
        tasks.offer(() -> { });
        wakeState.set(AWAKE);
        selector.wakeup();
    }

    void join(long timeoutMillis) throws InterruptedException {
        if (!inLoop()) {
            thread.join(timeoutMillis);
            if (thread.isAlive()) {
                LOG.warn("{} did not stop within {} ms", name, timeoutMillis);
            }
        }
    }

    // ---------------------------------------------------------------- the loop

    @Override
    public void run() {
        startNanos = System.nanoTime();
        while (!shutdownRequested) {
            try {
                long start = System.nanoTime();
                long idleBefore = idleNanos;
                doWork();
                long turn = System.nanoTime() - start - (idleNanos - idleBefore);
                if (turn > maxTurnNanos) {
                    maxTurnNanos = turn;
                }
            } catch (Throwable t) {
                // Nothing outside one connection should throw; if something does, the loop still goes on.
                LOG.error("{}: unexpected error in the loop; continuing", name, t);
            }
        }
        terminate();
    }

    /**
     * One duty cycle.
     *
     * @return how much work it did: tasks run, connections flushed, timers fired, keys handled
     */
    int doWork() {
        int work = runTasks();
        work += flushDirty();
        work += fireTimers();
        try {
            if (failNextSelect) {
                failNextSelect = false;
                throw new IOException("select failed (injected by a test)");
            }
            if (work > 0) {
                pollsLeft = pollsBeforeSleep;
                work += selector.selectNow(onSelected);
            } else if (pollsLeft > 0) {
                // A reply usually follows a request within microseconds: poll a little before paying for a sleep
                // and a wakeup. Yield so that on a small machine the peer, not this loop, gets the CPU meanwhile.
                pollsLeft--;
                Thread.yield();
                work += selector.selectNow(onSelected);
            } else {
                work += idle();
            }
        } catch (IOException e) {
            LOG.warn("{}: select failed; moving every channel to a new selector", name, e);
            rebuildSelector();
        }
        if (Thread.interrupted()) {
            // An interrupt makes every select return at once; clear it or the loop would spin.
            LOG.debug("{}: interrupt cleared", name);
        }
        return work;
    }

    /** Blocks in select until a key is ready, the next timer is due, or a wakeup. */
    private int idle() throws IOException {
        long timeoutMillis = nextTimerMillis();
        long start = System.nanoTime();
        firstKeyNanos = 0;
        idleSince = start;
        wakeState.set(SLEEPING);
        try {
            // Re-check after announcing sleep: a producer that enqueued before seeing SLEEPING did not wake us.
            if (!tasks.isEmpty() || !dirty.isEmpty() || shutdownRequested) {
                return selector.selectNow(onSelected);
            }
            return selector.select(onSelected, timeoutMillis);
        } finally {
            wakeState.set(AWAKE);
            // Keys are handled inside select(): the idle part ends where the first key's handling began.
            long end = firstKeyNanos != 0 ? firstKeyNanos : System.nanoTime();
            idleSince = 0;
            idleNanos += end - start;
        }
    }

    /**
     * Moves every channel, with its interest ops and connection, to a fresh selector and closes the old one:
     * what Netty does when the JDK selector breaks, so one bad selector does not end every connection.
     */
    private void rebuildSelector() {
        Selector old = selector;
        Selector fresh;
        try {
            fresh = Selector.open();
        } catch (IOException e) {
            LOG.error("{}: cannot open a new selector; keeping the old one", name, e);
            return;
        }
        for (SelectionKey key : old.keys()) {
            LoopMember c = (LoopMember) key.attachment();
            try {
                if (key.channel().isOpen()) {
                    int ops = key.isValid() ? key.interestOps() : 0;
                    c.rekeyed(key.channel().register(fresh, ops, c));
                }
                key.cancel();
            } catch (IOException | RuntimeException e) {
                c.closeOnError(e);
            }
        }
        selector = fresh;
        selectorRebuilds++;
        try {
            old.close();
        } catch (IOException e) {
            LOG.debug("{}: closing the old selector failed", name, e);
        }
    }

    long selectorRebuilds() {
        return selectorRebuilds;
    }

    /** Loop. Package-private as a seam: a test that is its own loop thread runs the tasks it queued. */
    int runTasks() {
        int n = 0;
        Runnable task;
        while (n < MAX_TASKS_PER_CYCLE && (task = tasks.poll()) != null) {
            n++;
            try {
                task.run();
            } catch (Throwable t) {
                LOG.error("{}: task threw; continuing", name, t);
            }
        }
        return n;
    }

    private int flushDirty() {
        // Only those queued now: a connection that yields re-queues itself for the next cycle.
        int n = dirty.size();
        for (int i = 0; i < n; i++) {
            LoopMember c = dirty.poll();
            if (c == null) {
                return i;
            }
            c.flushFromLoop();
        }
        return n;
    }

    private void onSelected(SelectionKey key) {
        if (firstKeyNanos == 0 && idleSince != 0) {
            firstKeyNanos = System.nanoTime();
            idleSince = 0;
            // Awake from here: producers need not wake a loop that is handling keys and will look at its
            // queues before it sleeps again.
            wakeState.set(AWAKE);
        }
        LoopMember c = (LoopMember) key.attachment();
        try {
            c.onSelected(key.readyOps());
        } catch (Throwable t) {
            c.closeOnError(t);
        }
    }

    // ---------------------------------------------------------------- members

    /** Loop. {@code true} once the transport asked this loop to end: no new connections. */
    boolean isShuttingDown() {
        return shutdownRequested;
    }

    /** Loop. Registers {@code channel} for {@code ops} with {@code member} as its attachment. */
    SelectionKey register(SelectableChannel channel, int ops, LoopMember member) throws ClosedChannelException {
        connections.add(member);
        try {
            return channel.register(selector, ops, member);
        } catch (ClosedChannelException | RuntimeException e) {
            connections.remove(member);
            throw e;
        }
    }

    @Override
    public void deregister(LoopMember member) {
        if (connections.remove(member)) {
            closed.add(member.stats());
            closedVersion++;
        }
    }

    /** Any thread. Visits the connections open now (a weakly consistent view). */
    void forEachMember(Consumer<LoopMember> action) {
        connections.forEach(action);
    }

    // ---------------------------------------------------------------- timers

    @Override
    public Cancellable schedule(Runnable task, long delayNanos) {
        LoopTimer t = new LoopTimer(this, timers, System.nanoTime() + Math.max(0, delayNanos), task);
        if (inLoop()) {
            timers.add(t);
        } else {
            execute(t);
        }
        return t;
    }

    /** Any thread. Members queued for a flush (a seam for tests: one connection must not pile up in it). */
    int dirtyCount() {
        return dirty.size();
    }

    /** Loop. Timers waiting in the heap. */
    int timerCount() {
        return timers.size();
    }

    private int fireTimers() {
        TimerHeap.Node next = timers.peek();
        if (next == null) {
            return 0;
        }
        long now = System.nanoTime();
        int fired = 0;
        while (next != null && next.deadlineNanos - now <= 0) {
            timers.poll();
            fired++;
            try {
                next.fire();
            } catch (Throwable t) {
                LOG.error("{}: scheduled task threw; continuing", name, t);
            }
            next = timers.peek();
        }
        return fired;
    }

    /** Select timeout in ms for the next timer, rounded up so a timer never fires early; 0 = none. */
    private long nextTimerMillis() {
        TimerHeap.Node next = timers.peek();
        if (next == null) {
            return 0;
        }
        long nanos = next.deadlineNanos - System.nanoTime();
        return nanos <= 0 ? 1 : TimeUnit.NANOSECONDS.toMillis(nanos) + 1;
    }

    // ---------------------------------------------------------------- stats

    /** Any thread. Adds this loop's figures to {@code into}: its open connections, its closed ones, its timings. */
    void addStats(LoopCounters into) {
        if (closedVersion >= 0) { // the volatile read publishes the closed totals the loop wrote before it
            into.addConnections(closed);
        }
        for (LoopMember c : connections) {
            into.connections++;
            into.add(c.stats());
        }
        long start = startNanos;
        long now = System.nanoTime();
        long uptime = start == 0 ? 0 : now - start;
        long sleepingSince = idleSince;
        long idle = idleNanos + (sleepingSince != 0 ? Math.max(0, now - sleepingSince) : 0);
        into.addLoop(Math.max(0, uptime - idle), uptime, maxTurnNanos);
    }

    // ---------------------------------------------------------------- the end

    private void terminate() {
        try {
            ConnectionClosedException closed = new ConnectionClosedException("transport closed (" + name + ")");
            for (LoopMember c : new ArrayList<>(connections)) {
                c.closeOnTransportClose(closed);
            }
        } catch (Throwable t) {
            LOG.error("{}: error while closing connections", name, t);
        }
        // From here execute() reports false; tasks that slipped in still run once, below, and find the
        // loop shutting down (connects fail, closes find their connection already closed).
        terminated = true;
        while (runTasks() > 0) {
            // drain
        }
        try {
            selector.close();
        } catch (IOException e) {
            LOG.debug("{}: selector close failed", name, e);
        }
        LOG.debug("{} stopped", name);
    }

    @Override
    public String toString() {
        return name;
    }
}
