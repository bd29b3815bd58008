package io.cqlnio.e2e;

import javax.net.ssl.SSLContext;
import java.net.InetSocketAddress;

/**
 * Opens {@link Client}s of one kind. Implementations are loaded by name ({@link ClientMain}) so that a client JVM
 * loads only its own kind: the driver's JVM has no cqlnio transport on its class path and the others no driver.
 */
interface Target {

    /**
     * Connects one client: one connection (or a driver session with one pooled connection) in {@code variant},
     * with a {@link Workload#SMALL_SEND_BUFFER} when {@code smallSendBuffer}, over TLS trusting {@code tls} when the
     * variant asks for it.
     */
    Client open(Variant variant, boolean smallSendBuffer, InetSocketAddress node, SSLContext tls) throws Exception;
}
