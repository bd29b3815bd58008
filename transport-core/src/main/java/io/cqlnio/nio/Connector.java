package io.cqlnio.nio;

import io.cqlnio.spi.Connection;
import io.cqlnio.spi.FrameHandler;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.TransportException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import java.util.concurrent.CompletableFuture;

/**
 * Opens a connection on a loop: a configured non-blocking socket, a {@link NioConnection} for it, registration,
 * the connect timer, and the connect itself. Runs as a task on the chosen loop; settles the future now or later.
 */
final class Connector {

    private static final Logger LOG = LoggerFactory.getLogger(Connector.class);

    private Connector() {
    }

    /** Loop. */
    static void connect(EventLoop loop, InetSocketAddress remote, FrameHandler handler,
                        CompletableFuture<Connection> future) {
        if (loop.isShuttingDown()) {
            future.completeExceptionally(new TransportException("transport closed; cannot connect to " + remote));
            return;
        }
        LoopResources resources = loop.resources();
        SocketChannel channel = null;
        NioConnection c = null;
        try {
            channel = SocketChannel.open();
            configure(channel, resources.config);
            c = new NioConnection(loop, resources, channel, remote, handler, future);
            boolean connected = channel.connect(remote);
            SelectionKey key = loop.register(channel, connected ? 0 : SelectionKey.OP_CONNECT, c);
            // Armed even when connect() finished at once: with TLS the handshake is still to come.
            c.connecting(key, loop.schedule(c::connectTimedOut, resources.config.connectTimeout().toNanos()));
            if (connected) {
                c.finishConnect();
            }
        } catch (IOException | RuntimeException e) {
            if (c != null) {
                loop.deregister(c);
            }
            if (channel != null) {
                try {
                    channel.close();
                } catch (IOException suppressed) {
                    LOG.debug("close of {} failed", channel, suppressed);
                }
            }
            future.completeExceptionally(new TransportException("connect to " + remote + " failed: " + e, e));
        }
    }

    private static void configure(SocketChannel channel, TransportConfig config) throws IOException {
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
    }
}
