package io.cqlnio.nio;

import io.cqlnio.spi.Connection;
import io.cqlnio.spi.ConnectionClosedException;
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
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * One selector, one thread, and every channel registered with it. The duty cycle ({@link #doWork()}) runs
 * submitted tasks, flushes the connections writers marked dirty, expires connect deadlines, then handles
 * ready keys; when a cycle found nothing to do the loop blocks in {@code select} until a key is ready, a
 * deadline is due, or a producer wakes it. Producers wake it only when it is actually blocked: a burst of
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
    private final Selector selector;
    private final MessagePassingQueue<Runnable> tasks = new MpscUnboundedXaddArrayQueue<>(256, 2);
    private final MessagePassingQueue<NioConnection> dirty = new MpscUnboundedXaddArrayQueue<>(256, 2);
    private final AtomicInteger wakeState = new AtomicInteger(AWAKE);
    private final Consumer<SelectionKey> onSelected = this::onSelected;
    private final Set<NioConnection> connections = new HashSet<>();
    private final List<NioConnection> connecting = new ArrayList<>();

    private volatile boolean shutdownRequested;
    private volatile boolean terminated;

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
        if (wakeState.get() == SLEEPING && wakeState.compareAndSet(SLEEPING, AWAKE)) {
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

    boolean isTerminated() {
        return terminated;
    }

    // ---------------------------------------------------------------- the loop

    @Override
    public void run() {
        while (!shutdownRequested) {
            try {
                doWork();
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
     * @return how much work it did: tasks run, connections flushed or expired, keys handled
     */
    int doWork() throws IOException {
        int work = runTasks();
        work += flushDirty();
        work += expireConnects();
        if (work > 0) {
            work += selector.selectNow(onSelected);
        } else {
            work += idle();
        }
        if (Thread.interrupted()) {
            // An interrupt makes every select return at once; clear it or the loop would spin.
            LOG.debug("{}: interrupt cleared", name);
        }
        return work;
    }

    /** Blocks in select until a key is ready, the next connect deadline, or a wakeup. */
    private int idle() throws IOException {
        long timeoutMillis = nextDeadlineMillis();
        wakeState.set(SLEEPING);
        try {
            // Re-check after announcing sleep: a producer that enqueued before seeing SLEEPING did not wake us.
            if (!tasks.isEmpty() || !dirty.isEmpty() || shutdownRequested) {
                return selector.selectNow(onSelected);
            }
            return selector.select(onSelected, timeoutMillis);
        } finally {
            wakeState.set(AWAKE);
        }
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
            long deadline = System.nanoTime() + config.connectTimeout().toNanos();
            NioConnection c = new NioConnection(this, channel, remote, handler, future, deadline);
            connections.add(c);
            boolean connected = channel.connect(remote);
            SelectionKey key = channel.register(selector, connected ? 0 : SelectionKey.OP_CONNECT, c);
            c.registered(key);
            if (connected) {
                c.finishConnect();
            } else {
                connecting.add(c);
            }
        } catch (IOException | RuntimeException e) {
            closeQuietly(channel);
            future.completeExceptionally(new TransportException("connect to " + remote + " failed: " + e, e));
        }
    }

    /** Loop. The connection stopped connecting (done or failed). */
    void connectEnded(NioConnection c) {
        connecting.remove(c);
    }

    /** Loop. The connection closed for good. */
    void deregister(NioConnection c) {
        connections.remove(c);
        connecting.remove(c);
    }

    private int expireConnects() {
        if (connecting.isEmpty()) {
            return 0;
        }
        long now = System.nanoTime();
        int expired = 0;
        for (int i = connecting.size() - 1; i >= 0; i--) {
            NioConnection c = connecting.get(i);
            if (now - c.connectDeadlineNanos() >= 0) {
                expired++;
                c.failConnect(new TransportException("connect to " + c.remoteAddress() + " timed out after "
                        + config.connectTimeout().toMillis() + " ms"));
            }
        }
        return expired;
    }

    private long nextDeadlineMillis() {
        if (connecting.isEmpty()) {
            return 0; // block until woken
        }
        long now = System.nanoTime();
        long next = Long.MAX_VALUE;
        for (NioConnection c : connecting) {
            next = Math.min(next, c.connectDeadlineNanos() - now);
        }
        return Math.max(1, TimeUnit.NANOSECONDS.toMillis(next) + 1);
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
