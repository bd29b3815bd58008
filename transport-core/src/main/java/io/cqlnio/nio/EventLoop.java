package io.cqlnio.nio;

import io.cqlnio.spi.Connection;
import io.cqlnio.spi.ConnectionClosedException;
import io.cqlnio.spi.ConnectionStats;
import io.cqlnio.spi.FrameHandler;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.TransportException;
import org.jctools.queues.MessagePassingQueue;
import org.jctools.queues.MpscUnboundedXaddArrayQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
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
final class EventLoop implements Runnable {

    private static final Logger LOG = LoggerFactory.getLogger(EventLoop.class);

    private static final int AWAKE = 0;
    private static final int SLEEPING = 1;
    /** Tasks run per cycle, so a flood of submissions cannot starve I/O. */
    private static final int MAX_TASKS_PER_CYCLE = 1024;
    private static final int ENTRY_POOL_SIZE = 8192;

    final TransportConfig config;
    final ByteBuffer[] iov;
    final ByteBuffer readBuffer;
    final ByteBuffer readView;
    final FrameWriter.EntryPool entryPool = new FrameWriter.EntryPool(ENTRY_POOL_SIZE);

    private final String name;
    private final Thread thread;
    private volatile Selector selector;
    private final MessagePassingQueue<Runnable> tasks = new MpscUnboundedXaddArrayQueue<>(256, 2);
    private final MessagePassingQueue<NioConnection> dirty = new MpscUnboundedXaddArrayQueue<>(256, 2);
    private final AtomicInteger wakeState = new AtomicInteger(AWAKE);
    private final Consumer<SelectionKey> onSelected = this::onSelected;
    /** Written by the loop; concurrent so {@link #addStats} can walk it from any thread. */
    private final Set<NioConnection> connections = ConcurrentHashMap.newKeySet();
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
    private volatile long closedFramesWritten;
    private volatile long closedBytesWritten;
    private volatile long closedFramesRead;
    private volatile long closedBytesRead;
    private volatile long closedWriteCalls;
    private volatile long closedShortWrites;
    private volatile long closedWakeups;
    private volatile long selectorRebuilds;

    EventLoop(String name, TransportConfig config) throws IOException {
        this.name = name;
        this.config = config;
        this.iov = new ByteBuffer[config.maxBuffersPerWrite()];
        this.readBuffer = ByteBuffer.allocateDirect(config.readBufferSize());
        this.readView = readBuffer.duplicate();
        this.selector = Selector.open();
        this.thread = new Thread(this, name);
    }

    void start() {
        thread.start();
    }

    boolean inLoop() {
        return Thread.currentThread() == thread;
    }

    // ---------------------------------------------------------------- any thread

    /**
     * Any thread. Runs {@code task} on the loop.
     *
     * @return {@code false} when the loop has terminated: the task may not run, and the caller must settle
     * whatever it was for itself (a task offered while the loop ends may still run, so that must be idempotent)
     */
    boolean execute(Runnable task) {
        tasks.offer(task);
        wakeup();
        return !terminated;
    }

