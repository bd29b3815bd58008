package io.cqlnio.testkit;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A blocking peer on 127.0.0.1 for the tests: one thread per accepted connection runs a {@link Server}. It may
 * start stalled (reads nothing until {@link #release()}) so the client's socket buffers fill and its writes go
 * short. Errors a server throws are kept for the test to assert on; an I/O error after {@link #close()} is not
 * one.
 *
 * <p>Given an {@link SSLContext}, the peer is a TLS server: it completes the handshake on the accepted socket,
 * then hands the server the TLS socket, so the bytes on the wire (through a fault proxy, into the receive buffer)
 * are ciphertext. The handshake comes before any stall: the transport's connect completes only after it.
 *
 * <p>Threads: the test thread constructs, releases and closes; the peer's own threads (named {@code kit-peer-*})
 * run the servers; {@link #errors()}, {@link #sockets()} and {@link #cleanEnds()} may be read from any thread.
 */
public final class LoopbackPeer implements AutoCloseable {

    /** Serves one accepted connection; returning normally counts as a {@linkplain #cleanEnds() clean end}. */
    @FunctionalInterface
    public interface Server {
        void serve(int index, Socket socket) throws Exception;
    }

    /** Receives each whole CQL frame a {@link #frames} server reads; the buffer is the peer's own copy. */
    @FunctionalInterface
    public interface FrameSink {
        void onFrame(int connection, ByteBuffer frame) throws Exception;
    }

    private final ServerSocket server;
    private final SSLContext tls;
    private final Server serve;
    private final CountDownLatch released;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final List<Throwable> errors = new CopyOnWriteArrayList<>();
    private final AtomicInteger cleanEnds = new AtomicInteger();
    private volatile boolean closed;

    /**
     * @param receiveBuffer SO_RCVBUF of accepted sockets, set before bind so the window fits (0: OS default)
     * @param stalled       accept, but run no server until {@link #release()}
     * @param backlog       the listen backlog (many-connection tests need a deep one)
     * @param tls           the TLS server's context, or {@code null} to serve in the clear
     */
    public LoopbackPeer(int receiveBuffer, boolean stalled, int backlog, SSLContext tls, Server serve)
            throws IOException {
        this.server = new ServerSocket();
        if (receiveBuffer > 0) {
            server.setReceiveBufferSize(receiveBuffer); // inherited by accepted sockets
        }
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), backlog);
        this.tls = tls;
        this.serve = serve;
        this.released = new CountDownLatch(stalled ? 1 : 0);
        Thread acceptor = new Thread(this::acceptLoop, "kit-peer-accept");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /** A plaintext peer with the default backlog. */
    public LoopbackPeer(int receiveBuffer, boolean stalled, Server serve) throws IOException {
        this(receiveBuffer, stalled, 50, null, serve);
    }

    /** A server that reads whole CQL frames (header length field) and hands each to {@code sink}. */
    public static Server frames(FrameSink sink) {
        return frames(sink, false);
    }

    /**
     * Like {@link #frames(FrameSink)}, and writes every frame back when {@code echo}, as a response (version byte
     * with 0x80 set). Ends normally when the stream ends at a frame boundary.
     */
    public static Server frames(FrameSink sink, boolean echo) {
        return (index, socket) -> {
            DataInputStream in = new DataInputStream(new BufferedInputStream(socket.getInputStream(), 65536));
            OutputStream out = socket.getOutputStream();
            byte[] header = new byte[TestFrames.HEADER];
            while (true) {
                try {
                    in.readFully(header);
                } catch (EOFException e) {
                    return;
                }
                int body = ByteBuffer.wrap(header).getInt(5);
                if (body < 0 || body > 64 << 20) {
                    throw new IOException("peer read a corrupt header: body length " + body + ", version byte "
                            + header[0]);
                }
                byte[] frame = new byte[TestFrames.HEADER + body];
                System.arraycopy(header, 0, frame, 0, TestFrames.HEADER);
                in.readFully(frame, TestFrames.HEADER, body);
                if (sink != null) {
                    sink.onFrame(index, ByteBuffer.wrap(frame));
                }
                if (echo) {
                    frame[0] = (byte) (frame[0] | 0x80);
                    out.write(frame);
                }
            }
        };
    }

    /** A server that reads and discards everything until end of stream. */
    public static Server discard() {
        return (index, socket) -> {
            byte[] buf = new byte[65536];
            while (socket.getInputStream().read(buf) >= 0) {
                // discard
            }
        };
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) server.getLocalSocketAddress();
    }

    /** Lets a stalled peer's servers run. */
    public void release() {
        released.countDown();
    }

    public List<Throwable> errors() {
        return errors;
    }

    /** The accepted TCP sockets (under TLS too), in accept order. */
    public List<Socket> sockets() {
        return sockets;
    }

    /**
     * Connections whose server returned without an error: for {@link #frames}, a stream that ended at a frame
     * boundary, which over TLS takes the client's close_notify when the JVM runs with
     * {@code com.sun.net.ssl.requireCloseNotify=true} (else the JDK reports a bare end of stream as an end too).
     */
    public int cleanEnds() {
        return cleanEnds.get();
    }

    /** Resets every accepted connection (the TCP sockets under TLS): SO_LINGER 0 makes close() send RST, not FIN. */
    public void resetAll() {
        for (Socket s : sockets) {
            reset(s);
        }
    }

    /** Resets {@code s}: SO_LINGER 0 makes close() send RST, not FIN. */
    public static void reset(Socket s) {
        try {
            s.setSoLinger(true, 0);
            s.close();
        } catch (IOException e) {
            // already closed: nothing left to reset
        }
    }

    private void acceptLoop() {
        int index = 0;
        while (!server.isClosed()) {
            try {
                Socket s = server.accept();
                s.setTcpNoDelay(true);
                sockets.add(s);
                int connection = index++;
                Thread t = new Thread(() -> run(connection, s), "kit-peer-" + connection);
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    private void run(int connection, Socket s) {
        try (s) {
            Socket served = tls == null ? s : handshake(s);
            released.await();
            serve.serve(connection, served);
            cleanEnds.incrementAndGet();
        } catch (SocketException e) {
            if (!closed && !s.isClosed()) {
                errors.add(e);
            }
        } catch (Throwable t) {
            if (!(closed && t instanceof IOException)) {
                errors.add(t);
            }
        }
    }

    /**
     * The server side of the TLS handshake, layered on the accepted socket. Closing that socket ends both; no
     * close_notify is sent at the end, as when a server process goes away (a test that wants one calls
     * {@code shutdownOutput()} on the TLS socket).
     */
    private Socket handshake(Socket s) throws IOException {
        SSLSocket ssl = (SSLSocket) tls.getSocketFactory().createSocket(s, null, s.getPort(), true);
        ssl.setUseClientMode(false);
        s.setSoTimeout(10_000); // a client that never finishes its handshake must not hold this thread for good
        ssl.startHandshake();
        s.setSoTimeout(0);
        return ssl;
    }

    @Override
    public void close() throws IOException {
        closed = true;
        released.countDown();
        server.close();
        for (Socket s : sockets) {
            s.close();
        }
    }
}
