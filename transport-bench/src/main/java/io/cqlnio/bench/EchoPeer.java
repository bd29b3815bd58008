package io.cqlnio.bench;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
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
 * <p>With a server {@link SSLContext} ({@link #start(Mode, SSLContext)}) it speaks TLS: the JDK's
 * {@link SSLServerSocket}, thread per connection, each worker doing the handshake and then copying the
 * decrypted bytes back as they arrive (the JDK encrypts them again). Again the same code, the same JDK
 * engine and the same cost whatever transport is the client.
 *
 * <pre>{@code
 * try (EchoPeer peer = EchoPeer.start(EchoPeer.Mode.ECHO)) {
 *     transport.connect(peer.address(), handler) ...
 * }
 * }</pre>
 *
 * Thread-safe: its own threads serve the connections; {@link #address()} and {@link #close()} from any thread.
 */
public final class EchoPeer implements AutoCloseable {

    /** What the peer does with the bytes it reads. */
    public enum Mode { ECHO, DISCARD }

    private static final Logger log = LoggerFactory.getLogger(EchoPeer.class);
    private static final int BUFFER_SIZE = 64 * 1024;

    /** Plaintext: a blocking NIO server (direct buffers, no copy through the heap). */
    private final ServerSocketChannel server;
    /** TLS: the JDK's SSL server socket; null in plaintext. */
    private final ServerSocket tlsServer;
    private final Mode mode;
    private final Thread acceptor;
    private final List<Closeable> accepted = new CopyOnWriteArrayList<>();
    private final List<Thread> workers = new CopyOnWriteArrayList<>();
    private volatile boolean closed;

    private EchoPeer(ServerSocketChannel server, ServerSocket tlsServer, Mode mode) {
        this.server = server;
        this.tlsServer = tlsServer;
        this.mode = mode;
        this.acceptor = new Thread(tlsServer == null ? this::acceptLoop : this::acceptTlsLoop, "echo-peer-accept");
        this.acceptor.setDaemon(true);
    }

    /** Binds an ephemeral port on 127.0.0.1 and starts accepting. */
    public static EchoPeer start(Mode mode) throws IOException {
        ServerSocketChannel server = ServerSocketChannel.open();
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 128);
        EchoPeer peer = new EchoPeer(server, null, mode);
        peer.acceptor.start();
        return peer;
    }

    /**
     * Binds an ephemeral port on 127.0.0.1 and starts accepting TLS connections with {@code serverContext}
     * (e.g. {@code TestCertificates.get().serverContext()}, whose certificate names 127.0.0.1).
     */
    public static EchoPeer start(Mode mode, SSLContext serverContext) throws IOException {
        ServerSocket server = serverContext.getServerSocketFactory()
                .createServerSocket(0, 128, InetAddress.getLoopbackAddress());
        EchoPeer peer = new EchoPeer(null, server, mode);
        peer.acceptor.start();
        return peer;
    }

    /** Where to connect. */
    public InetSocketAddress address() {
        if (tlsServer != null) {
            // By its IP literal: the certificate names 127.0.0.1, and the client checks the host name against it.
            return new InetSocketAddress("127.0.0.1", tlsServer.getLocalPort());
        }
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

    private void acceptTlsLoop() {
        int n = 0;
        while (!closed) {
            try {
                Socket socket = tlsServer.accept();
                socket.setTcpNoDelay(true);
                accepted.add(socket);
                Thread worker = new Thread(() -> serveTls(socket), "echo-peer-tls-" + (++n));
                worker.setDaemon(true);
                workers.add(worker);
                worker.start();
            } catch (IOException e) {
                if (!closed) {
                    log.warn("echo peer accept failed", e);
                }
                return;
            }
        }
    }

    private void serveTls(Socket socket) {
        // One heap array: SSLSocket decrypts into it and encrypts from it. The handshake runs on the first
        // read, on this worker, so a slow or failing handshake never holds up the acceptor.
        byte[] buffer = new byte[BUFFER_SIZE];
        try (socket; InputStream in = socket.getInputStream(); OutputStream out = socket.getOutputStream()) {
            int n;
            while ((n = in.read(buffer)) >= 0) {
                if (mode == Mode.ECHO) {
                    out.write(buffer, 0, n);
                }
            }
        } catch (SocketException e) {
            log.debug("echo peer TLS connection ended: {}", e.toString());
        } catch (IOException e) {
            // A failed handshake (the client distrusts us) or a client gone mid-stream: this connection only.
            log.debug("echo peer TLS connection ended: {}", e.toString());
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
        if (server != null) {
            server.close();
        } else {
            tlsServer.close();
        }
        for (Closeable socket : accepted) {
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
