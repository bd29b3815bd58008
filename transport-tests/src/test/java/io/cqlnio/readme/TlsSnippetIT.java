package io.cqlnio.readme;

import io.cqlnio.bench.tls.TestCertificates;
import io.cqlnio.cassandra.CassandraExtension;
import io.cqlnio.spi.Connection;
import io.cqlnio.spi.FrameHandler;
import io.cqlnio.spi.TlsConfig;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The README's TLS block against the real node's TLS port (the shared node takes TLS and plaintext on one port,
 * see {@link CassandraExtension}); the block's free names ({@code truststorePath}, {@code password}, {@code node},
 * {@code handler}) are {@link #tlsSnippet}'s parameters.
 */
@ExtendWith(CassandraExtension.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TlsSnippetIT {

    @Test
    void theTlsSnippetHandshakesWithTheNodeAndLetsTheJvmExit(CassandraExtension.Target cassandra) throws Exception {
        assertTrue(cassandra.node().clientTls(), "the shared node was started without client TLS");
        TestCertificates pki = TestCertificates.get();
        FrameHandler handler = new QuickStart.Replies();

        String printed = Printed.by(() -> tlsSnippet(pki.truststore(), TestCertificates.PASSWORD.toCharArray(),
                cassandra.node().nativeAddress(), handler));

        assertTrue(printed.matches("TLSv1\\.[23] TLS_\\S+\\R"), printed);
    }

    static void tlsSnippet(Path truststorePath, char[] password, InetSocketAddress node, FrameHandler handler)
            throws Exception {
        // tag::tls[]
        KeyStore truststore = KeyStore.getInstance("PKCS12");                     // the CA or the node's certificate
        try (InputStream in = Files.newInputStream(truststorePath)) {
            truststore.load(in, password);
        }
        TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        trust.init(truststore);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, trust.getTrustManagers(), null);
        TransportConfig config = TransportConfig.builder().tls(TlsConfig.of(context)).build();
        try (Transport transport = Transports.create("nio", config)) {            // closing it stops its threads
            Connection c = transport.connect(node, handler).get(5, TimeUnit.SECONDS);   // TCP, then the handshake
            System.out.println(c.tlsSession().getProtocol() + " " + c.tlsSession().getCipherSuite());
            c.close().get(5, TimeUnit.SECONDS);                                   // flushes, sends close_notify
        }
        // end::tls[]
    }
}
