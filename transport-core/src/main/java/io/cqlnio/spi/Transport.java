package io.cqlnio.spi;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/**
 * Opens connections that carry whole frames, and owns the threads that serve them.
 * Obtain one through {@link Transports#create(String, TransportConfig)}.
 *
 * <p>Threads: every method may be called from any thread. {@link #close()} called from one of the
 * transport's own loop threads does not wait for that thread to end.
 *
 * <pre>{@code
 * Transport transport = Transports.create("nio", TransportConfig.builder().loops(2).build());
 * Connection c = transport.connect(new InetSocketAddress("127.0.0.1", 9042), handler).get(5, SECONDS);
 * ...
 * transport.close();   // aborts every connection, fails unwritten frames, joins the loop threads
 * }</pre>
 */
public interface Transport extends AutoCloseable {

    /**
     * Connects asynchronously. The future fails with a {@link TransportException} naming the address when
     * the address is unresolved, the peer refuses, {@code connectTimeout} passes, or the transport closes
     * first. {@code handler} receives this connection's frames and events from the moment it completes.
     *
     * @param remote  the node's address; resolved, or the future fails
     * @param handler receives the connection's frames and events, on its loop thread
     * @return completed with the open connection (TLS handshake done, when configured), or failed
     */
    CompletableFuture<Connection> connect(InetSocketAddress remote, FrameHandler handler);

    /**
     * Aborts every connection (failing unwritten frames with {@link ConnectionClosedException}), fails
     * pending connects, stops and joins the loop threads. Idempotent.
     */
    @Override
    void close();

    /**
     * Graceful shutdown: refuses new connects and writes, lets every connection flush what it accepted and drain
     * (see {@link Connection#close()}) for up to {@code grace}, then {@link #close()}s whatever is left (failing its
     * unwritten frames). Every listener
     * still fires exactly once. Blocks the caller for at most about {@code grace}; do not call it on a loop thread.
     *
     * @param grace how long connections may flush and drain before the rest is aborted
     */
    void close(Duration grace);

    /** {@return counters across every loop and connection; cheap enough to poll every second} */
    TransportStats stats();
}
