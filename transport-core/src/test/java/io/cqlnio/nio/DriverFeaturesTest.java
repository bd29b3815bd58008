package io.cqlnio.nio;

import io.cqlnio.spi.Cancellable;
import io.cqlnio.spi.Connection;
import io.cqlnio.spi.FrameHandler;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.TransportStats;
import io.cqlnio.spi.Transports;
import io.cqlnio.testkit.Await;
import io.cqlnio.testkit.Closer;
import io.cqlnio.testkit.LoopbackPeer;
import io.cqlnio.testkit.TestFrames;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What only nio's own tests can check of the driver features, through its internals: the timer heap (deadline
 * order across 200 timers, cancelled timers leave the heap), the loop's stats (write calls, the longest loop
 * turn) and a loop that survives interrupts, a broken selector and a cancelled key. The features every
 * transport has (tasks, timers, idle events, read pause, the pending-bytes cap, graceful transport close) are
 * checked for each transport by transport-tests' {@code DriverFeaturesKitTest}.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class DriverFeaturesTest {

    @RegisterExtension
    final Closer closer = new Closer();

    private Connection connect(Transport t, InetSocketAddress peer, FrameHandler h) throws Exception {
        return t.connect(peer, h).get(5, TimeUnit.SECONDS);
    }

    @Test
    void timersFireOnTheLoopInDeadlineOrderAndNeverEarly() throws Exception {
        LoopbackPeer peer = closer.add(new LoopbackPeer(0, false, LoopbackPeer.discard()));
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
        LoopbackPeer peer = closer.add(new LoopbackPeer(0, false, LoopbackPeer.discard()));
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
        c.execute(() -> size.complete(loop.timerCount()));
        assertEquals(0, size.get(5, TimeUnit.SECONDS), "cancelled timers left in the heap");
    }

    @Test
    void statsAddUpAcrossLoopsAndShowABlockingHandler() throws Exception {
        LoopbackPeer peer = closer.add(new LoopbackPeer(0, false, LoopbackPeer.frames(null, true)));
        // Write-through and polls off: this counts the loop's wakeups, which a caller writing through never needs,
        // nor one writing to a loop still polling.
        Transport t = closer.add(Transports.create("nio", TransportConfig.builder().loops(2).writeThrough(false)
                .pollsBeforeSleep(0).build()));
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
        // Writers wake a sleeping loop, and never more than once a write (the kit's 64-thread test shows none is lost).
        assertTrue(s.wakeups() > 0 && s.wakeups() <= 400, "wakeups " + s.wakeups());
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
        // Write-through off: the loop notices a cancelled key when it flushes, and a caller writing through would
        // take that flush away from it.
        NioTransport t = (NioTransport) closer.add(Transports.create("nio", TransportConfig.builder()
                .writeThrough(false).build()));
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

}
