package io.cqlnio.bench;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * The one peer every transport is measured against: a plain blocking server on 127.0.0.1 with a thread per
 * connection that copies bytes back as they arrive ({@link Mode#ECHO}) or drops them ({@link Mode#DISCARD}).
 * It never parses, so it costs the same whatever transport is on the other side.
 *
 * <pre>{@code
 * try (EchoPeer peer = EchoPeer.start(EchoPeer.Mode.ECHO)) {
 *     transport.connect(peer.address(), handler) ...
 * }
 * }</pre>
 */
public final class EchoPeer implements AutoCloseable {

    /** What the peer does with the bytes it reads. */
    public enum Mode { ECHO, DISCARD }

    private static final Logger log = LoggerFactory.getLogger(EchoPeer.class);
    private static final int BUFFER_SIZE = 64 * 1024;

    private final ServerSocketChannel server;
    private final Mode mode;
    private final Thread acceptor;
    private final List<SocketChannel> accepted = new CopyOnWriteArrayList<>();
    private final List<Thread> workers = new CopyOnWriteArrayList<>();
    private volatile boolean closed;

    private EchoPeer(ServerSocketChannel server, Mode mode) {
        this.server = server;
        this.mode = mode;
        this.acceptor = new Thread(this::acceptLoop, "echo-peer-accept");
        this.acceptor.setDaemon(true);
    }

    /** Binds an ephemeral port on 127.0.0.1 and starts accepting. */
    public static EchoPeer start(Mode mode) throws IOException {
        ServerSocketChannel server = ServerSocketChannel.open();
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 128);
        EchoPeer peer = new EchoPeer(server, mode);
        peer.acceptor.start();
        return peer;
    }

    /** Where to connect. */
    public InetSocketAddress address() {
        try {
            return (InetSocketAddress) server.getLocalAddress();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private void acceptLoop() {
        int n = 0;
        while (!closed) {
            try {
                SocketChannel socket = server.accept();
                socket.setOption(StandardSocketOptions.TCP_NODELAY, true);
                accepted.add(socket);
                Thread worker = new Thread(() -> serve(socket), "echo-peer-" + (++n));
                worker.setDaemon(true);
                workers.add(worker);
                worker.start();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                if (!closed) {
                    log.warn("echo peer accept failed", e);
                }
                return;
            }
        }
    }

    private void serve(SocketChannel socket) {
        // Direct, so the JDK reads and writes it without a temporary copy.
        ByteBuffer buffer = ByteBuffer.allocateDirect(BUFFER_SIZE);
        try (socket) {
            while (socket.read(buffer) >= 0) {
                buffer.flip();
                if (mode == Mode.ECHO) {
                    while (buffer.hasRemaining()) {
                        socket.write(buffer);
                    }
                }
                buffer.clear();
            }
        } catch (IOException e) {
            // The client went away (reset, abort): this connection is done, the peer serves the others.
            log.debug("echo peer connection ended: {}", e.toString());
        }
    }

    /** Closes the listening socket and every accepted connection, and joins the peer's threads (bounded). */
    @Override
    public void close() throws IOException {
        closed = true;
        server.close();
        for (SocketChannel socket : accepted) {
            socket.close();
        }
        try {
            acceptor.join(TimeUnit.SECONDS.toMillis(5));
            for (Thread worker : workers) {
                worker.join(TimeUnit.SECONDS.toMillis(5));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
