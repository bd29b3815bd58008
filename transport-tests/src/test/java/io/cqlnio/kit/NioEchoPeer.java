package io.cqlnio.kit;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A one-thread loopback echo peer for thousands of connections (a thread per connection would not scale to the
 * many-connection test): echoes the bytes it reads, can stop reading ({@link #stall()}) so clients' writes back
 * up, and can die ({@link #kill()}): every connection reset at once, as when the peer's process is killed with
 * data still unread.
 */
final class NioEchoPeer implements AutoCloseable {

    private final Selector selector;
    private final ServerSocketChannel server;
    private final List<SocketChannel> channels = new CopyOnWriteArrayList<>();
    /** Each connection's echo state, for {@link #describe()} from other threads. */
    private final Map<SocketChannel, Echo> echoes = new ConcurrentHashMap<>();
    private final List<Throwable> errors = new CopyOnWriteArrayList<>();
    private final AtomicInteger accepted = new AtomicInteger();
    private final Thread thread;
    private volatile boolean stalled;
    private volatile boolean stopped;

    NioEchoPeer(int receiveBuffer) throws IOException {
        selector = Selector.open();
        server = ServerSocketChannel.open();
        if (receiveBuffer > 0) {
            server.setOption(StandardSocketOptions.SO_RCVBUF, receiveBuffer);
        }
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 8192);
        server.configureBlocking(false);
        server.register(selector, SelectionKey.OP_ACCEPT);
        thread = new Thread(this::run, "kit-echo-peer");
        thread.setDaemon(true);
        thread.start();
    }

    InetSocketAddress address() throws IOException {
        return (InetSocketAddress) server.getLocalAddress();
    }

    int accepted() {
        return accepted.get();
    }

    List<Throwable> errors() {
        return errors;
    }

    /**
     * Any thread, for a stalled test's message: per connection, the client's port, what the peer read and wrote,
     * the reply bytes it holds (waiting for the kernel to take them) and what it waits for. A peer holding bytes
     * and waiting for OP_WRITE cannot send (the client is not taking its replies); one holding none and waiting
     * for OP_READ has echoed all it was sent.
     */
    String describe() {
        StringBuilder s = new StringBuilder("peer");
        echoes.forEach((c, e) -> {
            s.append(" [client port ").append(e.clientPort).append(": read ").append(e.read).append(", wrote ")
                    .append(e.written).append(", holds ").append(e.held).append(", waits for ").append(e.waitsFor)
                    .append(e.failure != null ? ", closed after " + e.failure : "").append(']');
        });
        return s.toString();
    }

    /** Stops reading from every connection: what clients write from now on backs up into their transports. */
    void stall() {
        stalled = true;
        selector.wakeup();
    }

    /** Resets every connection (SO_LINGER 0) and stops listening: the peer process died. */
    void kill() throws InterruptedException {
        stopped = true;
        selector.wakeup();
        thread.join(10_000);
        for (SocketChannel c : channels) {
            try {
                c.setOption(StandardSocketOptions.SO_LINGER, 0);
                c.close();
            } catch (IOException e) {
                // already gone
            }
        }
        try {
            server.close();
            selector.close();
        } catch (IOException e) {
            errors.add(e);
        }
    }

    private void run() {
        boolean wasStalled = false;
        try {
            while (!stopped) {
                selector.select(100);
                if (stalled && !wasStalled) {
                    wasStalled = true;
                    for (SelectionKey key : selector.keys()) {
                        if (key.isValid() && key.channel() instanceof SocketChannel) {
                            key.interestOps(0);
                            ((Echo) key.attachment()).waitsFor = "nothing (stalled)";
                        }
                    }
                }
                for (SelectionKey key : selector.selectedKeys()) {
                    if (!key.isValid()) {
                        continue;
                    }
                    if (key.isAcceptable()) {
                        SocketChannel c;
                        while ((c = server.accept()) != null) {
                            c.configureBlocking(false);
                            c.setOption(StandardSocketOptions.TCP_NODELAY, true);
                            channels.add(c);
                            accepted.incrementAndGet();
                            Echo echo = new Echo(((InetSocketAddress) c.getRemoteAddress()).getPort());
                            echoes.put(c, echo);
                            c.register(selector, stalled ? 0 : SelectionKey.OP_READ, echo);
                        }
                    } else if (key.isReadable() || key.isWritable()) {
                        echo(key);
                    }
                }
                selector.selectedKeys().clear();
            }
        } catch (IOException | RuntimeException e) {
            if (!stopped) {
                errors.add(e);
            }
        }
    }

    /** Echoes what is there; a reply the kernel cannot take now waits in the key's buffer, and reading pauses. */
    private void echo(SelectionKey key) {
        SocketChannel c = (SocketChannel) key.channel();
        Echo echo = (Echo) key.attachment();
        ByteBuffer pending = echo.pending;
        try {
            if (pending.position() > 0) {
                pending.flip();
                echo.written += c.write(pending);
                pending.compact();
            }
            if (pending.position() == 0 && !stalled) {
                int n = c.read(pending);
                if (n < 0) {
                    echo.waitsFor = "nothing (end of stream)";
                    key.cancel();
                    c.close();
                    return;
                }
                echo.read += n;
                pending.flip();
                echo.written += c.write(pending);
                pending.compact();
            }
            echo.held = pending.position();
            if (!stalled) {
                boolean full = pending.position() > 0;
                key.interestOps(full ? SelectionKey.OP_WRITE : SelectionKey.OP_READ);
                echo.waitsFor = full ? "OP_WRITE" : "OP_READ";
            }
        } catch (IOException e) {
            echo.failure = e.toString(); // a reset client, say: the client sees the close; say it here too
            key.cancel();
            try {
                c.close();
            } catch (IOException ignored) {
                // closing after the failure
            }
        }
    }

    /** One connection's echo: the reply bytes the kernel has not taken yet, and counts for {@link #describe()}. */
    private static final class Echo {
        final ByteBuffer pending = ByteBuffer.allocate(16 * 1024);
        final int clientPort;
        volatile long read;
        volatile long written;
        volatile int held;
        volatile String waitsFor = "OP_READ";
        volatile String failure;

        Echo(int clientPort) {
            this.clientPort = clientPort;
        }
    }

    @Override
    public void close() throws Exception {
        if (!stopped) {
            stopped = true;
            selector.wakeup();
            thread.join(10_000);
            for (SocketChannel c : channels) {
                c.close();
            }
            server.close();
            selector.close();
        }
    }
}
