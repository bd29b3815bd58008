package io.cqlnio.kit;

import io.cqlnio.kit.FaultProxy.Cut;
import io.cqlnio.kit.FaultProxy.Script;
import io.cqlnio.spi.Connection;
import io.cqlnio.spi.ConnectionClosedException;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Timeout;

import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The kit's ordering and accounting checks run through the {@link FaultProxy}, for every implementation:
 * fragmented both ways, delayed, stalled and throttled, reset at a byte offset, closed half-way through a frame,
 * and a peer that silently vanishes mid-frame.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class FaultProxyTest {

    private final Closer closer = new Closer();

    @AfterEach
    void closeAll() throws Exception {
        closer.close();
    }

    private Transport transport(String name, TransportConfig.Builder config) {
        return closer.add(Transports.create(name, config.build()));
    }

    private static TransportConfig.Builder tiny() {
        return TransportConfig.builder().sendBufferSize(4096).receiveBufferSize(4096);
    }

    /** Checks echoed frames on the client: byte-exact, per-producer order, and counts them. */
    static final class EchoChecker extends Recorder {
        private final int[] next;
        final AtomicLong echoed = new AtomicLong();
        volatile Throwable failure;

        EchoChecker(int producers) {
            next = new int[producers];
        }

        @Override
        public void onFrame(Connection connection, ByteBuffer frame) {
            try {
                int producer = frame.getShort(frame.position() + 2);
                int seq = KitFrames.check(frame, -1);
                if (seq != next[producer]) {
                    throw new AssertionError("echo of producer " + producer + ": " + seq + " where " + next[producer]
                            + " was due");
                }
                next[producer]++;
                echoed.incrementAndGet();
            } catch (RuntimeException | AssertionError e) {
                if (failure == null) {
                    failure = e;
                }
                throw e;
            }
        }
    }

    @EachTransport
    void orderAndAccountingHoldThroughFragmentationBothWays(String name) throws Exception {
        OrderingCheck check = new OrderingCheck(4, 1_000, 21);
        KitPeer peer = closer.add(new KitPeer(0, false, KitPeer.frames(check, true)));
        FaultProxy proxy = closer.add(new FaultProxy(peer.address(), Script.clean().fragment(1, 1500),
                Script.clean().fragment(1, 64), 22));
        EchoChecker echoes = new EchoChecker(4);
        Connection c = transport(name, tiny()).connect(proxy.address(), echoes).get(5, TimeUnit.SECONDS);
        check.start(c);
        check.joinProducers(Kit.seconds(60));
        check.awaitAndAssert(c, Kit.seconds(60), peer.errors());
        Kit.await(() -> echoes.echoed.get() == check.total() || echoes.failure != null, Kit.seconds(60),
                () -> "every echo through 1..64-byte fragments: " + echoes.echoed.get() + " of " + check.total());
        if (echoes.failure != null) {
            throw new AssertionError("an inbound frame split by the proxy arrived damaged", echoes.failure);
        }
        assertTrue(c.isOpen());
        assertTrue(echoes.breaches.isEmpty(), echoes.breaches.toString());
        assertTrue(peer.errors().isEmpty(), peer.errors().toString());
    }

    @EachTransport
    void orderAndAccountingHoldThroughDelayStallAndThrottle(String name) throws Exception {
        OrderingCheck check = new OrderingCheck(4, 400, 31);
        KitPeer peer = closer.add(new KitPeer(4096, false, KitPeer.frames(check, true)));
        FaultProxy proxy = closer.add(new FaultProxy(peer.address(),
                Script.clean().delay(1).stall(200_000, 1500).throttle(4 << 20).fragment(100, 9000),
                Script.clean().delay(2).throttle(8 << 20), 32));
        EchoChecker echoes = new EchoChecker(4);
        Connection c = transport(name, tiny().writeHighWatermark(64 * 1024).writeLowWatermark(16 * 1024))
                .connect(proxy.address(), echoes).get(5, TimeUnit.SECONDS);
        check.start(c);
        check.joinProducers(Kit.seconds(60));
        check.awaitAndAssert(c, Kit.seconds(60), peer.errors());
        Kit.await(() -> echoes.echoed.get() == check.total() || echoes.failure != null, Kit.seconds(60),
                () -> "every echo: " + echoes.echoed.get() + " of " + check.total());
        assertEquals(null, echoes.failure);
        // The stall made the connection unwritable and the throttle let it recover: both edges, once each or more.
        assertTrue(echoes.events.contains(false) && echoes.events.contains(true), echoes.events.toString());
    }

    /**
     * One writer, {@code frames} 1 KiB frames; the proxy cuts toward the peer at {@code offset}. Whatever the
     * cut, every listener fires once (successes first), the peer saw only whole frames in order, and never more
     * frames than were reported written.
     */
    private void cutUpstream(String name, Cut cut, long offset) throws Exception {
        List<Integer> atPeer = new CopyOnWriteArrayList<>();
        KitPeer peer = closer.add(new KitPeer(4096, false, KitPeer.frames((i, f) -> atPeer.add(KitFrames.check(f, 0)))));
        FaultProxy proxy = closer.add(new FaultProxy(peer.address(), Script.clean().fragment(1, 3000).cutAt(offset, cut),
                Script.clean(), 41));
        Recorder handler = new Recorder();
        Connection c = transport(name, tiny()).connect(proxy.address(), handler).get(5, TimeUnit.SECONDS);
        int frames = 3000;
        Outcomes outcomes = new Outcomes(frames);
        for (int i = 0; i < frames; i++) {
            c.write(KitFrames.frame(0, i, 1000, i % 3 == 0), outcomes.listener(i));
        }
        Kit.await(() -> proxy.cuts() == 1, "the proxy's cut at byte " + offset);
        if (cut == Cut.BLACKHOLE) {
            // Nothing tells the transport: the bytes pile up. The driver's remedy is abort after its deadline.
            Kit.await(() -> c.pendingBytes() > 1_000_000, "bytes to pile up behind the vanished peer");
            IllegalStateException cause = new IllegalStateException("request timed out");
            c.abort(cause);
            assertSame(cause, handler.closed.get(10, TimeUnit.SECONDS));
        } else {
            Throwable cause = handler.closed.get(15, TimeUnit.SECONDS);
            assertNotNull(cause, "a cut connection reports a cause");
        }
        outcomes.awaitAll();
        outcomes.assertExactlyOnceSuccessesFirst();
        assertFalse(outcomes.failures.isEmpty(), "no frame was unwritten at the cut: the test proved nothing");
        if (cut != Cut.BLACKHOLE) {
            outcomes.failures.forEach(f -> assertInstanceOf(ConnectionClosedException.class, f, String.valueOf(f)));
        }
        Kit.await(() -> c.pendingBytes() == 0, "pending bytes back to 0: " + c.pendingBytes());
        int successes = outcomes.successes();
        Kit.await(() -> peer.sockets().stream().allMatch(java.net.Socket::isClosed) || cut == Cut.BLACKHOLE,
                "the peer to see the end");
        assertTrue(atPeer.size() <= successes, atPeer.size() + " frames at the peer, only " + successes
                + " reported written");
        for (int i = 0; i < atPeer.size(); i++) {
            assertEquals(i, atPeer.get(i), "frame order at the peer");
        }
        assertTrue(atPeer.size() < frames && (offset / 1009) >= atPeer.size(),
                atPeer.size() + " whole frames at the peer from " + offset + " bytes");
        assertEquals(1, handler.closes.get());
        assertTrue(handler.breaches.isEmpty(), handler.breaches.toString());
    }

    @EachTransport
    void resetAtAByteOffsetMidFrame(String name) throws Exception {
        cutUpstream(name, Cut.RESET, 100_000 + 333);
    }

    @EachTransport
    void closedHalfWayThroughAFrame(String name) throws Exception {
        cutUpstream(name, Cut.CLOSE, 200_000 + 777);
    }

    @EachTransport
    void peerVanishesMidFrameThenTheDriverAborts(String name) throws Exception {
        cutUpstream(name, Cut.BLACKHOLE, 50_000 + 5);
    }

    @EachTransport
    void inboundStreamEndsMidFrameOnlyWholeFramesAreDelivered(String name) throws Exception {
        List<ByteBuffer> frames = new ArrayList<>();
        SplittableRandom random = new SplittableRandom(51);
        long total = 0;
        for (int i = 0; i < 300; i++) {
            ByteBuffer f = KitFrames.response(0, i, KitFrames.mixedBody(random));
            frames.add(f);
            total += f.remaining();
        }
        long cutAt = total / 2 + 3;
        KitPeer peer = closer.add(new KitPeer(0, false, (index, s) -> {
            OutputStream out = s.getOutputStream();
            for (ByteBuffer f : frames) {
                out.write(f.array());
            }
            out.flush();
            KitPeer.discard().serve(index, s);
        }));
        FaultProxy proxy = closer.add(new FaultProxy(peer.address(), Script.clean(),
                Script.clean().oneByte().cutAt(cutAt, Cut.HALF_CLOSE), 52));
        Recorder handler = new Recorder();
        Connection c = transport(name, TransportConfig.builder()).connect(proxy.address(), handler)
                .get(5, TimeUnit.SECONDS);
        Throwable cause = handler.closed.get(30, TimeUnit.SECONDS);
        assertNotNull(cause, "EOF mid-frame reports a cause");
        long whole = 0;
        int expected = 0;
        for (ByteBuffer f : frames) {
            if (whole + f.remaining() > cutAt) {
                break;
            }
            whole += f.remaining();
            expected++;
        }
        assertEquals(expected, handler.frames.size(), "exactly the whole frames before the cut");
        for (int i = 0; i < expected; i++) {
            assertEquals(i, KitFrames.check(handler.frames.get(i), 0));
        }
        assertFalse(c.isOpen());
        assertTrue(handler.breaches.isEmpty(), handler.breaches.toString());
    }
}
