package io.cqlnio.nio;

import io.cqlnio.spi.Cancellable;
import io.cqlnio.spi.Connection;
import io.cqlnio.spi.ConnectionClosedException;
import io.cqlnio.spi.FrameHandler;
import io.cqlnio.spi.IdleKind;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.TransportException;
import io.cqlnio.spi.TransportStats;
import io.cqlnio.spi.Transports;
import io.cqlnio.testkit.Await;
import io.cqlnio.testkit.Closer;
import io.cqlnio.testkit.LoopbackPeer;
import io.cqlnio.testkit.TestFrames;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What a driver needs beyond bytes: loop tasks, timers, idle events, read pause, the hard cap, stats, and a loop that survives its selector. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class DriverFeaturesTest {

    @RegisterExtension
    final Closer closer = new Closer();

    private Connection connect(Transport t, InetSocketAddress peer, FrameHandler h) throws Exception {
        return t.connect(peer, h).get(5, TimeUnit.SECONDS);
    }

    @Test
    void timersFireOnTheLoopInDeadlineOrderAndNeverEarly() throws Exception {
        LoopbackPeer peer = closer.add(new LoopbackPeer(0, false, LoopbackPeer.frames(null)));
        Transport t = closer.add(Transports.create("nio", TransportConfig.defaults()));
        Connection c = connect(t, peer.address(), (conn, f) -> { });
        AtomicReference<Thread> loopThread = new AtomicReference<>();
        CountDownLatch onLoop = new CountDownLatch(1);
        c.execute(() -> {
            loopThread.set(Thread.currentThread());
            onLoop.countDown();
        });
        assertTrue(onLoop.await(5, TimeUnit.SECONDS));

        int n = 200;
        List<Integer> fired = new CopyOnWriteArrayList<>();
        AtomicInteger early = new AtomicInteger();
        AtomicInteger offLoop = new AtomicInteger();
        CountDownLatch done = new CountDownLatch(n);
        List<Integer> delays = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            delays.add(i);
        }
        Collections.shuffle(delays, new java.util.Random(3));
        LoopTimer[] timers = new LoopTimer[n];
        for (int i = 0; i < n; i++) {
            int delay = delays.get(i);
            int index = i;
            long notBefore = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(delay);
            timers[i] = (LoopTimer) c.schedule(() -> {
                if (System.nanoTime() < notBefore) {
                    early.incrementAndGet();
                }
                if (Thread.currentThread() != loopThread.get()) {
                    offLoop.incrementAndGet();
                }
                fired.add(index); // the handle may not be assigned yet: a 0 ms timer can fire first
                done.countDown();
            }, delay, TimeUnit.MILLISECONDS);
        }
        assertTrue(done.await(10, TimeUnit.SECONDS));
        assertEquals(0, early.get(), "timers fired early");
        assertEquals(0, offLoop.get(), "timers ran off the loop thread");
        // Deadline order, by the deadlines the loop computed (scheduling under load may reorder delays).
        for (int i = 1; i < n; i++) {
            assertTrue(timers[fired.get(i)].deadlineNanos - timers[fired.get(i - 1)].deadlineNanos >= 0,
                    "timer " + i + " fired before an earlier deadline");
        }
    }

    @Test
    void cancelledTimersNeverRunFromAnyThread() throws Exception {
        LoopbackPeer peer = closer.add(new LoopbackPeer(0, false, LoopbackPeer.frames(null)));
        Transport t = closer.add(Transports.create("nio", TransportConfig.defaults()));
        Connection c = connect(t, peer.address(), (conn, f) -> { });
        AtomicInteger ran = new AtomicInteger();
        List<Cancellable> handles = new ArrayList<>();
        for (int i = 0; i < 10_000; i++) {
            handles.add(c.schedule(ran::incrementAndGet, 100, TimeUnit.MILLISECONDS));
        }
        // Half cancelled here, half on the loop.
        AtomicInteger cancelledOnLoop = new AtomicInteger();
        CountDownLatch loopDone = new CountDownLatch(1);
        c.execute(() -> {
            for (int i = 0; i < handles.size(); i += 2) {
                if (handles.get(i).cancel()) {
                    cancelledOnLoop.incrementAndGet();
                }
            }
            loopDone.countDown();
        });
        int cancelledHere = 0;
        for (int i = 1; i < handles.size(); i += 2) {
            if (handles.get(i).cancel()) {
                cancelledHere++;
            }
        }
        assertTrue(loopDone.await(5, TimeUnit.SECONDS));
        assertEquals(5_000, cancelledOnLoop.get());
        assertEquals(5_000, cancelledHere);
        assertFalse(handles.get(0).cancel(), "a second cancel must report false");
        CountDownLatch after = new CountDownLatch(1);
        c.schedule(after::countDown, 300, TimeUnit.MILLISECONDS);
        assertTrue(after.await(5, TimeUnit.SECONDS));
        assertEquals(0, ran.get());
        EventLoop loop = ((NioTransport) t).loops()[0];
        CompletableFuture<Integer> size = new CompletableFuture<>();
        c.execute(() -> size.complete(loop.timers().size()));
        assertEquals(0, size.get(5, TimeUnit.SECONDS), "cancelled timers left in the heap");
    }

    @Test
    void readIdleFiresOnASilentConnectionAndRepeats() throws Exception {
        LoopbackPeer peer = closer.add(new LoopbackPeer(0, false, LoopbackPeer.frames(null)));
        Transport t = closer.add(Transports.create("nio", TransportConfig.builder()
                .readIdleTimeout(Duration.ofMillis(150)).build()));
        List<Long> idleAt = new CopyOnWriteArrayList<>();
        long start = System.nanoTime();
        connect(t, peer.address(), new FrameHandler() {
            @Override
            public void onFrame(Connection connection, ByteBuffer frame) {
            }

            @Override
            public void onIdle(Connection connection, IdleKind kind) {
                assertEquals(IdleKind.READ, kind);
                idleAt.add(System.nanoTime() - start);
            }
        });
        Await.until(() -> idleAt.size() >= 3, "three READ idle events");
        assertTrue(idleAt.get(0) >= TimeUnit.MILLISECONDS.toNanos(150), "first idle early: " + idleAt.get(0));
        assertTrue(idleAt.get(1) - idleAt.get(0) >= TimeUnit.MILLISECONDS.toNanos(150), "repeat early");
    }

    @Test
    void readIdleStaysQuietWhileFramesArrive() throws Exception {
        LoopbackPeer peer = closer.add(new LoopbackPeer(0, false, LoopbackPeer.frames(null, true)));
        Transport t = closer.add(Transports.create("nio", TransportConfig.builder()
                .readIdleTimeout(Duration.ofMillis(500)).writeIdleTimeout(Duration.ofMillis(500)).build()));
        List<IdleKind> idle = new CopyOnWriteArrayList<>();
        AtomicInteger echoes = new AtomicInteger();
        Connection c = connect(t, peer.address(), new FrameHandler() {
            @Override
            public void onFrame(Connection connection, ByteBuffer frame) {
                echoes.incrementAndGet();
            }

            @Override
            public void onIdle(Connection connection, IdleKind kind) {
                idle.add(kind);
            }
        });
        // A frame each 40 ms for 600 ms: more than an idle period, never 500 ms of silence (the margin is for a
        // loaded 2-core machine, where a 40 ms sleep has been seen to last over 200 ms).
        for (int i = 0; i < 15; i++) {
            c.write(TestFrames.frame(0, i, 8, false)).get(5, TimeUnit.SECONDS);
            Thread.sleep(40);
        }
        Await.until(() -> echoes.get() == 15, "echoes");
        assertEquals(List.of(), idle);
        // Then silence: both kinds report.
        Await.until(() -> idle.contains(IdleKind.READ) && idle.contains(IdleKind.WRITE), "idle after silence");
    }

    @Test
    void pausedReadingHoldsFramesThenDeliversAllInOrderWhileOthersContinue() throws Exception {
        int frames = 20_000;
        try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Transport t = closer.add(Transports.create("nio", TransportConfig.builder().loops(1)
                    .receiveBufferSize(8192).build()));
            List<Integer> seen = Collections.synchronizedList(new ArrayList<>());
            AtomicBoolean paused = new AtomicBoolean();
            AtomicInteger deliveredWhilePaused = new AtomicInteger();
            AtomicReference<Connection> flooded = new AtomicReference<>();
            FrameHandler handler = (conn, frame) -> {
                if (paused.get()) {
                    deliveredWhilePaused.incrementAndGet();
                }
                int seq = TestFrames.check(frame, 0);
                seen.add(seq);
                if (seq == 100) {
                    paused.set(true);
                    conn.pauseReading(); // from inside onFrame: effective after this frame
                }
            };
            CompletableFuture<Connection> connecting = t.connect((InetSocketAddress) server.getLocalSocketAddress(), handler);
            try (Socket s = server.accept()) {
                s.setSendBufferSize(8192); // so the flooder blocks as soon as we stop reading
                flooded.set(connecting.get(5, TimeUnit.SECONDS));
                AtomicLong written = new AtomicLong();
                Thread flooder = new Thread(() -> {
                    try {
                        OutputStream out = s.getOutputStream();
                        for (int i = 0; i < frames; i++) {
                            out.write(TestFrames.frame(0, i, 100, false).array());
                            written.incrementAndGet();
                        }
                        out.flush();
                    } catch (java.io.IOException e) {
                        throw new RuntimeException(e);
                    }
                }, "flooder");
                flooder.setDaemon(true);
                flooder.start();
                Await.until(paused::get, "the pause");
                // The flooder blocks once our socket buffers are full: proof we stopped consuming.
                long stalledAt = -1;
                for (int i = 0; i < 200; i++) {
                    long before = written.get();
                    Thread.sleep(10);
                    if (written.get() == before && before < frames) {
                        stalledAt = before;
                        break;
                    }
                }
                assertTrue(stalledAt >= 0 && stalledAt < frames, "the peer never blocked: we kept reading");
                assertEquals(101, seen.size(), "frames delivered after pauseReading");

                // Another connection on the same loop keeps working meanwhile.
                LoopbackPeer echo = closer.add(new LoopbackPeer(0, false, LoopbackPeer.frames(null, true)));
                AtomicInteger echoes = new AtomicInteger();
                Connection other = connect(t, echo.address(), (conn, f) -> echoes.incrementAndGet());
                for (int i = 0; i < 50; i++) {
                    other.write(TestFrames.frame(1, i, 8, false));
                }
                Await.until(() -> echoes.get() == 50, "echoes on the other connection");

                paused.set(false);
                flooded.get().resumeReading();
                Await.until(() -> seen.size() == frames, "all frames after resume");
                for (int i = 0; i < frames; i++) {
                    assertEquals(i, seen.get(i), "frame order across pause/resume");
                }
                assertEquals(0, deliveredWhilePaused.get());
            }
        }
    }

    @Test
    void maxPendingBytesRefusesAtOnceNamingTheLimitAndTheCount() throws Exception {
        LoopbackPeer peer = closer.add(new LoopbackPeer(4096, true, LoopbackPeer.frames(null)));
        Transport t = closer.add(Transports.create("nio", TransportConfig.builder().sendBufferSize(4096)
                .maxPendingBytes(64 * 1024).build()));
        Connection c = connect(t, peer.address(), (conn, f) -> { });
        AtomicReference<Throwable> refused = new AtomicReference<>();
        int accepted = 0;
        for (int i = 0; i < 10_000 && refused.get() == null; i++) {
            c.write(TestFrames.frame(0, i, 1000, true), f -> {
                if (f != null) {
                    refused.compareAndSet(null, f);
                }
            });
            accepted++;
        }
        Throwable e = refused.get();
        assertInstanceOf(TransportException.class, e);
        assertTrue(e.getMessage().contains("maxPendingBytes is 65536") && e.getMessage().contains("bytes are pending"),
                e.getMessage());
        assertTrue(c.pendingBytes() <= 64 * 1024);
        assertTrue(c.isOpen(), "a refused write must not close the connection");
        assertTrue(accepted > 10);
    }

    @Test
    void gracefulTransportCloseFlushesWithinTheGraceThenAborts() throws Exception {
        List<Integer> received = new CopyOnWriteArrayList<>();
        LoopbackPeer fast = closer.add(new LoopbackPeer(0, false, LoopbackPeer.frames((conn, f) -> received.add(1))));
        LoopbackPeer stalled = closer.add(new LoopbackPeer(4096, true, LoopbackPeer.frames(null)));
        Transport t = Transports.create("nio", TransportConfig.builder().sendBufferSize(4096).build());
        AtomicReference<Throwable> fastClosed = new AtomicReference<>(new Throwable("not closed"));
        Connection a = connect(t, fast.address(), new FrameHandler() {
            @Override
            public void onFrame(Connection connection, ByteBuffer frame) {
            }

            @Override
            public void onClosed(Connection connection, Throwable cause) {
                fastClosed.set(cause);
            }
        });
        Connection b = connect(t, stalled.address(), (conn, f) -> { });
        ConnectionLifecycleTest.Outcomes oa = new ConnectionLifecycleTest.Outcomes(1000);
        ConnectionLifecycleTest.Outcomes ob = new ConnectionLifecycleTest.Outcomes(1000);
        for (int i = 0; i < 1000; i++) {
            a.write(TestFrames.frame(0, i, 500, true), oa.listener(i));
            b.write(TestFrames.frame(0, i, 500, true), ob.listener(i));
        }
        long start = System.nanoTime();
        t.close(Duration.ofMillis(300));
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertTrue(millis >= 250 && millis < 5_000, "close(300 ms) took " + millis + " ms");
        oa.awaitAll();
        ob.awaitAll();
        oa.assertExactlyOnceSuccessesFirst();
        ob.assertExactlyOnceSuccessesFirst();
        assertTrue(oa.failures.isEmpty(), "the healthy connection lost frames: " + oa.failures.size());
        assertNull(fastClosed.get(), "the healthy connection closed gracefully");
        assertFalse(ob.failures.isEmpty(), "the stalled connection cannot have flushed everything");
        ob.failures.forEach(f -> assertInstanceOf(ConnectionClosedException.class, f));
        Await.until(() -> received.size() == 1000, "every accepted frame at the fast peer");
    }

    @Test
    void statsAddUpAcrossLoopsAndShowABlockingHandler() throws Exception {
        LoopbackPeer peer = closer.add(new LoopbackPeer(0, false, LoopbackPeer.frames(null, true)));
        Transport t = closer.add(Transports.create("nio", TransportConfig.builder().loops(2).build()));
        AtomicInteger frames = new AtomicInteger();
        List<Connection> cs = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            int index = i;
            cs.add(connect(t, peer.address(), (conn, f) -> {
                frames.incrementAndGet();
                if (index == 0 && TestFrames.check(f, 0) == 0) {
                    try {
                        Thread.sleep(100); // a handler that blocks: documented to stall its loop for that long
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
            }));
        }
        for (int i = 0; i < 100; i++) {
            for (int k = 0; k < cs.size(); k++) {
                cs.get(k).write(TestFrames.frame(k == 0 ? 0 : 1, i, 100, false));
            }
        }
        Await.until(() -> frames.get() == 400, "400 echoes");
        TransportStats s = t.stats();
        assertEquals(4, s.connections());
        assertEquals(400, s.framesWritten());
        assertEquals(400, s.framesRead());
        assertEquals(400L * (9 + 100), s.bytesWritten());
        assertTrue(s.writeCalls() > 0 && s.writeCalls() <= 400);
        assertTrue(s.maxLoopTurnNanos() >= TimeUnit.MILLISECONDS.toNanos(100), "max turn " + s.maxLoopTurnNanos());
        assertTrue(s.busyRatio() >= 0 && s.busyRatio() <= 1);
        cs.get(3).close().get(5, TimeUnit.SECONDS);
        TransportStats after = t.stats();
        assertEquals(3, after.connections());
        assertEquals(400, after.framesWritten(), "a closed connection's counters must stay in the totals");
    }

    @Test
    void theLoopSurvivesInterruptsABrokenSelectorAndACancelledKey() throws Exception {
        LoopbackPeer peer = closer.add(new LoopbackPeer(0, false, LoopbackPeer.frames(null, true)));
        NioTransport t = (NioTransport) closer.add(Transports.create("nio", TransportConfig.defaults()));
        AtomicInteger echoes = new AtomicInteger();
        Connection a = connect(t, peer.address(), (conn, f) -> echoes.incrementAndGet());
        AtomicReference<Throwable> bClosed = new AtomicReference<>();
        NioConnection b = (NioConnection) connect(t, peer.address(), new FrameHandler() {
            @Override
            public void onFrame(Connection connection, ByteBuffer frame) {
            }

            @Override
            public void onClosed(Connection connection, Throwable cause) {
                bClosed.set(cause);
            }
        });
        EventLoop loop = t.loops()[0];
        CompletableFuture<Thread> thread = new CompletableFuture<>();
        a.execute(() -> thread.complete(Thread.currentThread()));

        // Interrupts: select returns at once while the flag is set; the loop must clear it, not spin.
        for (int i = 0; i < 100; i++) {
            thread.get(5, TimeUnit.SECONDS).interrupt();
        }
        TransportStats before = t.stats();
        Thread.sleep(300);
        double busy = t.stats().busyRatioSince(before);
        assertTrue(busy < 0.5, "an idle loop was busy " + busy + " of the time after interrupts");
        a.write(TestFrames.frame(0, 0, 8, false));
        Await.until(() -> echoes.get() == 1, "echo after interrupts");

        // A select that throws: every channel moves to a new selector and keeps working.
        loop.failNextSelect = true;
        loop.wakeup();
        Await.until(() -> loop.selectorRebuilds() == 1, "selector rebuilt");
        for (int i = 1; i <= 100; i++) {
            a.write(TestFrames.frame(0, i, 8, false));
        }
        Await.until(() -> echoes.get() == 101, "echoes after the rebuild");

        // A key cancelled under the connection: that connection ends with a cause, the other goes on.
        CountDownLatch cancelled = new CountDownLatch(1);
        b.execute(() -> {
            b.key().cancel();
            cancelled.countDown();
        });
        assertTrue(cancelled.await(5, TimeUnit.SECONDS));
        b.write(TestFrames.frame(1, 0, 8, false));
        Await.until(() -> bClosed.get() != null, "the connection with the cancelled key closes");
        assertTrue(bClosed.get().getMessage().contains("cancelled"), bClosed.get().getMessage());
        a.write(TestFrames.frame(0, 102, 8, false));
        Await.until(() -> echoes.get() == 102, "the other connection after the cancelled key");
    }

    @Test
    void wakeupsFromManyThreadsAtOnce() throws Exception {
        LoopbackPeer peer = closer.add(new LoopbackPeer(0, false, LoopbackPeer.frames(null, true)));
        Transport t = closer.add(Transports.create("nio", TransportConfig.defaults()));
        AtomicInteger echoes = new AtomicInteger();
        Connection c = connect(t, peer.address(), (conn, f) -> echoes.incrementAndGet());
        int threads = 64;
        CountDownLatch go = new CountDownLatch(1);
        List<Thread> ts = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            int id = i;
            Thread th = new Thread(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                SplittableRandom r = new SplittableRandom(id);
                for (int k = 0; k < 100; k++) {
                    c.write(TestFrames.frame(id, k, 8 + r.nextInt(50), false));
                }
            });
            ts.add(th);
            th.start();
        }
        go.countDown();
        for (Thread th : ts) {
            th.join();
        }
        Await.until(() -> echoes.get() == threads * 100, "every frame echoed");
        assertTrue(c.stats().wakeups() <= threads * 100L);
    }
}
