package io.cqlnio.kit;

import io.cqlnio.spi.Connection;
import io.cqlnio.spi.ConnectionClosedException;
import io.cqlnio.spi.ProtocolException;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.TransportException;
import io.cqlnio.spi.Transports;
import io.cqlnio.testkit.Await;
import io.cqlnio.testkit.Closer;
import io.cqlnio.testkit.FullAcceptQueue;
import io.cqlnio.testkit.LoopbackPeer;
import io.cqlnio.testkit.TestFrames;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The transport compatibility kit: one suite, written only against {@code io.cqlnio.spi}, run against every
 * implementation {@link java.util.ServiceLoader} finds ({@link Kit#implementations()}: {@code nio},
 * {@code netty-nio}, {@code netty-epoll}, {@code netty-io_uring}; never the {@code naive} control, which
 * {@link NaiveControlTest} shows failing the ordering check). Each test names the invariant of docs/ARCHITECTURE.md it guards.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TransportKitTest {

    private final Closer closer = new Closer();

    @AfterEach
    void closeAll() throws Exception {
        closer.close();
    }

    private Transport transport(String name, TransportConfig.Builder config) {
        return closer.add(Transports.create(name, config.build()));
    }

    private Transport transport(String name, Wire wire, TransportConfig.Builder config) {
        return transport(name, wire.client(config));
    }

    private LoopbackPeer peer(int receiveBuffer, boolean stalled, LoopbackPeer.Server server) throws IOException {
        return peer(Wire.PLAIN, receiveBuffer, stalled, server);
    }

    private LoopbackPeer peer(Wire wire, int receiveBuffer, boolean stalled, LoopbackPeer.Server server)
            throws IOException {
        return closer.add(wire.peer(receiveBuffer, stalled, server));
    }

    private static TransportConfig.Builder tiny() {
        return TransportConfig.builder().sendBufferSize(4096).receiveBufferSize(4096);
    }

    private static TransportException connectFailure(CompletableFuture<Connection> future) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> future.get(15, TimeUnit.SECONDS));
        return assertInstanceOf(TransportException.class, e.getCause(), String.valueOf(e.getCause()));
    }

    /** Writes {@code frames} 1 KiB frames against a stalled peer and waits until most are stuck in the transport. */
    private static Outcomes fillAgainstStalledPeer(Connection c, int frames) throws InterruptedException {
        Outcomes outcomes = new Outcomes(frames);
        for (int i = 0; i < frames; i++) {
            c.write(TestFrames.frame(0, i, 1000, i % 2 == 0), outcomes.listener(i));
        }
        long half = frames * 1009L / 2;
        Await.until(() -> c.pendingBytes() > half, Kit.seconds(10),
                () -> "more than " + half + " bytes stuck behind the stalled peer, have " + c.pendingBytes());
        return outcomes;
    }

    // ------------------------------------------------------------------------------------------- connect

    @EachTransportAndWire
    void connectSucceedsAndGracefulCloseReportsANullCause(String name, Wire wire) throws Exception {
        LoopbackPeer peer = peer(wire, 0, false, LoopbackPeer.discard());
        Recorder handler = new Recorder();
        Connection c = transport(name, wire, TransportConfig.builder()).connect(peer.address(), handler)
                .get(5, TimeUnit.SECONDS);
        assertTrue(c.isOpen());
        assertEquals(peer.address(), c.remoteAddress());
        if (wire == Wire.TLS) {
            assertNotNull(c.tlsSession(), "tlsSession() once connected over TLS");
            assertTrue(c.tlsSession().getProtocol().startsWith("TLS"), c.tlsSession().getProtocol());
        } else {
            assertNull(c.tlsSession(), "tlsSession() of a plaintext connection");
        }
        CompletableFuture<Void> closing = c.close();
        assertFalse(c.isOpen(), "isOpen() after close()");
        closing.get(5, TimeUnit.SECONDS);
        c.close().get(5, TimeUnit.SECONDS); // idempotent
        assertNull(handler.closed.get(5, TimeUnit.SECONDS), "invariant 6: a local graceful close reports null");
        assertEquals(1, handler.closes.get());
        assertTrue(handler.breaches.isEmpty(), handler.breaches.toString());
    }

    @EachTransport
    void connectRefusedNamesTheAddress(String name) throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort(); // closed again at once: nothing listens there now
        }
        Transport t = transport(name, TransportConfig.builder());
        TransportException e = connectFailure(t.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port),
                new Recorder()));
        assertTrue(e.getMessage().contains(String.valueOf(port)), e.getMessage());
        assertTrue(e.getMessage().toLowerCase().contains("refused"), e.getMessage());
    }

    @EachTransport
    void connectUnresolvedFailsTheFutureNamingTheHost(String name) throws Exception {
        Transport t = transport(name, TransportConfig.builder());
        CompletableFuture<Connection> f = t.connect(InetSocketAddress.createUnresolved("no-such-host.invalid", 9042),
                new Recorder());
        TransportException e = connectFailure(f);
        assertTrue(e.getMessage().contains("no-such-host.invalid") && e.getMessage().contains("unresolved"),
                e.getMessage());
    }

    @EachTransport
    void connectTimesOutAgainstAFullAcceptQueue(String name) throws Exception {
        try (FullAcceptQueue listener = new FullAcceptQueue()) {
            // A listener that never accepts, its accept queue full: the kernel drops further SYNs, so the connect
            // neither succeeds nor fails until the transport's own deadline.
            Assumptions.assumeTrue(listener.isFull(), "this kernel never dropped a SYN: cannot provoke a timeout");
            Transport t = transport(name, TransportConfig.builder().connectTimeout(Duration.ofMillis(300)));
            long start = System.nanoTime();
            TransportException e = connectFailure(t.connect(listener.address(), new Recorder()));
            long millis = Kit.millisSince(start);
            assertTrue(e.getMessage().contains("timed out after 300 ms"), e.getMessage());
            assertTrue(millis >= 250 && millis < 5000, "timed out after " + millis + " ms, configured 300");
        }
    }

    @EachTransport
    void connectAfterTransportCloseFails(String name) throws Exception {
        LoopbackPeer peer = peer(0, false, LoopbackPeer.discard());
        Transport t = Transports.create(name, TransportConfig.defaults());
        t.close();
        TransportException e = connectFailure(t.connect(peer.address(), new Recorder()));
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
    }

    // ------------------------------------------------------------------------------------------- writes

    @EachTransportAndWire
    void concurrentProducersFramesArriveWholeAndInOrderThroughShortWrites(String name, Wire wire) throws Exception {
        OrderingCheck check = new OrderingCheck(8, 2_500, 4);
        LoopbackPeer peer = peer(wire, 4096, true, LoopbackPeer.frames(check));
        Connection c = transport(name, wire, tiny()).connect(peer.address(), new Recorder()).get(5, TimeUnit.SECONDS);
        check.start(c);
        // Let both kernels' buffers fill before the peer reads: every write after that is a short one.
        AtomicLong maxPending = new AtomicLong();
        Await.until(() -> {
            // Producers first, then the sample: a sample taken before the producers were seen done could be
            // theirs from the start (this thread preempted in between on a loaded machine, while they wrote it all).
            boolean producing = check.producing();
            maxPending.accumulateAndGet(c.pendingBytes(), Math::max);
            return maxPending.get() > 256 * 1024 || !producing;
        }, "producers to pile up bytes");
        peer.release();
        check.joinProducers(Kit.seconds(30));
        check.awaitAndAssert(c, Kit.seconds(45), peer.errors());
        assertTrue(maxPending.get() > 64 * 1024, "the kernel never pushed back: the test proved nothing");
        assertTrue(peer.errors().isEmpty(), "peer errors: " + peer.errors());
    }

    @EachTransportAndWire
    void multiPartFramesGoOutContiguouslyInArrayOrder(String name, Wire wire) throws Exception {
        List<ByteBuffer> received = new CopyOnWriteArrayList<>();
        LoopbackPeer peer = peer(wire, 4096, false, LoopbackPeer.frames((i, f) -> received.add(f)));
        Connection c = transport(name, wire, tiny()).connect(peer.address(), new Recorder()).get(5, TimeUnit.SECONDS);
        SplittableRandom random = new SplittableRandom(7);
        int frames = 2_000;
        Outcomes outcomes = new Outcomes(frames);
        for (int i = 0; i < frames; i++) {
            ByteBuffer frame = TestFrames.frame(0, i, i % 100 == 0 ? TestFrames.STORY_BODY : random.nextInt(2000),
                    random.nextBoolean());
            c.write(TestFrames.parts(frame, random), outcomes.listener(i));
        }
        // An array with only empty parts around a whole frame, and a zero-length tail part.
        ByteBuffer last = TestFrames.frame(0, frames, 100, false);
        c.write(new ByteBuffer[]{ByteBuffer.allocate(0), last, ByteBuffer.allocate(0)}, null);
        Await.until(() -> received.size() == frames + 1, "every frame at the peer: " + received.size());
        for (int i = 0; i <= frames; i++) {
            assertEquals(i, TestFrames.check(received.get(i), 0), "frame " + i);
        }
        outcomes.awaitAll();
        outcomes.assertExactlyOnceSuccessesFirst();
        assertTrue(outcomes.failures.isEmpty(), outcomes.failures.toString());
    }

    @EachTransportAndWire
    void gracefulCloseFlushesWhatWasAcceptedAndRefusesTheRest(String name, Wire wire) throws Exception {
        List<Integer> received = new CopyOnWriteArrayList<>();
        LoopbackPeer peer = peer(wire, 4096, true, LoopbackPeer.frames((i, f) -> received.add(TestFrames.check(f, 0))));
        Recorder handler = new Recorder();
        Connection c = transport(name, wire, tiny()).connect(peer.address(), handler).get(5, TimeUnit.SECONDS);
        Outcomes outcomes = fillAgainstStalledPeer(c, 500);

        CompletableFuture<Void> closed = c.close();
        AtomicReference<Throwable> refused = new AtomicReference<>();
        c.write(TestFrames.frame(0, 9999, 8, false), refused::set);
        // The WriteListener contract: a write refused because the connection is closed is told before write returns.
        assertInstanceOf(ConnectionClosedException.class, refused.get());
        assertFalse(closed.isDone(), "closed before the accepted frames were flushed");

        peer.release();
        closed.get(15, TimeUnit.SECONDS);
        assertNull(handler.closed.get(5, TimeUnit.SECONDS), "graceful close must report a null cause");
        outcomes.awaitAll();
        outcomes.assertExactlyOnceSuccessesFirst();
        assertTrue(outcomes.failures.isEmpty(), "accepted frames failed: " + outcomes.failures);
        Await.until(() -> received.size() == 500, "all 500 frames at the peer: " + received.size());
        for (int i = 0; i < 500; i++) {
            assertEquals(i, received.get(i));
        }
        assertEquals(1, handler.closes.get());
        assertTrue(handler.breaches.isEmpty(), handler.breaches.toString());
        // The peer saw the stream end after the last frame, not in the middle of one and not by a reset.
        Await.until(() -> peer.cleanEnds() == 1 || !peer.errors().isEmpty(), "the peer to see the end");
        assertEquals(List.of(), peer.errors());
    }

    @EachTransportAndWire
    void abortFailsEveryUnwrittenFrameOnceWithTheCause(String name, Wire wire) throws Exception {
        LoopbackPeer peer = peer(wire, 4096, true, LoopbackPeer.discard());
        Recorder handler = new Recorder();
        Connection c = transport(name, wire, tiny()).connect(peer.address(), handler).get(5, TimeUnit.SECONDS);
        Outcomes outcomes = fillAgainstStalledPeer(c, 2000);

        IllegalStateException cause = new IllegalStateException("driver gave up");
        c.abort(cause);
        assertFalse(c.isOpen());
        assertSame(cause, handler.closed.get(5, TimeUnit.SECONDS), "onClosed gets the abort cause");
        outcomes.awaitAll();
        outcomes.assertExactlyOnceSuccessesFirst();
        assertFalse(outcomes.failures.isEmpty(), "nothing was pending at the abort");
        outcomes.failures.forEach(f -> assertSame(cause, f, "unwritten frames fail with the abort cause"));
        Await.until(() -> c.pendingBytes() == 0, "pendingBytes back to 0: " + c.pendingBytes());
        c.abort(new IllegalStateException("again")); // no-op once closed
        AtomicReference<Throwable> refused = new AtomicReference<>();
        c.write(TestFrames.frame(0, 9999, 8, false), refused::set);
        assertInstanceOf(ConnectionClosedException.class, refused.get());
        assertEquals(1, handler.closes.get());
        assertTrue(handler.breaches.isEmpty(), handler.breaches.toString());
    }

    @EachTransportAndWire
    void peerResetFailsEveryUnwrittenFrameOnce(String name, Wire wire) throws Exception {
        LoopbackPeer peer = peer(wire, 4096, true, LoopbackPeer.discard());
        Recorder handler = new Recorder();
        Connection c = transport(name, wire, tiny()).connect(peer.address(), handler).get(5, TimeUnit.SECONDS);
        Outcomes outcomes = fillAgainstStalledPeer(c, 2000);
        Await.until(() -> !peer.sockets().isEmpty(), "peer accepted");

        peer.resetAll();
        Throwable cause = handler.closed.get(10, TimeUnit.SECONDS);
        assertNotNull(cause, "invariant 6: a peer reset gives a non-null cause");
        outcomes.awaitAll();
        outcomes.assertExactlyOnceSuccessesFirst();
        assertFalse(outcomes.failures.isEmpty());
        outcomes.failures.forEach(f -> assertInstanceOf(ConnectionClosedException.class, f, String.valueOf(f)));
        Await.until(() -> c.pendingBytes() == 0, "pendingBytes back to 0: " + c.pendingBytes());
        assertFalse(c.isOpen());
        assertEquals(1, handler.closes.get());
        assertTrue(handler.breaches.isEmpty(), handler.breaches.toString());
    }

    @EachTransport
    void peerEofClosesWithANonNullCause(String name) throws Exception {
        // The peer ends its output once it has read the client's first frame: the connection is surely handed out
        // by then (see the next test for a peer that closes at once).
        LoopbackPeer peer = peer(0, false, (i, s) -> {
            s.getInputStream().readNBytes(TestFrames.HEADER + 8);
            s.shutdownOutput();
            LoopbackPeer.discard().serve(i, s);
        });
        Recorder handler = new Recorder();
        Connection c = transport(name, TransportConfig.builder()).connect(peer.address(), handler)
                .get(5, TimeUnit.SECONDS);
        c.write(TestFrames.frame(0, 0, 8, false), null);
        Throwable cause = handler.closed.get(10, TimeUnit.SECONDS);
        assertNotNull(cause, "invariant 6: the peer's EOF gives a non-null cause");
        assertFalse(c.isOpen());
        AtomicReference<Throwable> refused = new AtomicReference<>();
        c.write(TestFrames.frame(0, 0, 8, false), refused::set);
        Await.until(() -> refused.get() != null, "the refused write's listener");
        assertInstanceOf(ConnectionClosedException.class, refused.get());
    }

    @EachTransport
    void aPeerThatClosesAtOnceGivesOneOfTwoDocumentedOutcomes(String name) throws Exception {
        LoopbackPeer peer = peer(0, false, (i, s) -> s.shutdownOutput());
        Transport transport = transport(name, TransportConfig.builder());
        for (int round = 0; round < 20; round++) {
            Recorder handler = new Recorder();
            CompletableFuture<Connection> f = transport.connect(peer.address(), handler);
            try {
                Connection c = f.get(5, TimeUnit.SECONDS);
                // Handed out first (always so for nio): then onClosed tells the EOF, once.
                assertNotNull(handler.closed.get(5, TimeUnit.SECONDS));
                assertFalse(c.isOpen());
                assertEquals(1, handler.closes.get());
            } catch (ExecutionException e) {
                // Allowed by the contract, though neither implementation does it now: a transport that completes
                // the connect only after reading (the Netty baseline did, from a listener on its connect future,
                // before 0081ae4) may find the channel already closed; that connection is never handed out, so the
                // future fails instead, naming the address and why, and the handler hears nothing.
                assertTrue(!name.equals("nio"), name + " failed the connect: " + e.getCause());
                TransportException t = assertInstanceOf(TransportException.class, e.getCause());
                assertTrue(t.getMessage().contains(String.valueOf(peer.address().getPort())), t.getMessage());
                assertFalse(t.getMessage().contains("transport " + name + " is closed"), "misleading: " + t.getMessage());
                Thread.sleep(50); // a late callback would show within this; nothing to wait for otherwise
                assertEquals(List.of(), handler.events);
            }
            assertTrue(handler.breaches.isEmpty(), handler.breaches.toString());
        }
    }

    @EachTransportAndWire
    void transportCloseFailsPendingFramesIsIdempotentAndLeavesNoThreadBehind(String name, Wire wire) throws Exception {
        TransportConfig config = wire.client(tiny().loops(2)).build(); // before the snapshot: keytool's threads
        Set<Thread> before = new HashSet<>(Thread.getAllStackTraces().keySet());
        LoopbackPeer peer = peer(wire, 4096, true, LoopbackPeer.discard());
        Transport transport = Transports.create(name, config);
        Recorder h1 = new Recorder();
        Recorder h2 = new Recorder();
        Connection c1 = transport.connect(peer.address(), h1).get(5, TimeUnit.SECONDS);
        Connection c2 = transport.connect(peer.address(), h2).get(5, TimeUnit.SECONDS);
        Outcomes o1 = fillAgainstStalledPeer(c1, 1000);
        Outcomes o2 = fillAgainstStalledPeer(c2, 1000);
        transport.close();
        transport.close(); // idempotent
        o1.awaitAll();
        o2.awaitAll();
        o1.assertExactlyOnceSuccessesFirst();
        o2.assertExactlyOnceSuccessesFirst();
        assertFalse(o1.failures.isEmpty() || o2.failures.isEmpty(), "nothing was pending at the close");
        o1.failures.forEach(f -> assertInstanceOf(ConnectionClosedException.class, f, String.valueOf(f)));
        assertInstanceOf(ConnectionClosedException.class, h1.closed.get(5, TimeUnit.SECONDS));
        assertInstanceOf(ConnectionClosedException.class, h2.closed.get(5, TimeUnit.SECONDS));
        Await.until(() -> c1.pendingBytes() + c2.pendingBytes() == 0, "pending bytes back to 0");
        AtomicReference<Throwable> late = new AtomicReference<>();
        c1.write(TestFrames.frame(0, 0, 8, false), late::set);
        Await.until(() -> late.get() != null, "the late write's listener");
        assertInstanceOf(ConnectionClosedException.class, late.get());
        Await.until(() -> newLiveThreads(before).isEmpty(), Kit.seconds(10),
                () -> "threads left behind by Transport.close(): " + newLiveThreads(before));
    }

    /**
     * Live threads not in {@code before}, minus the kit peer's own and the JVM's common pool (where TLS delegated
     * tasks run by default: it belongs to no transport and keeps idle workers for a while).
     */
    static List<String> newLiveThreads(Set<Thread> before) {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.isAlive() && !before.contains(t) && !t.getName().startsWith("kit-")
                        && !t.getName().startsWith("ForkJoinPool.commonPool-"))
                .map(Thread::getName).sorted().collect(Collectors.toList());
    }

    @EachTransport
    void writeAfterCloseIsRefusedOnTheCallingThread(String name) throws Exception {
        LoopbackPeer peer = peer(0, false, LoopbackPeer.discard());
        Connection c = transport(name, TransportConfig.builder()).connect(peer.address(), new Recorder())
                .get(5, TimeUnit.SECONDS);
        c.close().get(5, TimeUnit.SECONDS);
        AtomicReference<Thread> on = new AtomicReference<>();
        AtomicReference<Throwable> refused = new AtomicReference<>();
        c.write(TestFrames.frame(0, 0, 8, false), failure -> {
            on.set(Thread.currentThread());
            refused.set(failure);
        });
        assertSame(Thread.currentThread(), on.get(), "a refused write is told on the calling thread, before write returns");
        assertInstanceOf(ConnectionClosedException.class, refused.get());
        c.write(new ByteBuffer[]{TestFrames.frame(0, 1, 8, false)}, refused::set);
        assertInstanceOf(ConnectionClosedException.class, refused.get());
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> c.write(TestFrames.frame(0, 2, 8, false)).get(5, TimeUnit.SECONDS));
        assertInstanceOf(ConnectionClosedException.class, e.getCause());
    }

    @EachTransport
    void aThrowingWriteListenerIsIgnored(String name) throws Exception {
        List<ByteBuffer> received = new CopyOnWriteArrayList<>();
        LoopbackPeer peer = peer(0, false, LoopbackPeer.frames((i, f) -> received.add(f)));
        Recorder handler = new Recorder();
        Connection c = transport(name, TransportConfig.builder()).connect(peer.address(), handler)
                .get(5, TimeUnit.SECONDS);
        c.write(TestFrames.frame(0, 0, 8, false), failure -> {
            throw new IllegalStateException("listener bug");
        });
        c.write(TestFrames.frame(0, 1, 8, false)).get(5, TimeUnit.SECONDS);
        Await.until(() -> received.size() == 2, "both frames at the peer");
        assertTrue(c.isOpen(), "a listener's exception must not close the connection");
        assertEquals(0, handler.closes.get());
    }

    @EachTransport
    void aCancelledConnectLeavesNoConnectionBehind(String name) throws Exception {
        List<Boolean> ended = new CopyOnWriteArrayList<>();
        LoopbackPeer peer = peer(0, false, (i, s) -> {
            LoopbackPeer.discard().serve(i, s);
            ended.add(true); // the transport closed its side
        });
        Transport t = transport(name, TransportConfig.builder());
        Recorder handler = new Recorder();
        CompletableFuture<Connection> f = t.connect(peer.address(), handler);
        f.cancel(false);
        if (f.isCancelled()) {
            // Whether the connect got as far as the peer or not, nothing may be left open, and the handler
            // of a connection never handed out hears nothing.
            Await.until(() -> peer.sockets().size() == ended.size(), "every accepted socket closed by the transport");
            Thread.sleep(100); // a late callback would show within this; nothing to wait for otherwise
            assertEquals(List.of(), handler.events, "callbacks on a connection never handed out");
        }
    }

    @EachTransport
    void writesExactlyPositionToLimitOfAnyBufferKind(String name) throws Exception {
        List<ByteBuffer> received = new CopyOnWriteArrayList<>();
        LoopbackPeer peer = peer(0, false, LoopbackPeer.frames((i, f) -> received.add(f)));
        Connection c = transport(name, TransportConfig.builder()).connect(peer.address(), new Recorder())
                .get(5, TimeUnit.SECONDS);
        List<ByteBuffer> sent = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            ByteBuffer frame = TestFrames.frame(0, i, 1000, i % 2 == 1);
            sent.add(frame.duplicate());
            ByteBuffer padded = (i % 2 == 1 ? ByteBuffer.allocateDirect(frame.remaining() + 10)
                    : ByteBuffer.allocate(frame.remaining() + 10));
            padded.put(new byte[]{9, 9, 9, 9, 9}).put(frame.duplicate()).put(new byte[]{7, 7, 7, 7, 7});
            padded.position(5).limit(5 + frame.remaining()); // bytes around the frame must never be sent
            ByteBuffer toWrite = switch (i) {
                case 0 -> padded;
                case 1 -> padded.slice();
                case 2 -> padded.asReadOnlyBuffer();
                default -> padded.duplicate();
            };
            c.write(toWrite).get(5, TimeUnit.SECONDS);
        }
        Await.until(() -> received.size() == 4, "4 frames at the peer: " + received.size());
        for (int i = 0; i < 4; i++) {
            assertEquals(sent.get(i), received.get(i), "frame " + i);
        }
    }

    @EachTransport
    void emptyFramesSucceedInOrderAndPutNothingOnTheWire(String name) throws Exception {
        List<ByteBuffer> received = new CopyOnWriteArrayList<>();
        LoopbackPeer peer = peer(0, false, LoopbackPeer.frames((i, f) -> received.add(f)));
        // Empty frames are no CQL frames: the outbound check would refuse them, and this is about the transport.
        Connection c = transport(name, TransportConfig.builder().checkOutboundFrames(false))
                .connect(peer.address(), new Recorder()).get(5, TimeUnit.SECONDS);
        Outcomes outcomes = new Outcomes(6);
        c.write(TestFrames.frame(0, 0, 8, false), outcomes.listener(0));
        c.write(ByteBuffer.allocate(0), outcomes.listener(1));
        c.write(new ByteBuffer[0], outcomes.listener(2));
        c.write(new ByteBuffer[]{ByteBuffer.allocateDirect(0), ByteBuffer.allocate(0)}, outcomes.listener(3));
        c.write(TestFrames.frame(0, 1, 8, false), outcomes.listener(4));
        c.write(ByteBuffer.allocate(0), outcomes.listener(5));
        outcomes.awaitAll();
        outcomes.assertExactlyOnceSuccessesFirst();
        assertTrue(outcomes.failures.isEmpty(), outcomes.failures.toString());
        Await.until(() -> received.size() == 2, "both real frames at the peer");
        assertEquals(0, TestFrames.check(received.get(0), 0));
        assertEquals(1, TestFrames.check(received.get(1), 0));
    }

    @EachTransportAndWire
    void aBufferMayBeReusedOnceItsListenerSaidSuccess(String name, Wire wire) throws Exception {
        List<Integer> received = new CopyOnWriteArrayList<>();
        LoopbackPeer peer = peer(wire, 4096, false,
                LoopbackPeer.frames((i, f) -> received.add(TestFrames.check(f, 0))));
        Connection c = transport(name, wire, tiny()).connect(peer.address(), new Recorder()).get(5, TimeUnit.SECONDS);
        ByteBuffer pooled = ByteBuffer.allocateDirect(TestFrames.HEADER + TestFrames.STORY_BODY);
        for (int i = 0; i < 200; i++) {
            // The driver's pattern: one buffer, refilled as soon as the transport is done with it.
            pooled.clear();
            pooled.put(TestFrames.frame(0, i, TestFrames.STORY_BODY, false)).flip();
            c.write(pooled).get(5, TimeUnit.SECONDS);
        }
        Await.until(() -> received.size() == 200, "200 frames at the peer: " + received.size());
        for (int i = 0; i < 200; i++) {
            assertEquals(i, received.get(i));
        }
    }

    @EachTransport
    void aFrameOfExactlyMaxFrameLengthIsDeliveredOneByteMoreIsNot(String name) throws Exception {
        int max = 4096;
        byte[] exact = TestFrames.response(0, 1, max - TestFrames.HEADER).array();
        byte[] over = TestFrames.response(0, 2, max - TestFrames.HEADER + 1).array();
        byte[] both = java.util.Arrays.copyOf(exact, exact.length + over.length);
        System.arraycopy(over, 0, both, exact.length, over.length);
        LoopbackPeer peer = peer(0, false, goodThenBad(both));
        Recorder handler = new Recorder();
        transport(name, TransportConfig.builder().maxFrameLength(max)).connect(peer.address(), handler)
                .get(5, TimeUnit.SECONDS);
        Throwable cause = handler.closed.get(5, TimeUnit.SECONDS);
        assertInstanceOf(ProtocolException.class, cause, String.valueOf(cause));
        assertTrue(cause.getMessage().contains(String.valueOf(max + 1)), cause.getMessage());
        assertEquals(2, handler.frames.size(), "the small frame and the one of exactly maxFrameLength");
        assertEquals(max, handler.frames.get(1).remaining());
        assertEquals(1, TestFrames.check(handler.frames.get(1), 0));
    }

    // ------------------------------------------------------------------------------------------- writability

    @EachTransportAndWire
    void writabilityFlipsOnceEachWayAcrossTheWatermarks(String name, Wire wire) throws Exception {
        LoopbackPeer peer = peer(wire, 4096, true, LoopbackPeer.discard());
        Recorder handler = new Recorder();
        Connection c = transport(name, wire, tiny().writeHighWatermark(64 * 1024).writeLowWatermark(16 * 1024))
                .connect(peer.address(), handler).get(5, TimeUnit.SECONDS);
        int written = 0;
        // An implementation may count a frame against the watermark only once its loop has taken it (Netty's
        // channel.write): keep writing until isWritable() says no, bounded.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (c.isWritable()) {
            assertTrue(System.nanoTime() < deadline, "never became unwritable; pending " + c.pendingBytes());
            c.write(TestFrames.frame(0, written++, 1000, true), null);
            if (written % 64 == 0) {
                Thread.sleep(1);
            }
        }
        // Not "> high watermark": the loop may hand more bytes to the kernel between the two reads.
        assertTrue(c.pendingBytes() > 16 * 1024, "unwritable at " + c.pendingBytes() + " pending bytes");
        Await.until(() -> handler.events.contains(false), "onWritabilityChanged(false)");
        for (int i = 0; i < 50; i++) {
            c.write(TestFrames.frame(0, written++, 1000, true), null); // still accepted while unwritable
        }
        peer.release();
        Await.until(() -> handler.events.contains(true), "onWritabilityChanged(true)");
        Await.until(() -> c.pendingBytes() == 0, "drain: " + c.pendingBytes());
        assertEquals(List.of(false, true), handler.events);
        assertTrue(c.isWritable());
        assertTrue(handler.breaches.isEmpty(), handler.breaches.toString());
    }

    @EachTransport
    void isWritableTurnsFalseAsSoonAsPendingBytesPassTheHighWatermark(String name) throws Exception {
        LoopbackPeer peer = peer(4096, true, LoopbackPeer.discard());
        long high = 64 * 1024;
        Connection c = transport(name, tiny().writeHighWatermark(high).writeLowWatermark(16 * 1024))
                .connect(peer.address(), new Recorder()).get(5, TimeUnit.SECONDS);
        long worst = 0; // the most bytes pending while isWritable() still said true
        for (int i = 0; i < 1000; i++) {
            c.write(TestFrames.frame(0, i, 1000, false), null);
            long pending = c.pendingBytes();
            if (c.isWritable()) {
                worst = Math.max(worst, pending);
            }
        }
        System.out.printf("writability[%s]: isWritable() true with up to %,d bytes pending (high watermark %,d)%n",
                name, worst, high);
        if (name.startsWith("netty")) {
            // Legitimate difference, by design of the Netty baseline (the Java driver's write coalescer): a frame
            // counts against Netty's watermark only once the loop hands it to channel.write, so a burst from one
            // thread runs ahead of isWritable() by whatever the loop has not drained yet. Advisory either way.
            Await.until(() -> !c.isWritable(), "netty to catch up and report unwritable");
        } else {
            // Ours counts a frame the moment write() accepts it.
            assertTrue(worst <= high + 1009, "isWritable() was still true at " + worst + " pending bytes");
        }
    }

    @EachTransportAndWire
    void pendingBytesNeverExceedTheBytesAccepted(String name, Wire wire) throws Exception {
        LoopbackPeer peer = peer(wire, 4096, true, LoopbackPeer.discard());
        Connection c = transport(name, wire, tiny()).connect(peer.address(), new Recorder()).get(5, TimeUnit.SECONDS);
        int frames = 2000;
        long accepted = 0;
        // Legitimate difference: the Netty baseline adds its coalescer queue's bytes to Netty's own outbound count,
        // which includes a per-entry overhead estimate, and reads the two apart: it may overshoot a little while
        // frames move from one to the other. Ours counts exactly the bytes accepted and not yet written.
        long slackPerFrame = name.startsWith("netty") ? 128 : 0;
        for (int i = 0; i < frames; i++) {
            ByteBuffer f = TestFrames.frame(0, i, 91, false); // 100 bytes
            accepted += f.remaining();
            c.write(f, null);
            long pending = c.pendingBytes();
            assertTrue(pending <= accepted + slackPerFrame * (i + 1), "pendingBytes() " + pending + " > " + accepted
                    + " bytes accepted so far");
        }
        long want = accepted / 2;
        Await.until(() -> c.pendingBytes() > want, "frames stuck behind the stalled peer");
        long pending = c.pendingBytes();
        System.out.printf("pending[%s]: %,d bytes pending of %,d accepted%n", name, pending, accepted);
        assertTrue(pending <= accepted + slackPerFrame * frames, "pendingBytes() " + pending + " > " + accepted
                + " bytes accepted");
    }

    // ------------------------------------------------------------------------------------------- reads

    /** A server that sends the given response frames in seeded random chunks, the first few a byte at a time. */
    private static LoopbackPeer.Server sendsInChunks(List<ByteBuffer> frames, long seed, int byteByByteFrames) {
        return (index, s) -> {
            s.setTcpNoDelay(true);
            OutputStream out = s.getOutputStream();
            SplittableRandom random = new SplittableRandom(seed);
            for (int f = 0; f < frames.size(); f++) {
                byte[] bytes = frames.get(f).duplicate().array();
                int at = 0;
                while (at < bytes.length) {
                    int n = f < byteByByteFrames ? 1 : Math.min(bytes.length - at, 1 + random.nextInt(
                            random.nextBoolean() ? 16 : 64 * 1024));
                    out.write(bytes, at, n);
                    out.flush();
                    at += n;
                }
            }
            LoopbackPeer.discard().serve(index, s);
        };
    }

    private static void assertFramesInOrder(Recorder handler, int count) {
        assertEquals(count, handler.frames.size());
        for (int i = 0; i < count; i++) {
            assertEquals(i, TestFrames.check(handler.frames.get(i), 0), "frame " + i);
        }
        assertTrue(handler.breaches.isEmpty(), handler.breaches.toString());
    }

    @EachTransportAndWire
    void inboundFramesSplitAnywhereArriveWhole(String name, Wire wire) throws Exception {
        SplittableRandom sizes = new SplittableRandom(11);
        List<ByteBuffer> frames = new ArrayList<>();
        for (int i = 0; i < 400; i++) {
            frames.add(TestFrames.response(0, i, TestFrames.mixedBody(sizes)));
        }
        LoopbackPeer peer = peer(wire, 0, false, sendsInChunks(frames, 12, 3));
        Recorder handler = new Recorder();
        transport(name, wire, TransportConfig.builder()).connect(peer.address(), handler).get(5, TimeUnit.SECONDS);
        Await.until(() -> handler.frames.size() == frames.size(), "all frames: " + handler.frames.size());
        assertFramesInOrder(handler, frames.size());
    }

    @EachTransportAndWire
    void framesLargerThanTheReadBufferArriveWhole(String name, Wire wire) throws Exception {
        List<ByteBuffer> frames = new ArrayList<>();
        int[] bodies = {8, 100, 10_000, TestFrames.STORY_BODY, 1 << 20, 8, 8 << 20, 55};
        for (int i = 0; i < bodies.length; i++) {
            frames.add(TestFrames.response(0, i, bodies[i]));
        }
        LoopbackPeer peer = peer(wire, 0, false, sendsInChunks(frames, 13, 1));
        Recorder handler = new Recorder();
        transport(name, wire, TransportConfig.builder().readBufferSize(64)).connect(peer.address(), handler)
                .get(5, TimeUnit.SECONDS);
        Await.until(() -> handler.frames.size() == frames.size(), "all frames: " + handler.frames.size());
        assertFramesInOrder(handler, frames.size());
    }

    /** A server that sends one good response frame, then {@code bad}, then keeps the connection open. */
    private static LoopbackPeer.Server goodThenBad(byte[] bad) {
        return (index, s) -> {
            OutputStream out = s.getOutputStream();
            out.write(TestFrames.response(0, 0, 8).array());
            out.write(bad);
            out.flush();
            LoopbackPeer.discard().serve(index, s);
        };
    }

    @EachTransport
    void aDeclaredLengthAboveMaxFrameLengthClosesWithAProtocolExceptionNamingIt(String name) throws Exception {
        byte[] header = TestFrames.response(0, 1, 8).array();
        ByteBuffer.wrap(header).putInt(5, 2000); // declares 2,009 bytes in all; the body never comes
        LoopbackPeer peer = peer(0, false, goodThenBad(java.util.Arrays.copyOf(header, TestFrames.HEADER)));
        Recorder handler = new Recorder();
        Connection c = transport(name, TransportConfig.builder().maxFrameLength(1024))
                .connect(peer.address(), handler).get(5, TimeUnit.SECONDS);
        Throwable cause = handler.closed.get(5, TimeUnit.SECONDS);
        assertInstanceOf(ProtocolException.class, cause, String.valueOf(cause));
        assertTrue(cause.getMessage().contains("2009"), "names the offending length: " + cause.getMessage());
        assertEquals(List.of("frame", "closed"), handler.events);
        assertFalse(c.isOpen());
    }

    @EachTransport
    void aBadVersionByteClosesWithAProtocolExceptionNamingIt(String name) throws Exception {
        byte[] bad = TestFrames.response(0, 1, 8).array();
        bad[0] = 0x5f; // the story's byte
        LoopbackPeer peer = peer(0, false, goodThenBad(bad));
        Recorder handler = new Recorder();
        Connection c = transport(name, TransportConfig.builder()).connect(peer.address(), handler)
                .get(5, TimeUnit.SECONDS);
        Throwable cause = handler.closed.get(5, TimeUnit.SECONDS);
        assertInstanceOf(ProtocolException.class, cause, String.valueOf(cause));
        assertTrue(cause.getMessage().contains("0x5f (95)"), cause.getMessage());
        assertEquals(List.of("frame", "closed"), handler.events);
        assertFalse(c.isOpen());
    }

    @EachTransport
    void aNegativeDeclaredLengthClosesWithAProtocolException(String name) throws Exception {
        byte[] bad = TestFrames.response(0, 1, 8).array();
        ByteBuffer.wrap(bad).putInt(5, -7);
        LoopbackPeer peer = peer(0, false, goodThenBad(bad));
        Recorder handler = new Recorder();
        transport(name, TransportConfig.builder()).connect(peer.address(), handler).get(5, TimeUnit.SECONDS);
        Throwable cause = handler.closed.get(5, TimeUnit.SECONDS);
        assertInstanceOf(ProtocolException.class, cause, String.valueOf(cause));
        assertTrue(cause.getMessage().contains("-7"), cause.getMessage());
        assertEquals(List.of("frame", "closed"), handler.events);
    }

    // ------------------------------------------------------------------------------------------- handlers

    @EachTransport
    void aThrowingHandlerClosesOnlyItsOwnConnection(String name) throws Exception {
        LoopbackPeer peer = peer(0, false, LoopbackPeer.frames(null, true));
        Transport transport = transport(name, TransportConfig.builder().loops(1));
        RuntimeException boom = new RuntimeException("handler bug");
        Recorder bad = new Recorder() {
            @Override
            public void onFrame(Connection connection, ByteBuffer frame) {
                super.onFrame(connection, frame);
                throw boom;
            }
        };
        AtomicInteger echoes = new AtomicInteger();
        Recorder good = new Recorder() {
            @Override
            public void onFrame(Connection connection, ByteBuffer frame) {
                echoes.incrementAndGet();
            }
        };
        Connection a = transport.connect(peer.address(), bad).get(5, TimeUnit.SECONDS);
        Connection b = transport.connect(peer.address(), good).get(5, TimeUnit.SECONDS);
        a.write(TestFrames.frame(0, 0, 8, false));
        a.write(TestFrames.frame(0, 1, 8, false));
        assertSame(boom, bad.closed.get(5, TimeUnit.SECONDS), "onClosed gets the handler's exception");
        for (int i = 0; i < 100; i++) {
            b.write(TestFrames.frame(1, i, 8, false)).get(5, TimeUnit.SECONDS);
        }
        Await.until(() -> echoes.get() == 100, "100 echoes on the healthy connection: " + echoes.get());
        assertTrue(b.isOpen());
        assertFalse(a.isOpen());
        assertEquals(1, bad.frameCount(), "a frame reached the handler after it threw");
        assertTrue(bad.breaches.isEmpty(), bad.breaches.toString());
    }

    @Test
    void theKitRunsAgainstOursAndNetty() {
        List<String> names = Kit.implementationList();
        assertTrue(names.contains("nio"), "kit implementations: " + names);
        if (System.getProperty("cqlnio.kit.transports", "").isBlank()) {
            assertTrue(names.contains("netty-nio"), "transport-bench's providers are not on the test class path: "
                    + names);
            // Listed on every platform; the kit leaves out (and prints) those that cannot be created here.
            assertTrue(Transports.names().containsAll(List.of("netty-epoll", "netty-io_uring")),
                    "transport-bench's native providers are not registered: " + Transports.names());
        }
        System.out.println("kit: running against " + names);
        assertFalse(names.contains(Kit.NAIVE), "the naive control must not run in the kit");
    }
}
