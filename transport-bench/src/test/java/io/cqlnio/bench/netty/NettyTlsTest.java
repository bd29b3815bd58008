package io.cqlnio.bench.netty;

import io.cqlnio.bench.EchoPeer;
import io.cqlnio.bench.tls.TestCertificates;
import io.cqlnio.spi.Connection;
import io.cqlnio.spi.TlsConfig;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.TransportException;
import io.cqlnio.spi.Transports;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSession;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static io.cqlnio.bench.netty.NettyTransportTest.frame;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The Netty baseline over TLS: Netty's SslHandler with the JDK engine from the SPI's {@link TlsConfig}. */
@Timeout(60)
class NettyTlsTest {

    private static final long WAIT = 10;

    private static TransportConfig tlsConfig() {
        return TransportConfig.builder().tls(TlsConfig.of(TestCertificates.get().clientContext())).build();
    }

    @ParameterizedTest
    @ValueSource(strings = {"netty-nio", "netty-epoll", "netty-io_uring"})
    void framesOfEverySizeEchoThroughATlsPeerAndCloseIsGraceful(String name) throws Exception {
        Available.assume(name);
        try (EchoPeer peer = EchoPeer.start(EchoPeer.Mode.ECHO, TestCertificates.get().serverContext());
             Transport transport = Transports.create(name, tlsConfig())) {
            NettyTransportTest.Recorder recorder = new NettyTransportTest.Recorder();
            Connection c = transport.connect(peer.address(), recorder).get(WAIT, TimeUnit.SECONDS);
            SSLSession session = c.tlsSession();
            assertNotNull(session, "tlsSession after the handshake");
            assertTrue(session.getProtocol().startsWith("TLS"), session.getProtocol());
            assertEquals("127.0.0.1", ((java.security.cert.X509Certificate) session.getPeerCertificates()[0])
                    .getSubjectAlternativeNames().stream().map(l -> String.valueOf(l.get(1)))
                    .filter("127.0.0.1"::equals).findFirst().orElse(null));

            // Sizes around and beyond one TLS record (16 KiB of plaintext) and many small ones coalesced into one.
            int[] sizes = {0, 1, 64, 1024, 16375, 16384, 24576, 70000};
            int count = 600;
            NettyTransportTest.Outcomes outcomes = new NettyTransportTest.Outcomes();
            for (int i = 0; i < count; i++) {
                c.write(frame(i, sizes[i % sizes.length]), outcomes.listener(i));
            }
            for (int i = 0; i < count; i++) {
                ByteBuffer got = recorder.frames.poll(WAIT, TimeUnit.SECONDS);
                assertNotNull(got, "frame " + i + " came back");
                assertEquals(frame(i, sizes[i % sizes.length]), got, "frame " + i + " byte for byte, in order");
            }
            outcomes.awaitCount(count);
            int expected = 0;
            String order = outcomes.seen.stream().limit(120).map(o -> String.valueOf(o[0]))
                    .collect(java.util.stream.Collectors.joining(","));
            for (Object[] o : outcomes.seen) {
                assertEquals(expected++, o[0], "listeners in write order: " + order);
                assertNull(o[1]);
            }
            assertEquals(count, c.stats().framesRead());

            c.close().get(WAIT, TimeUnit.SECONDS);
            assertNull(recorder.awaitClosed(), "a local graceful close has no cause");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"netty-nio", "netty-epoll", "netty-io_uring"})
    void gracefulCloseFlushesEveryAcceptedFrameThenSendsCloseNotify(String name) throws Exception {
        Available.assume(name);
        SSLContext server = TestCertificates.get().serverContext();
        try (SSLServerSocket listener = (SSLServerSocket) server.getServerSocketFactory()
                .createServerSocket(0, 10, InetAddress.getLoopbackAddress());
             Transport transport = Transports.create(name, tlsConfig())) {
            // Counts the plaintext bytes until the client's close_notify (read() returns -1 only after it).
            CompletableFuture<Long> received = new CompletableFuture<>();
            Thread reader = new Thread(() -> {
                long total = 0;
                try (Socket s = listener.accept()) {
                    InputStream in = s.getInputStream();
                    byte[] b = new byte[65536];
                    for (int n; (n = in.read(b)) >= 0; ) {
                        total += n;
                    }
                    received.complete(total);
                } catch (Exception e) {
                    e.addSuppressed(new Exception("after " + total + " bytes"));
                    // Closing after the client's close_notify may meet a socket the client already closed.
                    received.completeExceptionally(e);
                }
            }, "tls-counting-peer");
            reader.setDaemon(true);
            reader.start();
            NettyTransportTest.Recorder recorder = new NettyTransportTest.Recorder();
            Connection c = transport.connect((InetSocketAddress) listener.getLocalSocketAddress(), recorder)
                    .get(WAIT, TimeUnit.SECONDS);
            long total = 0;
            for (int i = 0; i < 2000; i++) {
                ByteBuffer f = frame(i, 1000 + i % 3000);
                total += f.remaining();
                c.write(f, null);
            }
            c.close().get(WAIT, TimeUnit.SECONDS);
            Throwable closedWith = recorder.awaitClosed();
            // A reset (socket closed with the server's session ticket unread) would lose bytes or fail the read.
            assertEquals(total, received.handle((n, e) -> e != null ? e + " " + java.util.Arrays.toString(
                    e.getSuppressed()) : n).get(WAIT, TimeUnit.SECONDS), "every byte before the close_notify");
            assertNull(closedWith);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"netty-nio", "netty-epoll", "netty-io_uring"})
    void aPeerThatAnswersOurCloseNotifyByHangingUpStillEndsAGracefulCloseWithoutCause(String name)
            throws Exception {
        Available.assume(name);
        SSLContext server = TestCertificates.get().serverContext();
        try (ServerSocket listener = new ServerSocket(0, 10, InetAddress.getLoopbackAddress());
             Transport transport = Transports.create(name, tlsConfig())) {
            Thread peer = new Thread(() -> {
                try (Socket plain = listener.accept()) {
                    // TLS over a socket it does not own: reading to our close_notify, then closing the plain socket,
                    // ends the stream with EOF and no close_notify of its own.
                    Socket tls = server.getSocketFactory().createSocket(plain, null, plain.getPort(), false);
                    ((javax.net.ssl.SSLSocket) tls).setUseClientMode(false);
                    InputStream in = tls.getInputStream();
                    while (in.read() >= 0) {
                        // discard
                    }
                } catch (Exception e) {
                    // the assertion below is on the client's side
                }
            }, "tls-hang-up-peer");
            peer.setDaemon(true);
            peer.start();
            NettyTransportTest.Recorder recorder = new NettyTransportTest.Recorder();
            Connection c = transport.connect(new InetSocketAddress("127.0.0.1", listener.getLocalPort()), recorder)
                    .get(WAIT, TimeUnit.SECONDS);
            c.write(frame(1, 100)).get(WAIT, TimeUnit.SECONDS);
            c.close().get(WAIT, TimeUnit.SECONDS);
            assertNull(recorder.awaitClosed(), "our close was graceful: no cause, whatever the peer answered");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"netty-nio", "netty-epoll", "netty-io_uring"})
    void anUntrustedCertificateFailsConnectWithTheSslException(String name) throws Exception {
        Available.assume(name);
        assertHandshakeFails(name, TestCertificates.get().untrustedServerContext());
    }

