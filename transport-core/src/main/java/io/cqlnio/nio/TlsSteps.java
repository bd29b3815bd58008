package io.cqlnio.nio;

import io.cqlnio.spi.TlsConfig;
import io.cqlnio.spi.TransportException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.net.ssl.SSLSession;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;

/**
 * The TLS steps of a connection's life that are not frames: the handshake between the TCP connect and the
 * hand-out, and close_notify at the end of a graceful close. Frames go through {@link #wire} like any other
 * {@link Wire}. Loop thread only; the engine's delegated tasks run on the configured executor, never here.
 */
final class TlsSteps {

    private static final Logger LOG = LoggerFactory.getLogger(TlsSteps.class);

    final TlsWire wire;
    private final ConnectionControl host;
    private final Loop loop;
    private final TlsConfig config;
    private final InetSocketAddress remote;
    private final Runnable continueHandshake = this::continueHandshake;
    private boolean closeNotifyStarted;
    private boolean failed;

    TlsSteps(ConnectionControl host, Loop loop, TlsConfig config, InetSocketAddress remote, SocketChannel channel) {
        this.host = host;
        this.loop = loop;
        this.config = config;
        this.remote = remote;
        this.wire = new TlsWire(host, config.newEngine(remote), channel, channel);
    }

    SSLSession session() {
        return wire.engine().getSession();
    }

    void beginHandshake() {
        try {
            wire.beginHandshake();
        } catch (IOException | RuntimeException e) {
            fail(new TransportException("TLS handshake with " + remote + " could not start on " + host + ": "
                    + e.getMessage(), e));
            return;
        }
        continueHandshake();
    }

    /**
     * Drives the handshake as far as it goes now; called again on OP_READ, OP_WRITE, or when the engine's
     * delegated tasks are done. The connect timer keeps running: it covers the handshake too.
     */
    void continueHandshake() {
        if (failed) {
            return;
        }
        TlsWire.Handshake step;
        try {
            step = wire.handshake();
            if (step == TlsWire.Handshake.NEED_TASKS) {
                host.setInterest(0);
                wire.runDelegatedTasks(config.delegatedTaskExecutor(), () -> loop.execute(continueHandshake));
                return;
            }
        } catch (IOException | RuntimeException e) {
            wire.sendAlertQuietly();
            fail(new TransportException("TLS handshake with " + remote + " failed on " + host + ": "
                    + e.getMessage(), e));
            return;
        }
        switch (step) {
            case NEED_READ:
                host.setInterest(SelectionKey.OP_READ);
                break;
            case NEED_WRITE:
                host.setInterest(SelectionKey.OP_WRITE);
                break;
            default:
                LOG.debug("{}: {} {}", host, session().getProtocol(), session().getCipherSuite());
                host.handshakeDone();
                break;
        }
    }

    private void fail(TransportException cause) {
        failed = true;
        host.failConnect(cause);
    }

    /** Queues close_notify behind any ciphertext still waiting. */
    void startCloseNotify() {
        closeNotifyStarted = true;
        try {
            wire.closeOutbound();
        } catch (IOException | RuntimeException e) {
            LOG.debug("close_notify not made on {}", host, e); // closing anyway; the peer sees the end of stream
        }
    }

    boolean closeNotifyStarted() {
        return closeNotifyStarted;
    }

    /** Writes what is left of close_notify: {@code true} when the socket may close now. */
    boolean flushCloseNotify() {
        try {
            return wire.flushCiphertext();
        } catch (IOException | RuntimeException e) {
            LOG.debug("close_notify not sent on {}", host, e);
            return true;
        }
    }

    /** Whole records, plaintext or the peer's close_notify are held here, where no readiness event shows them. */
    boolean hasBufferedInput() {
        return wire.hasBufferedInput();
    }
}