    /** Any thread. Hands a writer-scheduled connection to the loop; {@code true} if that woke the loop. */
    boolean schedule(NioConnection connection) {
        dirty.offer(connection);
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
            work += work > 0 ? selector.selectNow(onSelected) : idle();
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
            NioConnection c = (NioConnection) key.attachment();
            try {
                if (key.channel().isOpen()) {
                    int ops = key.isValid() ? key.interestOps() : 0;
                    SelectionKey moved = key.channel().register(fresh, ops, c);
                    c.registered(moved);
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

    private int runTasks() {
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
            NioConnection c = dirty.poll();
            if (c == null) {
                return i;
            }
            c.flushFromLoop();
        }
        return n;
    }

    /** Loop. Re-queues a connection whose writer yielded its turn. */
    void scheduleFromLoop(NioConnection connection) {
        dirty.offer(connection);
    }

    private void onSelected(SelectionKey key) {
        if (firstKeyNanos == 0 && idleSince != 0) {
            firstKeyNanos = System.nanoTime();
            idleSince = 0;
            // Awake from here: producers need not wake a loop that is handling keys and will look at its
            // queues before it sleeps again.
            wakeState.set(AWAKE);
        }
        NioConnection c = (NioConnection) key.attachment();
        try {
            int ready = key.readyOps();
            if ((ready & SelectionKey.OP_CONNECT) != 0) {
                c.finishConnect();
                return;
            }
            // Writes first: they free memory, and a reply read below may want to write at once.
            if ((ready & SelectionKey.OP_WRITE) != 0) {
                c.onWritable();
            }
            if ((ready & SelectionKey.OP_READ) != 0) {
                c.onReadable();
            }
        } catch (Throwable t) {
            c.closeOnError(t);
        }
    }

    // ---------------------------------------------------------------- connects

    /** Loop. Opens, configures and starts connecting a channel; settles {@code future} now or later. */
    void connect(InetSocketAddress remote, FrameHandler handler, CompletableFuture<Connection> future) {
        if (shutdownRequested) {
            future.completeExceptionally(new TransportException("transport closed; cannot connect to " + remote));
            return;
        }
        SocketChannel channel = null;
        NioConnection c = null;
        try {
            channel = SocketChannel.open();
            channel.configureBlocking(false);
            channel.setOption(StandardSocketOptions.TCP_NODELAY, config.tcpNoDelay());
            channel.setOption(StandardSocketOptions.SO_KEEPALIVE, config.keepAlive());
            if (config.sendBufferSize() > 0) {
                channel.setOption(StandardSocketOptions.SO_SNDBUF, config.sendBufferSize());
            }
            if (config.receiveBufferSize() > 0) {
                // Before connect, so the window scale offered in SYN fits it.
                channel.setOption(StandardSocketOptions.SO_RCVBUF, config.receiveBufferSize());
            }
            c = new NioConnection(this, channel, remote, handler, future);
            connections.add(c);
            boolean connected = channel.connect(remote);
            SelectionKey key = channel.register(selector, connected ? 0 : SelectionKey.OP_CONNECT, c);
            c.registered(key);
            // Armed even when connect() finished at once: with TLS the handshake is still to come.
            c.connectTimer(schedule(c::connectTimedOut, config.connectTimeout().toNanos()));
            if (connected) {
                c.finishConnect();
            }
        } catch (IOException | RuntimeException e) {
            if (c != null) {
                connections.remove(c);
            }
            closeQuietly(channel);
            future.completeExceptionally(new TransportException("connect to " + remote + " failed: " + e, e));
        }
    }

    /** Loop. The connection closed for good: keep its counters in the loop's totals. */
    void deregister(NioConnection c) {
        if (connections.remove(c)) {
            ConnectionStats s = c.stats();
            closedFramesWritten += s.framesWritten();
            closedBytesWritten += s.bytesWritten();
            closedFramesRead += s.framesRead();
            closedBytesRead += s.bytesRead();
            closedWriteCalls += s.writeCalls();
            closedShortWrites += s.shortWrites();
            closedWakeups += s.wakeups();
        }
    }

    /** Any thread. Visits the connections open now (a weakly consistent view). */
    void forEachConnection(Consumer<NioConnection> action) {
        connections.forEach(action);
    }

    // ---------------------------------------------------------------- timers

    TimerHeap timers() {
        return timers;
    }

    /** Any thread. Runs {@code task} on the loop once {@code delayNanos} has passed, never earlier. */
    LoopTimer schedule(Runnable task, long delayNanos) {
        LoopTimer t = new LoopTimer(this, System.nanoTime() + Math.max(0, delayNanos), task);
        if (inLoop()) {
            timers.add(t);
        } else {
            execute(t);
        }
        return t;
    }

    private int fireTimers() {
        LoopTimer next = timers.peek();
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
        LoopTimer next = timers.peek();
        if (next == null) {
            return 0;
        }
        long nanos = next.deadlineNanos - System.nanoTime();
        return nanos <= 0 ? 1 : TimeUnit.NANOSECONDS.toMillis(nanos) + 1;
    }

    // ---------------------------------------------------------------- stats

    /** Any thread. Adds this loop's figures to the running totals in {@code into} (see NioTransport#stats). */
    void addStats(long[] into) {
        int open = 0;
        long pending = 0;
        long framesWritten = closedFramesWritten;
        long bytesWritten = closedBytesWritten;
        long framesRead = closedFramesRead;
        long bytesRead = closedBytesRead;
        long writeCalls = closedWriteCalls;
        long shortWrites = closedShortWrites;
        long wakeups = closedWakeups;
        for (NioConnection c : connections) {
            ConnectionStats s = c.stats();
            open++;
            framesWritten += s.framesWritten();
            bytesWritten += s.bytesWritten();
            framesRead += s.framesRead();
            bytesRead += s.bytesRead();
            writeCalls += s.writeCalls();
            shortWrites += s.shortWrites();
            wakeups += s.wakeups();
            pending += s.pendingBytes();
        }
        long start = startNanos;
        long now = System.nanoTime();
        long uptime = start == 0 ? 0 : now - start;
        long sleepingSince = idleSince;
        long idle = idleNanos + (sleepingSince != 0 ? Math.max(0, now - sleepingSince) : 0);
        into[0] += open;
        into[1] += framesWritten;
        into[2] += bytesWritten;
        into[3] += framesRead;
        into[4] += bytesRead;
        into[5] += writeCalls;
        into[6] += shortWrites;
        into[7] += wakeups;
        into[8] += pending;
        into[9] += Math.max(0, uptime - idle);
        into[10] += uptime;
        into[11] = Math.max(into[11], maxTurnNanos);
    }

    // ---------------------------------------------------------------- the end

    private void terminate() {
        try {
            ConnectionClosedException closed = new ConnectionClosedException("transport closed (" + name + ")");
            for (NioConnection c : new ArrayList<>(connections)) {
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

    static void closeQuietly(SocketChannel channel) {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException e) {
                LOG.debug("close of {} failed", channel, e);
            }
        }
    }

    @Override
    public String toString() {
        return name;
    }
}
