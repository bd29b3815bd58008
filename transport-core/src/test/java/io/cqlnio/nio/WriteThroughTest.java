package io.cqlnio.nio;

import io.cqlnio.spi.Connection;
import io.cqlnio.spi.ConnectionClosedException;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;
import io.cqlnio.spi.WriteListener;
import io.cqlnio.testkit.Closer;
import io.cqlnio.testkit.LoopbackPeer;
import io.cqlnio.testkit.TestFrames;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.GatheringByteChannel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongUnaryOperator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Write-through: a caller that finds the writer idle makes the gathering write itself. Driven through
 * {@link ThroughRig}, so every short write, close and race lands at a chosen byte; the last test lets real
 * threads race. Each checks the invariants that matter: the byte stream is exactly the frames in order, every
 * listener fires once and in order, pending bytes come back to 0, and only one thread writes at a time.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class WriteThroughTest {

    @RegisterExtension
    final Closer closer = new Closer();

    private static final long ALWAYS = 0;
    private static final long OFF = -1;

    /** Listener outcomes in the order they fired. */
    private static final class Outcomes {
        final List<String> fired = Collections.synchronizedList(new ArrayList<>());
        final AtomicInteger depth = new AtomicInteger();
        volatile int maxDepth;

        WriteListener of(String name) {
            return failure -> fired.add(name + (failure == null ? "" : " failed"));
        }
    }

    private static byte[] concat(ByteBuffer... frames) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (ByteBuffer f : frames) {
            ByteBuffer d = f.duplicate();
            byte[] b = new byte[d.remaining()];
            d.get(b);
            out.writeBytes(b);
        }
        return out.toByteArray();
    }

    /** Takes {@code first} bytes in its first call, everything after. */
    private static LongUnaryOperator firstCallTakes(long first) {
        return call -> call == 0 ? first : Long.MAX_VALUE;
    }

    @Test
    void aQuietWriteGoesOutOnTheCallersThreadAndTheLoopIsNotTold() {
        ScriptedChannel channel = ScriptedChannel.accepting(Long.MAX_VALUE);
        ThroughRig rig = new ThroughRig(channel, ALWAYS, 16);
        ByteBuffer f = TestFrames.frame(0, 0, 40, false);
        byte[] expected = concat(f);
        AtomicLong listenerThread = new AtomicLong();
        rig.write(f, failure -> listenerThread.set(failure == null ? Thread.currentThread().getId() : -1));
        assertArrayEquals(expected, channel.bytes(), "written before write() returned");
        assertEquals(Thread.currentThread().getId(), listenerThread.get(), "the listener ran on the caller");
        assertEquals(0, rig.dirty.get(), "the loop was not told");
        assertTrue(rig.tasks.isEmpty());
        assertEquals(0, rig.queue.pendingBytes());
        assertEquals(FrameQueue.FREE, rig.queue.claim(), "the caller let go of the writer");
        assertEquals(1, rig.writes.writesThrough());
    }

    @Test
    void withWriteThroughOffEveryClaimGoesToTheLoop() {
        ScriptedChannel channel = ScriptedChannel.accepting(Long.MAX_VALUE);
        ThroughRig rig = new ThroughRig(channel, OFF, 16);
        ByteBuffer f = TestFrames.frame(0, 0, 40, false);
        byte[] expected = concat(f);
        rig.write(f, null);
        assertEquals(0, channel.bytes().length);
        assertEquals(1, rig.dirty.get());
        rig.drain();
        assertArrayEquals(expected, channel.bytes());
        assertEquals(0, rig.writes.writesThrough());
    }

    /**
     * Three frames (one in three parts) queued when the caller finds the writer idle; its one write is cut at
     * every byte k. The remainder must stay at the head for the loop, the stream exact, the listeners in order.
     */
    @Test
    void aShortWriteThroughAtEveryByteLeavesTheRemainderAtTheHeadForTheLoop() {
        SplittableRandom random = new SplittableRandom(3);
        ByteBuffer[] frames = {TestFrames.frame(0, 0, 40, false), TestFrames.frame(0, 1, 7, false),
            TestFrames.frame(0, 2, 100, true)};
        byte[] expected = concat(frames);
        for (int k = 0; k <= expected.length; k++) {
            ScriptedChannel channel = new ScriptedChannel(firstCallTakes(k));
            ThroughRig rig = new ThroughRig(channel, ALWAYS, 16);
            Outcomes outcomes = new Outcomes();
            // Producers 2 and 3 offer while producer 1, who won the claim, has not yet acted on it.
            int first = rig.queue.offer(frames[0].duplicate(), null, outcomes.of("f0"));
            assertEquals(FrameQueue.CLAIMED, first & FrameQueue.CLAIMED);
            assertEquals(0, rig.queue.offer(null, TestFrames.parts(frames[1].duplicate(), random), outcomes.of("f1"))
                    & FrameQueue.CLAIMED);
            assertEquals(0, rig.queue.offer(frames[2].duplicate(), null, outcomes.of("f2")) & FrameQueue.CLAIMED);
            rig.writes.handOver(first);
            int doneByCaller = outcomes.fired.size();
            assertEquals(k == expected.length ? 0 : 1, rig.dirty.get(), "k=" + k + ": the loop must take the rest");
            rig.drain();
            assertArrayEquals(expected, channel.bytes(), "k=" + k);
            assertEquals(List.of("f0", "f1", "f2"), outcomes.fired, "k=" + k);
            int length0 = frames[0].remaining();
            int length01 = length0 + frames[1].remaining();
            assertEquals(k >= length0 ? (k >= length01 ? (k == expected.length ? 3 : 2) : 1) : 0, doneByCaller,
                    "k=" + k + ": frames the caller's write finished are retired by the caller");
            assertEquals(0, rig.queue.pendingBytes(), "k=" + k);
            assertEquals(FrameQueue.FREE, rig.queue.claim(), "k=" + k);
        }
    }

    @Test
    void aBurstIsLeftToTheLoopAndGoesOutInOneWrite() {
        ScriptedChannel channel = ScriptedChannel.accepting(Long.MAX_VALUE);
        ThroughRig rig = new ThroughRig(channel, TimeUnit.SECONDS.toNanos(1), 16);
        ByteBuffer[] frames = new ByteBuffer[8];
        for (int i = 0; i < frames.length; i++) {
            frames[i] = TestFrames.frame(0, i, 64, false);
        }
        byte[] expected = concat(frames);
        rig.write(frames[0], null);
        assertEquals(1, channel.calls(), "the first frame of a quiet connection goes through");
        for (int i = 1; i < frames.length; i++) {
            rig.write(frames[i], null);
        }
        assertEquals(1, channel.calls(), "the rest of the burst waits for the loop");
        assertEquals(1, rig.dirty.get(), "one hand-over for the whole burst");
        rig.drain();
        assertEquals(2, channel.calls(), "the loop gathers the burst into one write");
        assertArrayEquals(expected, channel.bytes());
        assertEquals(1, rig.writes.writesThrough());
    }

    /**
     * After a burst the connection counts as busy for {@code BUSY_HOLD} quiet times: a pipelining caller's next
     * refill, although it comes after a quiet gap, still goes to the loop; once the hold has passed, write-through
     * is back. Quiet time 1 ms (hold 100 ms), so the gaps below are far from both edges.
     */
    @Test
    void aBurstKeepsWritesOnTheLoopUntilTheHoldHasPassed() throws Exception {
        ScriptedChannel channel = ScriptedChannel.accepting(Long.MAX_VALUE);
        long quiet = TimeUnit.MILLISECONDS.toNanos(1);
        ThroughRig rig = new ThroughRig(channel, quiet, 16);
        rig.write(TestFrames.frame(0, 0, 8, false), null);
        rig.write(TestFrames.frame(0, 1, 8, false), null); // a burst
        assertEquals(1, rig.writes.writesThrough());
        rig.drain();
        Thread.sleep(5); // quiet for 5 quiet times, well inside the 100 ms hold
        rig.write(TestFrames.frame(0, 2, 8, false), null);
        assertEquals(1, rig.writes.writesThrough(), "written through inside the hold that followed a burst");
        assertEquals(1, rig.dirty.get());
        rig.drain();
        Thread.sleep(quiet * WriteSide.BUSY_HOLD / 1_000_000 + 50);
        rig.write(TestFrames.frame(0, 3, 8, false), null);
        assertEquals(2, rig.writes.writesThrough(), "write-through did not come back after the hold");
        assertEquals(4, TestFrames.checkInterleaved(channel.bytes(), 1));
    }

    @Test
    void aListenerThatWritesAgainNeitherRecursesNorReorders() {
        ScriptedChannel channel = ScriptedChannel.accepting(Long.MAX_VALUE);
        ThroughRig rig = new ThroughRig(channel, ALWAYS, 16);
        ByteBuffer[] frames = new ByteBuffer[5];
        for (int i = 0; i < frames.length; i++) {
            frames[i] = TestFrames.frame(0, i, 16 + i, false);
        }
        byte[] expected = concat(frames);
        Outcomes outcomes = new Outcomes();
        class Chain implements WriteListener {
            final int index;

            Chain(int index) {
                this.index = index;
            }

            @Override
            public void onComplete(Throwable failure) {
                int depth = outcomes.depth.incrementAndGet();
                outcomes.maxDepth = Math.max(outcomes.maxDepth, depth);
                outcomes.fired.add("f" + index + (failure == null ? "" : " failed"));
                if (index + 1 < frames.length) {
                    rig.write(frames[index + 1], new Chain(index + 1));
                }
                outcomes.depth.decrementAndGet();
            }
        }
        rig.write(frames[0], new Chain(0));
        rig.drain();
        assertArrayEquals(expected, channel.bytes());
        assertEquals(List.of("f0", "f1", "f2", "f3", "f4"), outcomes.fired);
        assertEquals(1, outcomes.maxDepth, "a listener's write ran another listener inside it");
        assertEquals(0, rig.queue.pendingBytes());
    }

    /**
     * The loop closes (abort, peer reset) while a caller is inside its write: the loop must not touch the frames
     * the caller holds, and the caller, once its write returns, fails what is left: each frame once, in order,
     * including one another producer offered meanwhile, and a straggler after.
     */
    @Test
    void aCloseWhileACallerWritesLeavesTheFailingToThatCaller() {
        ByteBuffer[] frames = {TestFrames.frame(0, 0, 40, false), TestFrames.frame(0, 1, 7, false)};
        int total = concat(frames).length;
        int length0 = frames[0].remaining();
        for (int k : new int[] {0, 10, length0, length0 + 3, total}) {
            Outcomes outcomes = new Outcomes();
            ThroughRig[] rigHolder = new ThroughRig[1];
            ByteBuffer late = TestFrames.frame(1, 0, 8, false);
            ScriptedChannel channel = new ScriptedChannel(call -> {
                if (call == 0) {
                    ThroughRig rig = rigHolder[0];
                    rig.closeNow(new IllegalStateException("aborted"), new ConnectionClosedException("aborted"));
                    assertEquals(List.of(), outcomes.fired, "the loop failed frames a caller holds");
                    assertEquals(FrameQueue.CALLER_ENDS, rig.queue.claim());
                    rig.write(late, outcomes.of("late")); // another producer, past its state check
                    assertEquals(List.of(), outcomes.fired, "a frame queued behind older ones failed first");
                }
                return k;
            });
            ThroughRig rig = new ThroughRig(channel, ALWAYS, 16);
            rigHolder[0] = rig;
            int first = rig.queue.offer(frames[0].duplicate(), null, outcomes.of("f0"));
            rig.queue.offer(frames[1].duplicate(), null, outcomes.of("f1"));
            rig.writes.handOver(first);
            List<String> expected = new ArrayList<>();
            expected.add(k >= length0 ? "f0" : "f0 failed");
            expected.add(k >= total ? "f1" : "f1 failed");
            expected.add("late failed");
            assertEquals(expected, outcomes.fired, "k=" + k);
            rig.write(TestFrames.frame(1, 1, 8, false), outcomes.of("straggler"));
            assertEquals("straggler failed", outcomes.fired.get(3), "k=" + k);
            assertEquals(4, outcomes.fired.size(), "k=" + k);
            assertEquals(0, rig.queue.pendingBytes(), "k=" + k);
            assertEquals(1, rig.closes.get());
            rig.drain();
            assertEquals(4, outcomes.fired.size(), "k=" + k + ": a frame was told twice");
        }
    }

    /**
     * Producer P pushed its frame and found the queue open, then lost the CPU before its claim; the loop closed the
     * connection and finished (P's frame failed). P's claim lands on the FREE claim the close left: it must give
     * it straight back, or the loop (which no longer flushes a closed connection) would keep it for ever and every
     * later straggler would be stranded.
     */
    @Test
    void aClaimLandingAfterAFinishedCloseIsGivenBack() {
        ThroughRig rig = new ThroughRig(ScriptedChannel.accepting(Long.MAX_VALUE), ALWAYS, 16);
        Outcomes outcomes = new Outcomes();
        assertTrue(rig.queue.claimForLoop(), "the loop holds the writer, so P's claim is still to come");
        assertEquals(0, rig.queue.offer(TestFrames.frame(0, 0, 8, false), null, outcomes.of("p")) & FrameQueue.CLAIMED);
        rig.closeNow(new IllegalStateException("aborted"), new ConnectionClosedException("aborted"));
        assertEquals(List.of("p failed"), outcomes.fired);
        rig.writes.handOver(rig.queue.claimWriter(0)); // P resumes: its claim, then what it does with the result
        assertEquals(FrameQueue.FREE, rig.queue.claim(), "a claim won after the close was kept");
        rig.write(TestFrames.frame(0, 1, 8, false), outcomes.of("straggler"));
        assertEquals(List.of("p failed", "straggler failed"), outcomes.fired);
        assertEquals(0, rig.queue.pendingBytes());
    }

    /** close() while a caller writes: the caller hands the writer to the loop, which flushes, then closes. */
    @Test
    void aGracefulCloseWhileACallerWritesFinishesOnTheLoop() {
        ByteBuffer[] frames = {TestFrames.frame(0, 0, 40, false), TestFrames.frame(0, 1, 7, false)};
        byte[] expected = concat(frames);
        for (int k : new int[] {0, 20, expected.length}) {
            Outcomes outcomes = new Outcomes();
            ThroughRig[] rigHolder = new ThroughRig[1];
            ScriptedChannel channel = new ScriptedChannel(call -> {
                if (call == 0) {
                    ThroughRig rig = rigHolder[0];
                    rig.state = ConnectionState.CLOSING; // Connection.close() on another thread,
                    rig.execute(rig::closeGracefully);   // and the task it gives the loop
                }
                return call == 0 ? k : Long.MAX_VALUE;
            });
            ThroughRig rig = new ThroughRig(channel, ALWAYS, 16);
            rigHolder[0] = rig;
            int first = rig.queue.offer(frames[0].duplicate(), null, outcomes.of("f0"));
            rig.queue.offer(frames[1].duplicate(), null, outcomes.of("f1"));
            rig.writes.handOver(first);
            rig.drain();
            assertArrayEquals(expected, channel.bytes(), "k=" + k);
            assertEquals(List.of("f0", "f1"), outcomes.fired, "k=" + k);
            assertEquals(1, rig.closes.get(), "k=" + k + ": the graceful close never finished");
            assertNull(rig.closedCause, "k=" + k);
        }
    }

    @Test
    void aWriteErrorClosesTheConnectionOnTheLoopWithItsCause() {
        Outcomes outcomes = new Outcomes();
        ThroughRig rig = new ThroughRig(new IoFailing(), ALWAYS, 16);
        rig.write(TestFrames.frame(0, 0, 8, false), outcomes.of("f0"));
        assertEquals(List.of(), outcomes.fired, "failed on the caller before the loop closed the connection");
        rig.drain();
        assertEquals(List.of("f0 failed"), outcomes.fired);
        assertTrue(rig.closedCause.getMessage().contains("write failed") && rig.closedCause.getMessage()
                .contains("Broken pipe"), rig.closedCause.getMessage());
        assertEquals(0, rig.queue.pendingBytes());
    }

    /** A socket that has died: every write throws. */
    private static final class IoFailing extends WriteOnlyChannel {
        @Override
        public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
            throw new IOException("Broken pipe");
        }
    }

    /**
     * v5 segments: the same frames give the same bytes whether the loop writes them all or a caller writes
     * through and a short write at byte k leaves the rest to the loop.
     */
    @Test
    void segmentsGoOutTheSameWhoeverWritesThem() {
        SplittableRandom random = new SplittableRandom(11);
        ByteBuffer[] frames = {TestFrames.frame(0, 0, 30, false), TestFrames.frame(0, 1, 200_000, true),
            TestFrames.frame(0, 2, 5, false)};
        ScriptedChannel reference = ScriptedChannel.accepting(Long.MAX_VALUE);
        ThroughRig loopOnly = new ThroughRig(reference, OFF, 16);
        loopOnly.switchToSegments();
        for (ByteBuffer f : frames) {
            loopOnly.write(f.duplicate(), null);
        }
        loopOnly.drain();
        byte[] expected = reference.bytes();
        assertTrue(expected.length > concat(frames).length, "segment headers and trailers");
        for (int k = 0; k < expected.length; k += k < 64 ? 1 : 997) {
            ScriptedChannel channel = new ScriptedChannel(firstCallTakes(k));
            ThroughRig rig = new ThroughRig(channel, ALWAYS, 16);
            Outcomes outcomes = new Outcomes();
            int first = rig.queue.offerSwitchToSegments();
            rig.queue.offer(null, TestFrames.parts(frames[0].duplicate(), random), outcomes.of("f0"));
            rig.queue.offer(frames[1].duplicate(), null, outcomes.of("f1"));
            rig.queue.offer(frames[2].duplicate(), null, outcomes.of("f2"));
            rig.writes.handOver(first);
            rig.drain();
            assertArrayEquals(expected, channel.bytes(), "k=" + k);
            assertEquals(List.of("f0", "f1", "f2"), outcomes.fired, "k=" + k);
            assertEquals(0, rig.queue.pendingBytes(), "k=" + k);
        }
    }

    /**
     * Real threads: producers writing through race each other and a loop thread flushing into a channel that
     * takes random amounts (often nothing). Only one thread may ever be inside a write; the stream is every
     * producer's frames in its own order; every listener fires once, in each producer's order.
     */
    @Test
    void producersAndTheLoopNeverWriteAtOnce() throws Exception {
        int producers = 4;
        int perProducer = 5_000;
        SplittableRandom scriptRandom = new SplittableRandom(5);
        ScriptedChannel inner = new ScriptedChannel(call -> scriptRandom.nextInt(4) == 0 ? 0
                : scriptRandom.nextInt(1, 3000));
        AtomicInteger inside = new AtomicInteger();
        AtomicInteger overlaps = new AtomicInteger();
        GatheringByteChannel channel = new WriteOnlyChannel() {
            @Override
            public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
                if (inside.incrementAndGet() != 1) {
                    overlaps.incrementAndGet();
                }
                try {
                    for (int i = 0; i < 20; i++) {
                        Thread.onSpinWait(); // widen the window a second writer would fall into
                    }
                    synchronized (inner) { // keeps the recorder itself sane if the claim is broken
                        return inner.write(srcs, offset, length);
                    }
                } finally {
                    inside.decrementAndGet();
                }
            }
        };
        ThroughRig rig = new ThroughRig(channel, ALWAYS, 16);
        AtomicIntegerArray fired = new AtomicIntegerArray(producers * perProducer);
        int[] lastFired = new int[producers];
        Arrays.fill(lastFired, -1);
        AtomicInteger outOfOrder = new AtomicInteger();
        List<Thread> threads = new ArrayList<>();
        for (int p = 0; p < producers; p++) {
            int producer = p;
            threads.add(new Thread(() -> {
                SplittableRandom random = new SplittableRandom(producer);
                for (int seq = 0; seq < perProducer; seq++) {
                    int slot = producer * perProducer + seq;
                    int s = seq;
                    ByteBuffer frame = TestFrames.frame(producer, seq, 8 + random.nextInt(300), false);
                    WriteListener listener = failure -> {
                        fired.incrementAndGet(slot);
                        synchronized (lastFired) {
                            if (lastFired[producer] != s - 1) {
                                outOfOrder.incrementAndGet();
                            }
                            lastFired[producer] = s;
                        }
                    };
                    if (random.nextInt(4) == 0) {
                        rig.write(TestFrames.parts(frame, random), listener);
                    } else {
                        rig.write(frame, listener);
                    }
                    if (random.nextInt(64) == 0) {
                        Thread.yield(); // let the writer go idle now and then, so callers claim it again
                    }
                }
            }, "producer-" + p));
        }
        threads.forEach(Thread::start);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        Thread loop = new Thread(() -> {
            rig.loopIsCurrentThread();
            while ((threads.stream().anyMatch(Thread::isAlive) || rig.queue.pendingBytes() > 0
                    || rig.queue.claim() != FrameQueue.FREE) && System.nanoTime() < deadline) {
                if (rig.turn(true) == 0) {
                    Thread.yield();
                }
            }
        }, "loop");
        loop.start();
        loop.join();
        assertEquals(0, overlaps.get(), "write calls made while another thread was inside one");
        assertEquals(0, rig.queue.pendingBytes(), "not drained in 30 s; claim " + rig.queue.claim());
        assertEquals(producers * perProducer, TestFrames.checkInterleaved(inner.bytes(), producers));
        for (int i = 0; i < fired.length(); i++) {
            assertEquals(1, fired.get(i), "listener " + i);
        }
        assertEquals(0, outOfOrder.get(), "listeners out of their producer's order");
        assertTrue(rig.writes.writesThrough() > 0, "no caller ever wrote through: the race was not run");
        assertSame(null, rig.closedCause);
    }

    /**
     * Real sockets, one request at a time as a driver's synchronous call makes them: each frame is written by the
     * thread that calls {@code write} (its listener runs there, before {@code write} returns) and comes back
     * byte-exact; the loop is never woken to write. With write-through off, the loop writes every one.
     */
    @Test
    void oneRequestAtATimeOnARealSocketIsWrittenByItsCaller() throws Exception {
        for (boolean through : new boolean[] {true, false}) {
            LoopbackPeer peer = closer.add(new LoopbackPeer(0, false, LoopbackPeer.frames(null, true)));
            Transport t = closer.add(Transports.create("nio", TransportConfig.builder().writeThrough(through)
                    .build()));
            BlockingQueue<ByteBuffer> echoes = new ArrayBlockingQueue<>(4);
            Connection c = t.connect(peer.address(), (conn, f) -> {
                ByteBuffer copy = ByteBuffer.allocate(f.remaining());
                copy.put(f).flip();
                echoes.add(copy);
            }).get(5, TimeUnit.SECONDS);
            int onCaller = 0;
            for (int i = 0; i < 200; i++) {
                Thread caller = Thread.currentThread();
                AtomicInteger where = new AtomicInteger();
                c.write(TestFrames.frame(0, i, 64 + i, i % 2 == 0), failure -> where.set(failure != null ? -1
                        : Thread.currentThread() == caller ? 1 : 2));
                if (where.get() == 1) {
                    onCaller++;
                }
                ByteBuffer echo = echoes.poll(5, TimeUnit.SECONDS);
                assertTrue(echo != null, "no echo of frame " + i);
                assertEquals(i, TestFrames.check(echo, 0));
                Thread.sleep(1); // a quiet gap, as between a driver's requests
            }
            NioConnection nio = (NioConnection) c;
            if (through) {
                assertEquals(200, onCaller, "frames written and told on the caller's thread");
                assertEquals(200, nio.writesThrough());
                assertEquals(0, c.stats().wakeups(), "the loop was woken to write");
            } else {
                assertEquals(0, onCaller);
                assertEquals(0, nio.writesThrough());
            }
            assertEquals(200, c.stats().framesWritten());
            c.close().get(5, TimeUnit.SECONDS);
        }
    }

    /** A caller with its interrupt flag set writes through like any other; the connection lives, the flag stays. */
    @Test
    void anInterruptedCallerWritesThroughAndTheConnectionLives() throws Exception {
        LoopbackPeer peer = closer.add(new LoopbackPeer(0, false, LoopbackPeer.frames(null, true)));
        Transport t = closer.add(Transports.create("nio", TransportConfig.defaults()));
        BlockingQueue<Integer> echoes = new ArrayBlockingQueue<>(4);
        Connection c = t.connect(peer.address(), (conn, f) -> echoes.add(TestFrames.check(f, 0)))
                .get(5, TimeUnit.SECONDS);
        Thread.currentThread().interrupt();
        AtomicInteger onCaller = new AtomicInteger();
        Thread caller = Thread.currentThread();
        try {
            c.write(TestFrames.frame(0, 7, 32, false), failure -> onCaller.set(failure == null
                    && Thread.currentThread() == caller ? 1 : -1));
            assertTrue(Thread.currentThread().isInterrupted(), "the write cleared the caller's interrupt");
        } finally {
            Thread.interrupted();
        }
        assertEquals(1, onCaller.get(), "written through by the interrupted caller");
        assertEquals(7, echoes.poll(5, TimeUnit.SECONDS));
        assertTrue(c.isOpen());
    }
}
