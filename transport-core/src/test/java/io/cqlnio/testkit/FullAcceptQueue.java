package io.cqlnio.testkit;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.ArrayList;
import java.util.List;

/**
 * A loopback listener that never accepts, with its accept queue filled: the kernel drops further SYNs, so a
 * connect to it neither succeeds nor fails until the connector gives up. How the tests hold a connect in
 * flight without any address outside this machine.
 */
public final class FullAcceptQueue implements AutoCloseable {

    private final ServerSocket server;
    private final List<Socket> fillers = new ArrayList<>();
    private final boolean full;

    public FullAcceptQueue() throws IOException {
        server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        boolean dropped = false;
        for (int i = 0; i < 16 && !dropped; i++) {
            Socket s = new Socket();
            fillers.add(s);
            try {
                s.connect(server.getLocalSocketAddress(), 200);
            } catch (SocketTimeoutException e) {
                dropped = true;
            }
        }
        full = dropped;
    }

    /** {@code false} if this kernel never dropped a SYN: the caller should skip, not fail. */
    public boolean isFull() {
        return full;
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) server.getLocalSocketAddress();
    }

    @Override
    public void close() throws IOException {
        for (Socket s : fillers) {
            s.close();
        }
        server.close();
    }
}
