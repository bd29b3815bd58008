package io.cqlnio.nio;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManagerFactory;
import java.io.InputStream;
import java.security.KeyStore;

/** Contexts over the checked-in test keystores (src/test/resources/tls/README.md says how they were made). */
final class TestTls {

    private static final char[] PASSWORD = "cqlnio-test".toCharArray();

    private TestTls() {
    }

    /** The server identity: names localhost and 127.0.0.1. */
    static SSLContext serverContext() throws Exception {
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(load("server.p12"), PASSWORD);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(kmf.getKeyManagers(), null, null);
        return context;
    }

    /** Trusts the server identity only. */
    static SSLContext clientContext() throws Exception {
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(load("truststore.p12"));
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, tmf.getTrustManagers(), null);
        return context;
    }

    static SSLEngine serverEngine() throws Exception {
        SSLEngine engine = serverContext().createSSLEngine();
        engine.setUseClientMode(false);
        return engine;
    }

    /** Runs the engine's delegated tasks on the calling thread: test peers have no loop to keep free. */
    static void runDelegatedTasks(SSLEngine engine) {
        Runnable task;
        while ((task = engine.getDelegatedTask()) != null) {
            task.run();
        }
    }

    private static KeyStore load(String name) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = TestTls.class.getResourceAsStream("/tls/" + name)) {
            ks.load(in, PASSWORD);
        }
        return ks;
    }
}
