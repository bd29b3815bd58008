package io.cqlnio.tls;

import io.cqlnio.bench.tls.TestCertificates;
import io.cqlnio.kit.EachTransport;
import io.cqlnio.kit.Kit;
import io.cqlnio.spi.Connection;
import io.cqlnio.spi.FrameHandler;
import io.cqlnio.spi.TlsConfig;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.TransportException;
import io.cqlnio.spi.Transports;
import io.cqlnio.testkit.Await;
import io.cqlnio.testkit.LoopbackPeer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Timeout;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLSession;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A TLS handshake that cannot succeed fails {@code connect} with a cause a driver author can act on, for every
 * implementation: an untrusted certificate, a certificate for another host, a plaintext server that answers with
 * a CQL error frame, one that never answers (then the connect timeout, which covers the handshake, fires), one
 * that hangs up at once. The handler of a connection never handed out hears nothing, and the same transport
 * (one loop, so the very loop that ran the failed handshake) goes on to serve a good TLS connection.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TlsHandshakeFailureTest {

    private static TestCertificates pki;
    private static SSLContext client;

    private final List<AutoCloseable> opened = new ArrayList<>();

    @BeforeAll
    static void certificates() {
        pki = TestCertificates.get();
        client = pki.clientContext();
    }

    @AfterEach
    void closeAll() throws Exception {
        for (int i = opened.size() - 1; i >= 0; i--) {
            opened.get(i).close();
        }
    }

    private <T extends AutoCloseable> T open(T resource) {
        opened.add(resource);
        return resource;
    }

    /** One loop: a failed handshake and the good connection after it share it. */
    private Transport transport(String name, TlsConfig tls, Duration connectTimeout) {
        return open(Transports.create(name, TransportConfig.builder().loops(1).tls(tls)
                .connectTimeout(connectTimeout).build()));
    }

    private Transport transport(String name, TlsConfig tls) {
        return transport(name, tls, Duration.ofSeconds(10));
    }

    private LoopbackPeer server(SSLContext tls, LoopbackPeer.Server serve) throws IOException {
        return open(new LoopbackPeer(0, false, 50, tls, serve));
    }

    /** A TLS server that echoes every frame back as a response. */
    private LoopbackPeer goodServer() throws IOException {
        return server(pki.serverContext(), LoopbackPeer.frames(null, true));
    }

    /** Records every callback: a connection that was never handed out must get none. */
    private static final class Handler implements FrameHandler {
        final List<String> events = new CopyOnWriteArrayList<>();
        final CompletableFuture<byte[]> firstFrame = new CompletableFuture<>();

        @Override
        public void onFrame(Connection connection, ByteBuffer frame) {
            events.add("frame");
            byte[] copy = new byte[frame.remaining()];
            frame.get(copy);
            firstFrame.complete(copy);
        }

        @Override
        public void onClosed(Connection connection, Throwable causeOrNull) {
            events.add("closed " + causeOrNull);
        }
    }

    /** Connects with a fresh handler, requires the future to fail, and returns the failure. */
    private static TransportException connectFails(Transport transport, InetSocketAddress to) throws Exception {
        Handler handler = new Handler();
        CompletableFuture<Connection> f = transport.connect(to, handler);
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(20, TimeUnit.SECONDS),
                "the connect must fail");
        TransportException failure = assertInstanceOf(TransportException.class, e.getCause(), String.valueOf(e));
        System.out.printf(Locale.ROOT, "handshake failure: %s%n", describe(failure));
        Thread.sleep(50); // a late callback would show within this; there is nothing to wait for otherwise
        assertEquals(List.of(), handler.events, "callbacks on a connection never handed out");
        return failure;
    }

    /** A v4 OPTIONS request; the good server answers it with the same bytes as a response. */
    private static ByteBuffer options(int stream) {
        return ByteBuffer.allocate(9).put((byte) 4).put((byte) 0).putShort((short) stream).put((byte) 5).putInt(0)
                .flip();
    }

    /** The loop that ran a failed handshake still connects over TLS and carries a frame both ways. */
    private void assertStillServes(Transport transport) throws Exception {
        LoopbackPeer good = goodServer();
        Handler handler = new Handler();
        Connection c = transport.connect(good.address(), handler).get(10, TimeUnit.SECONDS);
        assertNotNull(c.tlsSession(), "no TLS session on the good connection");
        c.write(options(7)).get(10, TimeUnit.SECONDS);
        byte[] echoed = handler.firstFrame.get(10, TimeUnit.SECONDS);
        byte[] expected = options(7).array();
        expected[0] = (byte) 0x84;
        assertArrayEquals(expected, echoed, "the echoed frame");
        c.close().get(10, TimeUnit.SECONDS);
    }

    private static List<Throwable> chain(Throwable t) {
        List<Throwable> chain = new ArrayList<>();
        for (Throwable c = t; c != null && !chain.contains(c); c = c.getCause()) {
            chain.add(c);
        }
        return chain;
    }

    private static String describe(Throwable t) {
        return chain(t).stream().map(String::valueOf).collect(Collectors.joining(" <- "));
    }

    private static <T extends Throwable> T find(Throwable t, Class<T> type) {
        return chain(t).stream().filter(type::isInstance).map(type::cast).findFirst()
                .orElseThrow(() -> new AssertionError("no " + type.getSimpleName() + " in " + describe(t)));
    }

    /** The failure names {@code what} somewhere in its chain, case aside. */
    private static void assertNames(Throwable t, String... what) {
        String all = describe(t).toLowerCase(Locale.ROOT);
        for (String w : what) {
            assertTrue(all.contains(w.toLowerCase(Locale.ROOT)), "'" + w + "' not named by: " + describe(t));
        }
    }

    // ------------------------------------------------------------------------------------------ certificates

    @EachTransport
    void anUntrustedCertificateFailsTheConnectNamingTheCertificatePath(String name) throws Exception {
        LoopbackPeer untrusted = server(pki.untrustedServerContext(), LoopbackPeer.discard());
        Transport t = transport(name, TlsConfig.of(client));
        TransportException e = connectFails(t, untrusted.address());
        find(e, SSLHandshakeException.class);
        // The JDK's PKIX wording: "unable to find valid certification path to requested target".
        assertNames(e, "certification path");
        assertStillServes(t);
    }

    @EachTransport
    void aCertificateForAnotherHostFailsTheConnectNamingTheAddress(String name) throws Exception {
        LoopbackPeer wrongHost = server(pki.wrongHostServerContext(), LoopbackPeer.discard());
        Transport t = transport(name, TlsConfig.of(client));
        // By IP literal (no host name attached), as a driver connects to the addresses a cluster reports.
        InetSocketAddress byIp = new InetSocketAddress(InetAddress.getByAddress(new byte[]{127, 0, 0, 1}),
                wrongHost.address().getPort());
        TransportException e = connectFails(t, byIp);
        find(e, SSLHandshakeException.class);
        // "No subject alternative names matching IP address 127.0.0.1 found": the name mismatch, not the trust.
        assertNames(e, "subject alternative name", "127.0.0.1");
        // By name: the same check against a DNS name.
        e = connectFails(t, wrongHost.address());
        assertNames(e, "subject alternative", wrongHost.address().getHostString());
        assertStillServes(t);
    }

    @EachTransport
    void withTheHostNameCheckOffTheSameCertificateIsAccepted(String name) throws Exception {
        LoopbackPeer wrongHost = server(pki.wrongHostServerContext(), LoopbackPeer.frames(null, true));
        Transport t = transport(name, TlsConfig.of(client, false));
        Handler handler = new Handler();
        Connection c = t.connect(wrongHost.address(), handler).get(10, TimeUnit.SECONDS);
        SSLSession session = c.tlsSession();
        assertNotNull(session, "tlsSession()");
        X509Certificate server = (X509Certificate) session.getPeerCertificates()[0];
        assertTrue(server.getSubjectX500Principal().getName().contains("CN=wronghost"), String.valueOf(server));
        c.write(options(3)).get(10, TimeUnit.SECONDS);
        assertEquals(9, handler.firstFrame.get(10, TimeUnit.SECONDS).length);
        c.close().get(10, TimeUnit.SECONDS);
    }

    // ------------------------------------------------------------------------------------------ not TLS

    /**
     * A plaintext CQL server, as Cassandra without client encryption answers a TLS ClientHello: it reads the
     * hello's first bytes as a frame header, answers with a v4 ERROR frame, and keeps the connection open (so the
     * client must fail on the bytes, not on an end of stream).
     */
    private static LoopbackPeer.Server answersWithACqlError() {
        return (index, s) -> {
            s.getInputStream().readNBytes(9);
            byte[] message = "Invalid or unsupported protocol version (22)".getBytes(StandardCharsets.UTF_8);
            ByteBuffer body = ByteBuffer.allocate(4 + 2 + message.length).putInt(0x000A)
                    .putShort((short) message.length).put(message).flip();
            ByteBuffer frame = ByteBuffer.allocate(9 + body.remaining()).put((byte) 0x84).put((byte) 0)
                    .putShort((short) 0).put((byte) 0x00).putInt(body.remaining()).put(body).flip();
            OutputStream out = s.getOutputStream();
            out.write(frame.array());
            out.flush();
            LoopbackPeer.discard().serve(index, s);
        };
    }

    @EachTransport
    void aPlaintextServerAnsweringACqlErrorFailsTheConnectAsNotTls(String name) throws Exception {
        LoopbackPeer plaintext = server(null, answersWithACqlError());
        Transport t = transport(name, TlsConfig.of(client));
        long start = System.nanoTime();
        TransportException e = connectFails(t, plaintext.address());
        // The JDK: "Unsupported or unrecognized SSL message" / "plaintext connection?"; Netty: "not an SSL/TLS
        // record". Either way an SSLException, and well before any timeout.
        find(e, SSLException.class);
        long millis = Kit.millisSince(start);
        assertTrue(millis < 5_000, "failed only after " + millis + " ms: the garbage was not recognised");
        assertStillServes(t);
    }

    /** Reads what comes and never writes a byte; counts the connections the transport closed again. */
    private static LoopbackPeer.Server silent(AtomicInteger closedByClient) {
        return (index, s) -> {
            try {
                LoopbackPeer.discard().serve(index, s);
            } catch (IOException reset) {
                // a reset is the transport closing its side too
            }
            closedByClient.incrementAndGet();
        };
    }

    @EachTransport
    void aServerThatNeverAnswersFailsTheConnectWhenTheConnectTimeoutEnds(String name) throws Exception {
        AtomicInteger closedByClient = new AtomicInteger();
        LoopbackPeer silent = server(null, silent(closedByClient));
        Transport t = transport(name, TlsConfig.of(client), Duration.ofMillis(500));
        // A good handshake first: the JVM's first one (class loading, key exchange warm-up) may itself take
        // longer than 500 ms on a loaded machine, and it must not be the one after the failure.
        assertStillServes(t);
        long start = System.nanoTime();
        TransportException e = connectFails(t, silent.address());
        long millis = Kit.millisSince(start);
        // The TCP connect takes a millisecond here: the 500 ms went to a handshake that never got an answer.
        assertTrue(millis >= 450 && millis < 2_500, "failed after " + millis + " ms; connectTimeout is 500 ms");
        assertNames(e, "500");
        String message = describe(e).toLowerCase(Locale.ROOT);
        assertTrue(message.contains("timed out") || message.contains("timeout"), "names no timeout: " + message);
        Await.until(() -> closedByClient.get() == 1, Duration.ofSeconds(10),
                () -> "the transport to close the timed-out connection's socket");
        assertStillServes(t);
    }

    @EachTransport
    void aServerThatHangsUpAtOnceFailsTheConnectSayingWhen(String name) throws Exception {
        LoopbackPeer hangsUp = server(null, (index, s) -> s.close());
        Transport t = transport(name, TlsConfig.of(client));
        TransportException e = connectFails(t, hangsUp.address());
        assertTrue(e.getMessage().contains(String.valueOf(hangsUp.address().getPort())),
                "the failure names the address: " + describe(e));
        // The TCP connect succeeded: a driver author needs to read that the TLS handshake is what failed (a
        // server without TLS, or one that refused this client), not a bare "channel closed".
        assertTrue(chain(e).stream().anyMatch(SSLException.class::isInstance)
                        || describe(e).toLowerCase(Locale.ROOT).contains("handshake"),
                "the failure does not say it happened during the TLS handshake: " + describe(e));
        assertStillServes(t);
    }
}
