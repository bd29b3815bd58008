package io.cqlnio.spi;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import java.net.InetSocketAddress;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;

/**
 * TLS for every connection of a transport: where each connection's {@link SSLEngine} comes from, and where the
 * engine's delegated tasks (certificate checks, key exchange) run. Immutable and shareable.
 *
 * <p>The transport puts the engine in client mode and completes the TLS handshake before the future of
 * {@link Transport#connect} completes; {@link TransportConfig#connectTimeout()} covers connect and handshake
 * together. A handshake that fails (untrusted certificate, wrong host name, a server that does not speak TLS)
 * fails that future with a {@link TransportException} whose cause is the {@link javax.net.ssl.SSLException}.
 *
 * <pre>{@code
 * SSLContext context = SSLContext.getInstance("TLS");
 * context.init(null, trustManagerFactory.getTrustManagers(), null);
 * TransportConfig config = TransportConfig.builder()
 *         .tls(TlsConfig.of(context))              // host name checked against the certificate
 *         .build();
 * try (Transport transport = Transports.create("nio", config)) {
 *     Connection c = transport.connect(new InetSocketAddress("db1.example", 9142), handler).join();
 * }
 * }</pre>
 *
 * <p>With {@link #of(SSLContext)} the engine is created for the remote host name and port (so the server sees
 * SNI when connecting by name) and checks that name against the server's certificate, as HTTPS does. A driver
 * that needs more (its own SNI for a proxy, cipher suites, client certificates) passes an {@link EngineFactory}.
 */
public final class TlsConfig {

    /**
     * Makes the engine of one new connection. Called on a loop thread as the connection is set up, so it must
     * not block; an exception it throws fails that connect. The engine it returns belongs to the transport
     * from then on. The transport sets client mode and nothing else.
     *
     * <pre>{@code
     * TlsConfig tls = TlsConfig.of(remote -> {
     *     SSLEngine engine = context.createSSLEngine("db.internal", remote.getPort());
     *     SSLParameters p = engine.getSSLParameters();
     *     p.setEndpointIdentificationAlgorithm("HTTPS");
     *     engine.setSSLParameters(p);
     *     return engine;
     * });
     * }</pre>
     */
    @FunctionalInterface
    public interface EngineFactory {
        /**
         * Loop thread; must not block.
         *
         * @param remote the address being connected to, as given to {@link Transport#connect}
         * @return a new engine for that connection, never {@code null}
         */
        SSLEngine newEngine(InetSocketAddress remote);
    }

    private final EngineFactory engines;
    private final Executor delegatedTasks;
    private final String description;

    private TlsConfig(EngineFactory engines, Executor delegatedTasks, String description) {
        this.engines = Objects.requireNonNull(engines, "engines");
        this.delegatedTasks = Objects.requireNonNull(delegatedTasks, "delegatedTasks");
        this.description = description;
    }

    /**
     * Engines from {@code context}, checking the remote host name against the server certificate.
     *
     * @param context an initialised context (its trust managers check the certificate chain)
     * @return a new config; immutable, any thread
     */
    public static TlsConfig of(SSLContext context) {
        return of(context, true);
    }

    /**
     * Engines from {@code context}; {@code verifyHostname} false skips the host name check (the certificate
     * chain is still checked by the context's trust managers). Turn it off only for servers reached by an
     * address their certificate cannot name.
     *
     * @param context        an initialised context (its trust managers check the certificate chain)
     * @param verifyHostname whether to check the remote host name against the server certificate
     * @return a new config; immutable, any thread
     */
    public static TlsConfig of(SSLContext context, boolean verifyHostname) {
        Objects.requireNonNull(context, "context");
        EngineFactory factory = remote -> {
            SSLEngine engine = context.createSSLEngine(remote.getHostString(), remote.getPort());
            if (verifyHostname) {
                SSLParameters p = engine.getSSLParameters();
                p.setEndpointIdentificationAlgorithm("HTTPS");
                engine.setSSLParameters(p);
            }
            return engine;
        };
        return new TlsConfig(factory, ForkJoinPool.commonPool(),
                context.getProtocol() + (verifyHostname ? " verifying host names" : " without host name check"));
    }

    /**
     * Engines from {@code factory}, which owns SNI, endpoint identification and every other engine setting.
     *
     * @param factory called on a loop thread for each new connection
     * @return a new config; immutable, any thread
     */
    public static TlsConfig of(EngineFactory factory) {
        return new TlsConfig(factory, ForkJoinPool.commonPool(), "engines from " + factory);
    }

    /**
     * A copy that runs the engines' delegated tasks on {@code executor} instead of
     * {@link ForkJoinPool#commonPool()}. They never run on a loop thread: a certificate check may block.
     *
     * @param executor runs the delegated tasks of every engine
     * @return a new config; this one is unchanged
     */
    public TlsConfig delegatedTaskExecutor(Executor executor) {
        return new TlsConfig(engines, executor, description);
    }

    /**
     * Called by transports on a loop thread, once per connection.
     *
     * @param remote the address being connected to
     * @return a new client-mode engine for a connection to {@code remote}
     */
    public SSLEngine newEngine(InetSocketAddress remote) {
        SSLEngine engine = Objects.requireNonNull(engines.newEngine(remote), "EngineFactory returned null");
        engine.setUseClientMode(true);
        return engine;
    }

    /** {@return where the engines' delegated tasks run} Any thread. */
    public Executor delegatedTaskExecutor() {
        return delegatedTasks;
    }

    @Override
    public String toString() {
        return "TlsConfig{" + description + '}';
    }
}
