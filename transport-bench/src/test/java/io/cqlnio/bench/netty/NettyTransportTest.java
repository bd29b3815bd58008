package io.cqlnio.bench.netty;

import io.cqlnio.bench.EchoPeer;
import io.cqlnio.spi.Connection;
import io.cqlnio.spi.ConnectionClosedException;
import io.cqlnio.spi.FrameHandler;
import io.cqlnio.spi.ProtocolException;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.TransportException;
import io.cqlnio.spi.Transports;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The SPI contracts the Netty baseline must keep (the compatibility kit in transport-tests covers them
 * more widely; these run with the module's own build, for every Netty provider).
 */
@Timeout(60)
class NettyTransportTest {

    private static final long WAIT = 10;

    /** Records every callback; assertions read it from the test thread. */
    static final class Recorder implements FrameHandler {
        final BlockingQueue<ByteBuffer> frames = new LinkedBlockingQueue<>();
        final BlockingQueue<Boolean> writability = new LinkedBlockingQueue<>();
        final CompletableFuture<Throwable> closed = new CompletableFuture<>();
        final AtomicInteger closedCalls = new AtomicInteger();
        volatile RuntimeException throwOnFrame;

        @Override
        public void onFrame(Connection connection, ByteBuffer frame) {
            if (throwOnFrame != null) {
                throw throwOnFrame;
            }
            ByteBuffer copy = ByteBuffer.allocate(frame.remaining());
            copy.put(frame).flip();
            frames.add(copy);
        }

        @Override
        public void onWritabilityChanged(Connection connection, boolean writable) {
            writability.add(writable);
        }

        @Override
        public void onClosed(Connection connection, Throwable causeOrNull) {
            closedCalls.incrementAndGet();
            closed.complete(causeOrNull);
        }

        Throwable awaitClosed() throws Exception {
            return closed.get(WAIT, TimeUnit.SECONDS);
        }
    }

    /** Listener outcomes in the order they arrived. */
    static final class Outcomes {
        final ConcurrentLinkedQueue<Object[]> seen = new ConcurrentLinkedQueue<>();
        final AtomicInteger count = new AtomicInteger();

        io.cqlnio.spi.WriteListener listener(int id) {
            return failure -> {
                seen.add(new Object[] {id, failure});
                count.incrementAndGet();
            };
        }

        void awaitCount(int expected) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT);
            while (count.get() < expected) {
                if (System.nanoTime() > deadline) {
                    fail("only " + count.get() + " of " + expected + " listeners ran");
                }
                Thread.sleep(5);
            }
        }
    }

    static ByteBuffer frame(int streamId, int bodySize) {
        ByteBuffer b = ByteBuffer.allocateDirect(9 + bodySize);
        b.put((byte) 4).put((byte) 0).putShort((short) streamId).put((byte) 7).putInt(bodySize);
        for (int i = 0; i < bodySize; i++) {
            b.put((byte) i);
        }
        return b.flip();
    }

    /** A one-connection server running {@code script} on the accepted socket. */
    static final class ScriptedPeer implements AutoCloseable {
        final ServerSocket server;
        final Thread thread;
        final CompletableFuture<Socket> accepted = new CompletableFuture<>();

        ScriptedPeer(Consumer<Socket> script) throws IOException {
            server = new ServerSocket(0, 10, InetAddress.getLoopbackAddress());
            thread = new Thread(() -> {
                try {
                    Socket s = server.accept();
                    accepted.complete(s);
                    script.accept(s);
                } catch (IOException e) {
                    accepted.completeExceptionally(e);
                }
            }, "scripted-peer");
            thread.setDaemon(true);
            thread.start();
        }

        InetSocketAddress address() {
            return new InetSocketAddress(server.getInetAddress(), server.getLocalPort());
        }

        @Override
        public void close() throws Exception {
            server.close();
            thread.interrupt(); // ends a script that waits
            if (accepted.isDone() && !accepted.isCompletedExceptionally()) {
                accepted.get().close();
            }
            thread.join(TimeUnit.SECONDS.toMillis(WAIT));
        }
    }

    private static Set<String> transportThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
                .filter(n -> n.startsWith("cqlnio-netty") || n.startsWith("globalEventExecutor"))
                .collect(Collectors.toSet());
    }

    /** Where io_uring is refused (no native library, old kernel, io_uring_disabled, seccomp) create names why. */
    @Test
    void ioUringIsCreatedHereOrCreateFailsNamingTheCause() {
        if (NettyIoUringTransportProvider.isAvailable()) {
            try (Transport transport = Transports.create(NettyIoUringTransportProvider.NAME,
                    TransportConfig.defaults())) {
                assertNotNull(transport);
            }
            return;
        }
        Throwable cause = NettyIoUringTransportProvider.unavailabilityCause();
        System.out.println("netty-io_uring is not available here: " + cause);
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> Transports.create(NettyIoUringTransportProvider.NAME, TransportConfig.defaults()));
        assertSame(cause, e.getCause());
        assertTrue(e.getMessage().contains("netty-io_uring") && e.getMessage().contains(String.valueOf(cause)),
                e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"netty-nio", "netty-epoll", "netty-io_uring"})
    void framesFromConcurrentProducersComeBackWholeAndListenersRunInPerThreadOrder(String name) throws Exception {
        Available.assume(name);
        int producers = 4;
        int perProducer = 2000;
        try (EchoPeer peer = EchoPeer.start(EchoPeer.Mode.ECHO);
             Transport transport = Transports.create(name, TransportConfig.defaults())) {
            Recorder recorder = new Recorder();
            Connection c = transport.connect(peer.address(), recorder).get(WAIT, TimeUnit.SECONDS);
            Outcomes outcomes = new Outcomes();
            CountDownLatch start = new CountDownLatch(1);
            List<Thread> threads = new ArrayList<>();
            for (int p = 0; p < producers; p++) {
                int producer = p;
                Thread t = new Thread(() -> {
                    try {
                        start.await();
                    } catch (InterruptedException e) {
                        return;
                    }
                    for (int i = 0; i < perProducer; i++) {
                        int id = producer * perProducer + i;
                        if (i % 3 == 0) { // multi-part frames too
                            ByteBuffer whole = frame(id, 1 + i % 700);
                            ByteBuffer header = whole.duplicate().limit(9);
                            ByteBuffer body = whole.duplicate().position(9);
                            c.write(new ByteBuffer[] {header, body}, outcomes.listener(id));
                        } else {
                            c.write(frame(id, i % 5000), outcomes.listener(id));
                        }
                    }
                });
                t.start();
                threads.add(t);
            }
            start.countDown();
            for (Thread t : threads) {
                t.join(TimeUnit.SECONDS.toMillis(WAIT));
            }
            int total = producers * perProducer;
            outcomes.awaitCount(total);
            int[] lastPerProducer = new int[producers];
            java.util.Arrays.fill(lastPerProducer, -1);
            for (Object[] o : outcomes.seen) {
                assertNull(o[1], "write failed");
                int id = (Integer) o[0];
                int producer = id / perProducer;
                assertTrue(id > lastPerProducer[producer], "listener of " + id + " after " + lastPerProducer[producer]);
                lastPerProducer[producer] = id;
            }
            int[] nextPerProducer = new int[producers];
            for (int i = 0; i < total; i++) {
                ByteBuffer f = recorder.frames.poll(WAIT, TimeUnit.SECONDS);
                assertNotNull(f, "frame " + i + " never came back");
                int id = f.getShort(2) & 0xffff;
                int producer = id / perProducer;
                assertEquals(producer * perProducer + nextPerProducer[producer]++, id, "frame order");
                assertEquals(f.getInt(5) + 9, f.remaining(), "whole frame");
            }
            assertEquals(total, c.stats().framesRead());
            assertEquals(total, c.stats().framesWritten());
            assertEquals(0, c.pendingBytes());
            c.close().get(WAIT, TimeUnit.SECONDS);
            assertNull(recorder.awaitClosed(), "graceful close gives a null cause");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"netty-nio", "netty-epoll", "netty-io_uring"})
    void closeFlushesAcceptedFramesThenRefusesWrites(String name) throws Exception {
        Available.assume(name);
        try (EchoPeer peer = EchoPeer.start(EchoPeer.Mode.DISCARD);
             Transport transport = Transports.create(name, TransportConfig.defaults())) {
            Recorder recorder = new Recorder();
            Connection c = transport.connect(peer.address(), recorder).get(WAIT, TimeUnit.SECONDS);
            Outcomes outcomes = new Outcomes();
            for (int i = 0; i < 500; i++) {
                c.write(frame(i, 10_000), outcomes.listener(i));
            }
            CompletableFuture<Void> closing = c.close();
            assertTrue(!c.isOpen());
            ExecutionException refused = assertThrows(ExecutionException.class,
                    () -> c.write(frame(1, 1)).get(WAIT, TimeUnit.SECONDS));
            assertInstanceOf(ConnectionClosedException.class, refused.getCause());
            closing.get(WAIT, TimeUnit.SECONDS);
            outcomes.awaitCount(500);
            for (Object[] o : outcomes.seen) {
                assertNull(o[1], "frame " + o[0] + " accepted before close() must be written");
            }
            assertNull(recorder.awaitClosed());
            assertEquals(1, recorder.closedCalls.get());
            assertSame(closing, c.close(), "close() is idempotent");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"netty-nio", "netty-epoll", "netty-io_uring"})
    void abortFailsEveryUnwrittenFrameWithItsCauseExactlyOnce(String name) throws Exception {
        Available.assume(name);
        CountDownLatch release = new CountDownLatch(1);
        try (ScriptedPeer peer = new ScriptedPeer(s -> awaitQuietly(release)); // accepts, never reads
             Transport transport = Transports.create(name, TransportConfig.builder().sendBufferSize(8192)
                     .writeHighWatermark(64 * 1024).writeLowWatermark(32 * 1024).build())) {
            Recorder recorder = new Recorder();
            Connection c = transport.connect(peer.address(), recorder).get(WAIT, TimeUnit.SECONDS);
            Outcomes outcomes = new Outcomes();
            int n = 400;
            for (int i = 0; i < n; i++) {
                c.write(frame(i, 64 * 1024), outcomes.listener(i));
            }
            assertEquals(Boolean.FALSE, recorder.writability.poll(WAIT, TimeUnit.SECONDS),
                    "crossing the high watermark is reported");
            assertTrue(c.pendingBytes() > 64 * 1024);
            IllegalStateException cause = new IllegalStateException("test abort");
            c.abort(cause);
            outcomes.awaitCount(n);
            int succeeded = 0;
            int failed = 0;
            boolean failing = false;
            for (Object[] o : outcomes.seen) {
                if (o[1] == null) {
                    assertTrue(!failing, "a success after a failure breaks the order");
                    succeeded++;
                } else {
                    failing = true;
                    assertSame(cause, o[1]);
                    failed++;
                }
            }
            assertEquals(n, succeeded + failed);
            assertTrue(failed > 0, "a non-reading peer leaves frames unwritten");
            assertSame(cause, recorder.awaitClosed());
            Thread.sleep(100); // a second onClosed would come from the loop right after the first
            assertEquals(1, recorder.closedCalls.get());
            assertEquals(n, outcomes.count.get(), "no listener twice");
        } finally {
            release.countDown();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"netty-nio", "netty-epoll", "netty-io_uring"})
    void badVersionByteClosesWithProtocolExceptionNamingIt(String name) throws Exception {
        Available.assume(name);
        byte[] bytes = {0x5f, 0, 0, 1, 7, 0, 0, 0, 0};
        try (ScriptedPeer peer = new ScriptedPeer(s -> send(s, bytes));
             Transport transport = Transports.create(name, TransportConfig.defaults())) {
            Recorder recorder = new Recorder();
            transport.connect(peer.address(), recorder).get(WAIT, TimeUnit.SECONDS);
            Throwable cause = recorder.awaitClosed();
            assertInstanceOf(ProtocolException.class, cause);
            assertTrue(cause.getMessage().contains("0x5f"), cause.getMessage());
            assertTrue(recorder.frames.isEmpty());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"netty-nio", "netty-epoll", "netty-io_uring"})
    void oversizedDeclaredLengthClosesWithProtocolExceptionNamingIt(String name) throws Exception {
        Available.assume(name);
        byte[] bytes = {(byte) 0x84, 0, 0, 1, 8, 0x7f, 0, 0, 0}; // body 2,130,706,432 bytes
        try (ScriptedPeer peer = new ScriptedPeer(s -> send(s, bytes));
             Transport transport = Transports.create(name, TransportConfig.builder().maxFrameLength(1024).build())) {
            Recorder recorder = new Recorder();
            transport.connect(peer.address(), recorder).get(WAIT, TimeUnit.SECONDS);
            Throwable cause = recorder.awaitClosed();
            assertInstanceOf(ProtocolException.class, cause);
            assertTrue(cause.getMessage().contains("2130706441"), cause.getMessage());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"netty-nio", "netty-epoll", "netty-io_uring"})
    void peerEofAndHandlerExceptionCloseOnlyTheirConnectionWithACause(String name) throws Exception {
        Available.assume(name);
        try (EchoPeer peer = EchoPeer.start(EchoPeer.Mode.ECHO);
             ScriptedPeer closer = new ScriptedPeer(s -> closeQuietly(s));
             Transport transport = Transports.create(name, TransportConfig.defaults())) {
            Recorder eof = new Recorder();
            try {
                transport.connect(closer.address(), eof).get(WAIT, TimeUnit.SECONDS);
                assertInstanceOf(ConnectionClosedException.class, eof.awaitClosed());
            } catch (ExecutionException e) {
                // The other documented outcome: the peer's EOF arrived before the connection was handed out.
                assertInstanceOf(TransportException.class, e.getCause());
                assertTrue(e.getCause().getMessage().contains("closed before it was handed out"),
                        e.getCause().getMessage());
            }

            Recorder throwing = new Recorder();
            throwing.throwOnFrame = new IllegalArgumentException("handler bug");
            Connection bad = transport.connect(peer.address(), throwing).get(WAIT, TimeUnit.SECONDS);
            Recorder healthy = new Recorder();
            Connection good = transport.connect(peer.address(), healthy).get(WAIT, TimeUnit.SECONDS);
            bad.write(frame(1, 10));
            assertSame(throwing.throwOnFrame, throwing.awaitClosed());
            good.write(frame(2, 10)).get(WAIT, TimeUnit.SECONDS);
            assertNotNull(healthy.frames.poll(WAIT, TimeUnit.SECONDS), "the other connection still works");
            assertTrue(good.isOpen());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"netty-nio", "netty-epoll", "netty-io_uring"})
    void connectFailuresNameTheAddress(String name) throws Exception {
        Available.assume(name);
        int closedPort;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = s.getLocalPort();
        }
        try (Transport transport = Transports.create(name, TransportConfig.defaults())) {
            InetSocketAddress refused = new InetSocketAddress(InetAddress.getLoopbackAddress(), closedPort);
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> transport.connect(refused, new Recorder()).get(WAIT, TimeUnit.SECONDS));
            assertInstanceOf(TransportException.class, e.getCause());
            assertTrue(e.getCause().getMessage().contains(String.valueOf(closedPort)), e.getCause().getMessage());

            InetSocketAddress unresolved = InetSocketAddress.createUnresolved("no-such-host.invalid", 9042);
            e = assertThrows(ExecutionException.class,
                    () -> transport.connect(unresolved, new Recorder()).get(WAIT, TimeUnit.SECONDS));
            assertInstanceOf(TransportException.class, e.getCause());
            assertTrue(e.getCause().getMessage().contains("no-such-host.invalid"), e.getCause().getMessage());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"netty-nio", "netty-epoll", "netty-io_uring"})
    void transportCloseIsIdempotentFailsWhatIsLeftAndLeavesNoThread(String name) throws Exception {
        Available.assume(name);
        CountDownLatch release = new CountDownLatch(1);
        try (ScriptedPeer peer = new ScriptedPeer(s -> awaitQuietly(release))) {
            Transport transport = Transports.create(name, TransportConfig.builder().sendBufferSize(8192).build());
            Recorder recorder = new Recorder();
            Connection c = transport.connect(peer.address(), recorder).get(WAIT, TimeUnit.SECONDS);
            Outcomes outcomes = new Outcomes();
            for (int i = 0; i < 200; i++) {
                c.write(frame(i, 64 * 1024), outcomes.listener(i));
            }
            transport.close();
            transport.close();
            outcomes.awaitCount(200);
            assertInstanceOf(ConnectionClosedException.class, recorder.awaitClosed());
            assertEquals(200, outcomes.count.get());
            assertTrue(outcomes.seen.stream().anyMatch(o -> o[1] instanceof ConnectionClosedException));
            // The loop threads are joined by close(); Netty's GlobalEventExecutor thread (one per JVM, which the
            // loops' termination starts) is not waited for and ends after its own 1 s quiet period.
            // A loop thread may still be unwinding its last run when close() returns on a loaded machine: give it
            // a bounded moment to end, and fail if any is still there after it.
            Set<String> left = Set.of();
            for (long end = System.nanoTime() + 5_000_000_000L; System.nanoTime() < end; Thread.sleep(10)) {
                left = transportThreads().stream().filter(n -> n.startsWith("cqlnio-netty")).collect(Collectors.toSet());
                if (left.isEmpty()) {
                    break;
                }
            }
            assertEquals(Set.of(), left, "loop threads left behind by close()");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!transportThreads().isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertEquals(Set.of(), transportThreads(), "threads left behind by close()");
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> transport.connect(peer.address(), new Recorder()).get(WAIT, TimeUnit.SECONDS));
            assertInstanceOf(TransportException.class, e.getCause());
        } finally {
            release.countDown();
        }
    }

    private static void send(Socket s, byte[] bytes) {
        try {
            OutputStream out = s.getOutputStream();
            out.write(bytes);
            out.flush();
            s.getInputStream().read(); // hold the connection until the client closes it
        } catch (IOException e) {
            // the client closed: expected
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // nothing to do
        }
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            latch.await(WAIT * 3, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