    @ParameterizedTest
    @ValueSource(strings = {"netty-nio", "netty-epoll", "netty-io_uring"})
    void aCertificateForAnotherHostFailsConnectWithTheSslException(String name) throws Exception {
        Available.assume(name);
        assertHandshakeFails(name, TestCertificates.get().wrongHostServerContext());
    }

    private static void assertHandshakeFails(String name, SSLContext serverContext) throws Exception {
        try (EchoPeer peer = EchoPeer.start(EchoPeer.Mode.ECHO, serverContext);
             Transport transport = Transports.create(name, tlsConfig())) {
            NettyTransportTest.Recorder recorder = new NettyTransportTest.Recorder();
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> transport.connect(peer.address(), recorder).get(WAIT, TimeUnit.SECONDS));
            TransportException failure = assertInstanceOf(TransportException.class, e.getCause());
            assertInstanceOf(SSLException.class, failure.getCause(), failure.toString());
            assertEquals(0, recorder.closedCalls.get(), "no onClosed for a connection never handed out");
            assertEquals(0, transport.stats().connections());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"netty-nio", "netty-epoll", "netty-io_uring"})
    void theConnectTimeoutCoversAHandshakeThatNeverEnds(String name) throws Exception {
        Available.assume(name);
        TransportConfig config = TransportConfig.builder().connectTimeout(Duration.ofMillis(300))
                .tls(TlsConfig.of(TestCertificates.get().clientContext())).build();
        // Accepts and never answers the ClientHello.
        try (ServerSocket silent = new ServerSocket(0, 10, InetAddress.getLoopbackAddress());
             Transport transport = Transports.create(name, config)) {
            long start = System.nanoTime();
            ExecutionException e = assertThrows(ExecutionException.class, () -> transport.connect(
                    (InetSocketAddress) silent.getLocalSocketAddress(), new NettyTransportTest.Recorder())
                    .get(WAIT, TimeUnit.SECONDS));
            long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            TransportException failure = assertInstanceOf(TransportException.class, e.getCause());
            assertInstanceOf(SSLException.class, failure.getCause(), failure.toString());
            assertTrue(failure.getMessage().contains("timed out"), failure.getMessage());
            assertTrue(tookMs >= 250 && tookMs < 5000, "took " + tookMs + " ms");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"netty-nio", "netty-epoll", "netty-io_uring"})
    void aServerThatHangsUpAtOnceFailsConnectSayingTheHandshakeFailed(String name) throws Exception {
        Available.assume(name);
        try (ServerSocket hangsUp = new ServerSocket(0, 10, InetAddress.getLoopbackAddress());
             Transport transport = Transports.create(name, tlsConfig())) {
            Thread peer = new Thread(() -> {
                try {
                    hangsUp.accept().close();
                } catch (Exception e) {
                    // the assertion is on the client's side
                }
            }, "hang-up-peer");
            peer.setDaemon(true);
            peer.start();
            ExecutionException e = assertThrows(ExecutionException.class, () -> transport.connect(
                    new InetSocketAddress("127.0.0.1", hangsUp.getLocalPort()), new NettyTransportTest.Recorder())
                    .get(WAIT, TimeUnit.SECONDS));
            TransportException failure = assertInstanceOf(TransportException.class, e.getCause());
            assertInstanceOf(SSLException.class, failure.getCause(), failure.toString());
            assertTrue(failure.getMessage().contains("handshake"), failure.getMessage());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"netty-nio", "netty-epoll", "netty-io_uring"})
    void aPlaintextServerFailsTheHandshake(String name) throws Exception {
        Available.assume(name);
        try (EchoPeer plaintext = EchoPeer.start(EchoPeer.Mode.ECHO);
             Transport transport = Transports.create(name, tlsConfig())) {
            // The echo returns our own ClientHello: a record a client never accepts.
            ExecutionException e = assertThrows(ExecutionException.class, () -> transport.connect(
                    plaintext.address(), new NettyTransportTest.Recorder()).get(WAIT, TimeUnit.SECONDS));
            TransportException failure = assertInstanceOf(TransportException.class, e.getCause());
            assertInstanceOf(SSLException.class, failure.getCause(), failure.toString());
        }
    }

    /**
     * SslHandler completes a frame's promise with the record that carries the frame only when each wrap call is
     * wholly consumed; with its default 16384-byte wrap size the JDK engine (TLS 1.3: 16367 bytes per record) left
     * bytes over every call and the promises of a whole flush hung on its last record. Here the peer reads the first
     * records of one large flush and then stops: the frames of those records must be reported written now, while
     * the rest of the flush is stuck, not only when (or if) the last record goes out.
     */
    @ParameterizedTest
    @ValueSource(strings = {"netty-nio", "netty-epoll", "netty-io_uring"})
    void framesAreReportedWrittenRecordByRecordNotWhenTheWholeFlushIsOut(String name) throws Exception {
        Available.assume(name);
        SSLContext server = TestCertificates.get().serverContext();
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        CompletableFuture<Long> readByPeer = new CompletableFuture<>();
        try (SSLServerSocket listener = (SSLServerSocket) server.getServerSocketFactory().createServerSocket(0, 10,
                InetAddress.getLoopbackAddress());
             Transport transport = Transports.create(name, TransportConfig.builder().sendBufferSize(4096)
                     .tls(TlsConfig.of(TestCertificates.get().clientContext())).build())) {
            listener.setReceiveBufferSize(4096);
            Thread peer = new Thread(() -> {
                try (Socket s = listener.accept()) {
                    InputStream in = s.getInputStream();
                    byte[] buffer = new byte[4096];
                    long read = 0;
                    while (read < 50_000) {
                        int n = in.read(buffer);
                        if (n < 0) {
                            break;
                        }
                        read += n;
                    }
                    readByPeer.complete(read);
                    release.await(); // then reads no more: the rest of the flush stays stuck
                } catch (Exception e) {
                    readByPeer.completeExceptionally(e);
                }
            }, "tls-stalling-peer");
            peer.setDaemon(true);
            peer.start();
            Connection c = transport.connect((InetSocketAddress) listener.getLocalSocketAddress(),
                    new NettyTransportTest.Recorder()).get(WAIT, TimeUnit.SECONDS);
            int count = 400; // 400 KB: about 25 records, all handed to Netty from one loop task, so in one flush
            NettyTransportTest.Outcomes outcomes = new NettyTransportTest.Outcomes();
            c.execute(() -> {
                for (int i = 0; i < count; i++) {
                    c.write(frame(i, 1000), outcomes.listener(i));
                }
            });
            long read = readByPeer.get(WAIT, TimeUnit.SECONDS);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT);
            while (outcomes.count.get() == 0 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            int reported = outcomes.count.get();
            assertTrue(reported > 0, "the peer read " + read + " bytes, yet no frame was reported written");
            assertTrue(reported < count, "every frame reported although the peer stopped reading: " + reported);
            assertTrue(c.isOpen());
            for (Object[] o : outcomes.seen) {
                assertNull(o[1], "frame " + o[0] + " failed on an open connection");
            }
            release.countDown();
        }
    }
}
