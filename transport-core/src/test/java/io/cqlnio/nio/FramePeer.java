package io.cqlnio.nio;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.function.BiConsumer;

/**
 * A blocking CQL-frame peer on 127.0.0.1 for tests: a thread per accepted connection reads whole frames and
 * hands each to {@code onFrame}; optionally echoes them. Starts stalled when asked (reads nothing until
 * {@link #release()}), so the client's socket buffers fill and its writes go short.
 */
final class FramePeer implements AutoCloseable {

    private final ServerSocket server;
    private final BiConsumer<Integer, ByteBuffer> onFrame;
    private final boolean echo;
    private final CountDownLatch released;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final List<Throwable> errors = new CopyOnWriteArrayList<>();
    private final Thread acceptor;
    private final java.util.concurrent.atomic.AtomicInteger cleanEnds = new java.util.concurrent.atomic.AtomicInteger();

    /**
     * @param receiveBuffer SO_RCVBUF of accepted sockets (0: OS default)
     * @param stalled       read nothing until {@link #release()}
     * @param onFrame       (connection index, frame) for every whole frame read; the buffer is the peer's
     */
    FramePeer(int receiveBuffer, boolean stalled, boolean echo, BiConsumer<Integer, ByteBuffer> onFrame)
            throws IOException {
        this(null, receiveBuffer, stalled, echo, onFrame);
    }

    /**
     * @param tls the server's TLS context, or {@code null} for plaintext; with TLS the handshake completes
     *            before a stalled peer stalls, so the client's connect is not held up
     */
    FramePeer(SSLContext tls, int receiveBuffer, boolean stalled, boolean echo,
              BiConsumer<Integer, ByteBuffer> onFrame) throws IOException {
        this.server = tls == null ? new ServerSocket() : tls.getServerSocketFactory().createServerSocket();
        if (receiveBuffer > 0) {
            server.setReceiveBufferSize(receiveBuffer); // inherited by accepted sockets
        }
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        this.onFrame = onFrame;
        this.echo = echo;
        this.released = new CountDownLatch(stalled ? 1 : 0);
        this.acceptor = new Thread(this::acceptLoop, "peer-accept");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    InetSocketAddress address() {
        return (InetSocketAddress) server.getLocalSocketAddress();
    }

    void release() {
        released.countDown();
    }

    /**
     * Connections whose stream ended at a frame boundary without an error; over TLS that takes the client's
     * close_notify (the JDK reports an end without one as an error).
     */
    int cleanEnds() {
        return cleanEnds.get();
    }

    List<Throwable> errors() {
        return errors;
    }

    List<Socket> sockets() {
        return sockets;
    }

    /** Resets every accepted connection: SO_LINGER 0 makes close() send RST. */
    void resetAll() throws IOException {
        for (Socket s : sockets) {
            s.setSoLinger(true, 0);
            s.close();
        }
    }

    private void acceptLoop() {
        int index = 0;
        while (!server.isClosed()) {
            try {
                Socket s = server.accept();
                sockets.add(s);
                int connection = index++;
                Thread t = new Thread(() -> serve(connection, s), "peer-conn-" + connection);
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(int connection, Socket s) {
        try (s) {
            if (s instanceof SSLSocket) {
                ((SSLSocket) s).startHandshake();
            }
            released.await();
            DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(s.getInputStream(), 65536));
            OutputStream out = s.getOutputStream();
            byte[] header = new byte[TestFrames.HEADER];
            while (true) {
                try {
                    in.readFully(header);
                } catch (EOFException e) {
                    cleanEnds.incrementAndGet();
                    return;
                }
                int body = ByteBuffer.wrap(header).getInt(5);
                if (body < 0 || body > 64 << 20) {
                    throw new IOException("peer read a corrupt header: body length " + body);
                }
                byte[] frame = new byte[TestFrames.HEADER + body];
                System.arraycopy(header, 0, frame, 0, TestFrames.HEADER);
                in.readFully(frame, TestFrames.HEADER, body);
                if (onFrame != null) {
                    onFrame.accept(connection, ByteBuffer.wrap(frame));
                }
                if (echo) {
                    out.write(frame);
                }
            }
        } catch (IOException e) {
            if (!server.isClosed()) {
                errors.add(e);
            }
        } catch (Throwable t) {
            errors.add(t);
        }
    }

    @Override
    public void close() throws IOException {
        released.countDown();
        server.close();
        for (Socket s : sockets) {
            s.close();
        }
    }
}
