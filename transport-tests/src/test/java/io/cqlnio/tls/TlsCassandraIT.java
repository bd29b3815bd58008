package io.cqlnio.tls;

import io.cqlnio.bench.tls.TestCertificates;
import io.cqlnio.cassandra.CassandraExtension;
import io.cqlnio.cql.CqlClient;
import io.cqlnio.cql.CqlResult;
import io.cqlnio.frame.Segments;
import io.cqlnio.origin.OriginStory;
import io.cqlnio.spi.TlsConfig;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;
import java.io.DataInputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * TLS against the real Cassandra 5.0 node. The shared node's native port takes TLS and plaintext alike
 * ({@code client_encryption_options} with {@code optional: true}, keystore from {@link TestCertificates}): a plain
 * JDK {@link SSLSocket} proves the node's side on its own; then the CQL client over {@code nio} and
 * {@code netty-nio} runs STARTUP and queries; in v5 (nio only: the Netty baseline has no segments) with segments
 * inside TLS records and values larger than a segment both ways; and the origin-story workload (1,000 prepared
 * 23.9 KB INSERTs at once, smallest send buffer, see {@link OriginStory#smallestSendBuffer()}), all checking the
 * negotiated session. A client that does not trust the node fails its connect, and plaintext still works on the
 * same port.
 */
@ExtendWith(CassandraExtension.class)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class TlsCassandraIT {

    private static final Logger LOG = LoggerFactory.getLogger(TlsCassandraIT.class);

    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(10);
    /** Bounds every blocking step on the raw socket: the node answers in milliseconds, or something is wrong. */
    private static final int RAW_TIMEOUT_MS = 10_000;

    private static InetSocketAddress node;
    private static String ks;

    @BeforeAll
    static void keyspace(CassandraExtension.Target cassandra) throws Exception {
        node = cassandra.node().nativeAddress();
        ks = cassandra.keyspace();
        assertTrue(cassandra.node().clientTls(), "the shared node was started without client TLS");
        // Created in plaintext: this keeps the set-up independent of the transports' TLS under test.
        try (Transport transport = Transports.create("nio", TransportConfig.defaults());
             CqlClient client = get(CqlClient.connect(transport, node, CqlClient.Options.defaults()))) {
            get(client.query(cassandra.createKeyspaceCql()));
            for (String name : transports().toList()) {
                OriginStory.createKeyspace(client, originKeyspace(name), REQUEST_TIMEOUT);
            }
        }
    }

    /** The transports under test: ours and the Netty baseline, both with TLS from {@link TransportConfig#tls()}. */
    static Stream<String> transports() {
        return Stream.of("nio", "netty-nio");
    }

    /** Those that can switch to v5 segments: the Netty baseline refuses {@code switchFraming(V5_SEGMENTS)}. */
    static Stream<String> v5Transports() {
        return Stream.of("nio");
    }

    /** The node's side alone: a JDK TLS socket, host name checked, sends OPTIONS and gets SUPPORTED. */
    @Test
    void theNodeAnswersOptionsOverAPlainJdkTlsSocket() throws Exception {
        SSLContext context = TestCertificates.get().clientContext();
        try (SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket()) {
            SSLParameters parameters = socket.getSSLParameters();
            parameters.setEndpointIdentificationAlgorithm("HTTPS");
            socket.setSSLParameters(parameters);
            socket.setSoTimeout(RAW_TIMEOUT_MS);
            socket.connect(node, RAW_TIMEOUT_MS);
            socket.startHandshake();
            assertServerSession(socket.getSession());

            OutputStream out = socket.getOutputStream();
            out.write(new byte[] {0x04, 0, 0, 7, 0x05, 0, 0, 0, 0});   // v4 OPTIONS on stream 7
            out.flush();
            DataInputStream in = new DataInputStream(socket.getInputStream());
            byte[] header = new byte[9];
            in.readFully(header);
            assertEquals((byte) 0x84, header[0], "v4 response");
            assertEquals(7, header[3], "stream id echoed");
            assertEquals(0x06, header[4], "opcode SUPPORTED");
            int length = ((header[5] & 0xff) << 24) | ((header[6] & 0xff) << 16) | ((header[7] & 0xff) << 8)
                    | (header[8] & 0xff);
            byte[] body = new byte[length];
            in.readFully(body);
            String text = new String(body, StandardCharsets.ISO_8859_1);
            assertTrue(text.contains("PROTOCOL_VERSIONS") && text.contains("4/v4"), text);
        }
    }

    @ParameterizedTest
    @MethodSource("transports")
    void startupAndQueriesOverTls(String transportName) throws Exception {
        String table = ks + ".kv_" + transportName.replace('-', '_');
        try (Transport transport = Transports.create(transportName, tlsConfig());
             CqlClient client = get(CqlClient.connect(transport, node, CqlClient.Options.defaults()))) {
            assertServerSession(client.connection().tlsSession());
            Map<String, List<String>> supported = get(client.options());
            assertTrue(supported.get("PROTOCOL_VERSIONS").contains("4/v4"), supported.toString());

            get(client.query("CREATE TABLE IF NOT EXISTS " + table + " (k int PRIMARY KEY, v text, n bigint)"));
            CqlResult.Prepared insert = get(client.prepare("INSERT INTO " + table + " (k, v, n) VALUES (?, ?, ?)"));
            List<String> words = List.of("one", "two", "three");
            for (int k = 1; k <= words.size(); k++) {
                assertEquals(new CqlResult.Void(), get(client.execute(insert, k, words.get(k - 1), (long) k * k)));
            }
            CqlResult.Prepared select = get(client.prepare("SELECT v, n FROM " + table + " WHERE k = ?"));
            for (int k = 1; k <= words.size(); k++) {
                CqlResult.Rows rows = (CqlResult.Rows) get(client.execute(select, k));
                assertEquals(List.of(List.of(words.get(k - 1), (long) k * k)), rows.rows());
            }
            CqlResult.Rows all = (CqlResult.Rows) get(client.query("SELECT k FROM " + table));
            assertEquals(words.size(), all.rows().size());
            assertEquals(0, client.serverErrors());
            assertEquals(0, client.protocolErrors(), client.firstProtocolError());
            assertTrue(client.connection().isOpen());
        }
    }

    /** v5 inside TLS: segments in records, one EXECUTE spanning nine segments, and the same size read back. */
    @ParameterizedTest
    @MethodSource("v5Transports")
    void protocolV5SegmentsOverTls(String transportName) throws Exception {
        String table = ks + ".blobs_" + transportName.replace('-', '_');
        try (Transport transport = Transports.create(transportName, tlsConfig());
             CqlClient client = get(CqlClient.connect(transport, node, CqlClient.Options.defaults().withVersion(5)))) {
            assertServerSession(client.connection().tlsSession());
            assertTrue(client.segmented(), "the client switched to segments on READY");
            assertEquals(5, client.version());

            get(client.query("CREATE TABLE IF NOT EXISTS " + table + " (k int PRIMARY KEY, b blob)"));
            CqlResult.Prepared insert = get(client.prepare("INSERT INTO " + table + " (k, b) VALUES (?, ?)"));
            CqlResult.Prepared select = get(client.prepare("SELECT b FROM " + table + " WHERE k = ?"));
            int[] sizes = {10, Segments.MAX_PAYLOAD + 1, 1 << 20};
            for (int k = 0; k < sizes.length; k++) {
                byte[] blob = new byte[sizes[k]];
                for (int i = 0; i < blob.length; i++) {
                    blob[i] = (byte) (i * 31 + k);
                }
                assertEquals(new CqlResult.Void(), get(client.execute(insert, k, blob)));
                CqlResult.Rows rows = (CqlResult.Rows) get(client.execute(select, k));
                assertArrayEquals(blob, (byte[]) rows.value(0, "b"), "blob of " + sizes[k] + " bytes");
            }
            assertEquals(0, client.serverErrors());
            assertEquals(0, client.protocolErrors(), client.firstProtocolError());
        }
    }

    /**
     * The origin story over TLS: the frames are encrypted into records before they reach the socket, so a short
     * write now cuts a record; every insert must still succeed and read back byte-exact.
     */
    @ParameterizedTest
    @MethodSource("transports")
    void theOriginStoryWorkloadOverTls(String transportName) throws Exception {
        OriginStory.Outcome o = OriginStory.run(transportName, 4, node, originKeyspace(transportName), 1,
                REQUEST_TIMEOUT, true, tls());
        LOG.info("origin story over TLS: {} {}/{} ok, {} protocol errors, {} short writes, {} ms: {}", o.label(),
                o.succeeded(), o.requests(), o.protocolErrors(), o.stats().shortWrites(), o.wall().toMillis(), o);
        assertNotNull(o.tlsProtocol(), "the workload ran in plaintext: " + o);
        assertTrue(o.tlsProtocol().startsWith("TLSv1."), o.toString());
        assertEquals(OriginStory.REQUESTS, o.succeeded(), o.toString());
        assertEquals(0, o.serverErrors(), "ERROR frames: " + o);
        assertEquals(0, o.protocolErrors(), o.toString());
        assertEquals(0, o.timeouts(), o.toString());
        assertEquals(OriginStory.REQUESTS, o.rowsVerified(), "rows read back byte-exact: " + o);
        assertEquals(0, o.stats().pendingBytes(), o.toString());
        assertTrue(o.openAtEnd(), o.toString());
        if (transportName.equals("nio")) {
            // Ours counts a write that left ciphertext behind; without one the run proved nothing about them.
            // (The Netty baseline does not count short writes.)
            assertTrue(o.stats().shortWrites() > 0, "no short write occurred: " + o);
        }
    }

    /** The JDK's default trust store does not know the node's self-signed certificate: connect must fail. */
    @ParameterizedTest
    @MethodSource("transports")
    void aClientThatDoesNotTrustTheNodeFailsToConnect(String transportName) throws Exception {
        TransportConfig config = TransportConfig.builder().tls(TlsConfig.of(SSLContext.getDefault())).build();
        try (Transport transport = Transports.create(transportName, config)) {
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> CqlClient.connect(transport, node, CqlClient.Options.defaults()).get(30, TimeUnit.SECONDS));
            assertTrue(hasCause(e, SSLException.class), "no SSLException in the chain: " + chain(e));
        }
    }

    /** {@code optional: true} keeps the port open to plaintext: every other IT depends on it. */
    @Test
    void plaintextStillWorksOnTheSamePort() throws Exception {
        try (Transport transport = Transports.create("nio", TransportConfig.defaults());
             CqlClient client = get(CqlClient.connect(transport, node, CqlClient.Options.defaults()))) {
            assertNull(client.connection().tlsSession());
            CqlResult.Rows rows = (CqlResult.Rows) get(client.query("SELECT release_version FROM system.local"));
            String release = (String) rows.value(0, "release_version");
            assertTrue(release.startsWith("5.0"), release);
        }
    }

    private static TlsConfig tls() {
        return TlsConfig.of(TestCertificates.get().clientContext());   // host name (127.0.0.1) checked too
    }

    private static TransportConfig tlsConfig() {
        return TransportConfig.builder().tls(tls()).build();
    }

    private static String originKeyspace(String transportName) {
        return ks + "_origin_" + transportName.replace('-', '_');
    }

    /** A TLS 1.2 or 1.3 session with the node's own certificate ({@code CN=server} from TestCertificates). */
    private static void assertServerSession(SSLSession session) throws Exception {
        assertNotNull(session, "no TLS session: the connection is plaintext");
        assertTrue(session.getProtocol().equals("TLSv1.3") || session.getProtocol().equals("TLSv1.2"),
                session.getProtocol());
        X509Certificate peer = (X509Certificate) session.getPeerCertificates()[0];
        assertTrue(peer.getSubjectX500Principal().getName().contains("CN=server"),
                peer.getSubjectX500Principal().getName());
    }

    private static boolean hasCause(Throwable t, Class<? extends Throwable> type) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (type.isInstance(c)) {
                return true;
            }
        }
        return false;
    }

    private static String chain(Throwable t) {
        StringBuilder sb = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause()) {
            sb.append(c).append(" <- ");
        }
        return sb.toString();
    }

    private static <T> T get(CompletableFuture<T> f) throws Exception {
        return f.get(30, TimeUnit.SECONDS);
    }
}
