package io.cqlnio.nio;

import io.cqlnio.testkit.FullAcceptQueue;
import io.cqlnio.testkit.TestFrames;
import io.cqlnio.spi.Connection;
import io.cqlnio.spi.FrameHandler;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;
import io.cqlnio.spi.WriteListener;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.SocketOption;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.channels.spi.SelectorProvider;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Races and edge cases of the writer, the loop and the connection lifecycle, each replayed deterministically where
 * the interleaving can be forced (through the package-private seams), with real sockets where it cannot: a claim
 * racing a close, connects ended by a closing transport or failing at once, pause/resume racing a held backlog,
 * the pending-bytes cap, aliased buffers, self-wakeups, the dirty queue, the timer heap, allocation per frame.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class WriterAndLoopRacesTest {

    private static TestWriter writer(long maxPendingBytes) {
        return new TestWriter("review", new WriteEntry.Pool(64), 1 << 30, 1 << 29, 1 << 20, 16,
                maxPendingBytes);
    }

    /**
     * Deterministic replay of the interleaving. Producer A: offer(eA), reads closed == false, [descheduled].
     * Loop: close(): scheduled=1, closed=true, fails eA, scheduled=0, failStragglers() finds the queue empty.
     * Producer A resumes with its claim (CAS on scheduled): it must not keep the schedule of a closed writer.
     * Producer B (passed NioConnection's state check before CLOSED) then enqueues: it must be failed at once.
     */
    @Test
    void aStragglerWhoseClaimRacedTheCloseIsFailedOnce() {
        TestWriter w = writer(0);
        AtomicInteger aFired = new AtomicInteger();
        AtomicInteger bFired = new AtomicInteger();
        // Producer A, up to and including its offer + closed check (its claim is replayed below).
        w.enqueue(TestFrames.frame(0, 0, 8, false), null, f -> aFired.incrementAndGet());
        // The loop closes the writer (abort / peer reset / transport close).
        w.close(new IllegalStateException("aborted"));
        assertEquals(1, aFired.get(), "A failed by close()");
        // Producer A's claim, landing after close() released scheduled.
        assertEquals(0, w.claim(0) & FrameQueue.CLAIMED, "a closed writer must not stay scheduled");
        // Producer B, a straggler: enqueued into the closed writer.
        w.enqueue(TestFrames.frame(0, 1, 8, false), null, f -> bFired.incrementAndGet());
        assertEquals(1, bFired.get(), "straggler B's listener never fired; pendingBytes stuck at "
                + w.pendingBytes());
        assertEquals(0, w.pendingBytes());
    }

    @Test
    void closeWithGraceSettlesAConnectStillInProgress() throws Exception {
        try (FullAcceptQueue listener = new FullAcceptQueue()) {
            Assumptions.assumeTrue(listener.isFull(), "this kernel never dropped a SYN: cannot hold a connect in flight");
            NioTransport t = (NioTransport) Transports.create("nio", TransportConfig.builder()
                    .connectTimeout(Duration.ofSeconds(30)).build());
            CompletableFuture<Connection> connecting = t.connect(listener.address(), (c, f) -> { });
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (t.stats().connections() == 0) { // registered with the loop, in SYN_SENT
                assertTrue(System.nanoTime() < deadline, "the connect never reached the loop");
                Thread.sleep(1);
            }
            t.close(Duration.ofMillis(100));
            // close() has joined the loop: whatever settles the future has run by now.
            assertTrue(connecting.isDone(), "connect future still pending after Transport.close(grace) returned"
                    + " (it would stay so for ever: the connect timer was cancelled)");
        }
    }

    @Test
    void aConnectThatFailsSynchronouslyIsNotCountedAsOpen() throws Exception {
        try (Transport t = Transports.create("nio", TransportConfig.defaults())) {
            for (int i = 0; i < 3; i++) {
                CompletableFuture<Connection> f = t.connect(new InetSocketAddress("224.0.0.1", 9042), (c, fr) -> { });
                try {
                    f.get(5, TimeUnit.SECONDS);
                    Assumptions.abort("connect to a multicast address succeeded?");
                } catch (java.util.concurrent.ExecutionException expected) {
                    Assumptions.assumeTrue(expected.getCause().getMessage().contains("unreachable"),
                            "this host fails the connect asynchronously: " + expected.getCause());
                }
            }
            assertEquals(0, t.stats().connections(), "failed connects are still counted as open connections");
        }
    }

    @Test
    void aResumeRacingAHoldDeliversTheHeldFramesFirst() throws Exception {
        int frameLength = 17; // 9-byte header + 8-byte body (producer, seq)
        int readBuffer = frameLength << 21; // ~35.6 MB: hold() copies it, which makes the window milliseconds wide
        TransportConfig config = TransportConfig.builder().readBufferSize(readBuffer).build();
        for (int attempt = 0; attempt < 20; attempt++) {
            EventLoop loop = new EventLoop("review-loop", config); // not started: this test thread is the loop
            FrameStream stream = new FrameStream(frameLength);
            ScriptedSocketChannel channel = new ScriptedSocketChannel(stream);
            List<Integer> seen = java.util.Collections.synchronizedList(new ArrayList<>()); // ~2M frames: no COW
            List<Throwable> closed = new CopyOnWriteArrayList<>();
            AtomicBoolean pausedNow = new AtomicBoolean();
            AtomicBoolean onReadableDone = new AtomicBoolean();
            Thread loopThread = Thread.currentThread();
            NioConnection[] holder = new NioConnection[1];
            FrameHandler handler = new FrameHandler() {
                @Override
                public void onFrame(Connection connection, ByteBuffer frame) {
                    int seq = TestFrames.check(frame, 0);
                    seen.add(seq);
                    if (seq == 1) {
                        connection.pauseReading();
                        pausedNow.set(true);
                    }
                }

                @Override
                public void onClosed(Connection connection, Throwable causeOrNull) {
                    closed.add(causeOrNull == null ? new Throwable("null") : causeOrNull);
                }
            };
            NioConnection c = new NioConnection(loop, loop.resources(), channel, new InetSocketAddress("127.0.0.1", 9042), handler,
                    new CompletableFuture<>());
            holder[0] = c;
            c.finishConnect();
            AtomicBoolean resumedInHold = new AtomicBoolean();
            // "Another thread" (say a driver's backpressure controller) resumes reading right after the pause.
            Thread resumer = new Thread(() -> {
                while (!pausedNow.get()) {
                    Thread.onSpinWait();
                }
                while (!onReadableDone.get()) {
                    for (StackTraceElement e : loopThread.getStackTrace()) {
                        if (e.getClassName().equals(FrameReader.class.getName()) && e.getMethodName().equals("hold")) {
                            holder[0].resumeReading();
                            resumedInHold.set(true);
                            return;
                        }
                    }
                }
            });
            resumer.start();
            c.onSelected(java.nio.channels.SelectionKey.OP_READ); // reads ~35.6 MB, delivers frames 0 and 1, holds the rest
            onReadableDone.set(true);
            resumer.join();
            boolean interestPaused = c.reads().interestPaused();
            if (!resumedInHold.get() || interestPaused) {
                continue; // the resume missed the window this time: try again
            }
            runTasks(loop); // the two applyReadInterest tasks (pause, resume): both find nothing to do
            stream.limitNextRead(frameLength * 100); // 100 more frames arrive
            c.onSelected(java.nio.channels.SelectionKey.OP_READ);
            assertEquals(List.of(), closed, "connection closed");
            for (int i = 0; i < Math.min(seen.size(), 10); i++) {
                assertEquals(i, seen.get(i), "frame order after pause/resume race; held backlog "
                        + c.reads().reader.heldBytes() + " bytes, seen " + seen.subList(0,
                        Math.min(seen.size(), 5)));
            }
            return;
        }
        Assumptions.abort("the resume never landed inside hold() in 20 attempts");
    }

    @Test
    void aFrameOverTheCapFailsAtOnceOnTheCallingThreadOutsideTheOrder() throws Exception {
        // Resolved by contract (WriteListener Javadoc): a refused write was never accepted, so it fails before
        // write() returns and does not take part in the acceptance order of the frames that were accepted.
        TestWriter w = writer(100);
        List<String> events = new ArrayList<>();
        w.enqueue(ByteBuffer.allocate(60), null, f -> events.add(f == null ? "A ok" : "A failed"));
        w.enqueue(ByteBuffer.allocate(60), null, f -> events.add(f == null ? "B ok" : "B failed"));
        assertEquals(List.of("B failed"), events, "the refusal is reported before write() returns");
        assertEquals(60, w.pendingBytes(), "a refused frame is never counted, not even for a moment");
        w.enqueue(ByteBuffer.allocate(30), null, f -> events.add(f == null ? "C ok" : "C failed"));
        w.flush(ScriptedChannel.accepting(1 << 20), new ByteBuffer[16]);
        assertEquals(List.of("B failed", "A ok", "C ok"), events, "accepted frames in acceptance order");
    }

    @Test
    void aliasedPartsEndTheConnectionLoudly() throws Exception {
        TestWriter w = writer(0);
        ScriptedChannel channel = ScriptedChannel.accepting(1 << 20);
        ByteBuffer shared = ByteBuffer.allocate(10);
        AtomicInteger secondOk = new AtomicInteger();
        long[] acceptedWhenSecondSucceeded = {-1};
        w.enqueue(null, new ByteBuffer[]{shared, shared}, f -> { });
        w.enqueue(ByteBuffer.allocate(50), null, f -> {
            secondOk.incrementAndGet();
            acceptedWhenSecondSucceeded[0] = channel.acceptedCount();
        });
        ByteBuffer[] iov = new ByteBuffer[16];
        // The conforming outcome: a loud failure (the connection closes with it), never a silent desync.
        IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, () -> {
            for (int i = 0; i < 5; i++) {
                w.flush(channel, iov);
            }
        });
        assertTrue(e.getMessage().contains("aliased"), e.getMessage());
        assertTrue(secondOk.get() == 0 || acceptedWhenSecondSucceeded[0] >= 60,
                "frame 2 acknowledged after only " + acceptedWhenSecondSucceeded[0] + " bytes");
    }

    @Test
    void writesFromOnFrameNeverWakeTheLoopFromItself() throws Exception {
        // A peer that answers after ~1 ms, as a real node does: the loop is asleep in select when each answer lands.
        try (FramePeer peer = new FramePeer(0, false, true, (i, f) -> sleepQuietly(1));
             Transport t = Transports.create("nio", TransportConfig.defaults())) {
            int rounds = 200;
            AtomicInteger echoes = new AtomicInteger();
            CompletableFuture<Void> done = new CompletableFuture<>();
            Connection c = t.connect(peer.address(), (conn, frame) -> {
                int n = echoes.incrementAndGet();
                if (n < rounds) {
                    conn.write(TestFrames.frame(0, n, 8, false), null); // reply from the loop thread
                } else {
                    done.complete(null);
                }
            }).get(5, TimeUnit.SECONDS);
            c.write(TestFrames.frame(0, 0, 8, false), null); // the only write from a non-loop thread
            done.get(30, TimeUnit.SECONDS);
            long wakeups = c.stats().wakeups();
            assertTrue(wakeups <= 1, wakeups + " selector wakeups for " + rounds
                    + " writes that were all made on the loop thread (but the first)");
        }
    }

    @Test
    void aYieldingConnectionIsInTheDirtyQueueAtMostTwice() throws Exception {
        try (FramePeer peer = new FramePeer(0, true, false, null);
             Transport t = Transports.create("nio", TransportConfig.builder().sendBufferSize(4096)
                     .writeSpinCount(1).maxBuffersPerWrite(1).writeHighWatermark(1L << 40)
                     .writeLowWatermark(1L << 39).build())) {
            Connection c = t.connect(peer.address(), (conn, frame) -> { }).get(5, TimeUnit.SECONDS);
            EventLoop loop = ((NioTransport) t).loops()[0];
            int frames = 200_000;
            for (int i = 0; i < frames; i++) { // the peer is stalled: the first flushes go BLOCKED
                c.write(TestFrames.frame(0, i, 8, false), null);
            }
            RealSocketShortWriteTest.awaitCondition(() -> c.stats().shortWrites() > 0, "a short write");
            peer.release(); // now every write is full and every flush (1 call, 1 frame) yields
            int maxCopies = 0;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (c.pendingBytes() > 0 && System.nanoTime() < deadline) {
                maxCopies = Math.max(maxCopies, loop.dirtyCount());
            }
            assertTrue(maxCopies <= 2, "one connection appeared " + maxCopies + " times in the loop's dirty queue");
        }
    }

    /** TimerHeap against a reference priority queue: random adds, polls and removes from any index. */
    @Test
    void timerHeapMatchesAReferenceUnderRandomRemoves() throws Exception {
        EventLoop loop = new EventLoop("heap-check", TransportConfig.defaults());
        SplittableRandom r = new SplittableRandom(42);
        for (int round = 0; round < 200; round++) {
            TimerHeap heap = new TimerHeap();
            PriorityQueue<LoopTimer> ref = new PriorityQueue<>((a, b) -> Long.signum(a.deadlineNanos - b.deadlineNanos));
            List<LoopTimer> live = new ArrayList<>();
            for (int op = 0; op < 2000; op++) {
                int kind = r.nextInt(10);
                if (kind < 5 || live.isEmpty()) {
                    LoopTimer t = new LoopTimer(loop, heap, Long.MAX_VALUE - 1000 + r.nextInt(2000), () -> { });
                    heap.add(t);
                    ref.add(t);
                    live.add(t);
                } else if (kind < 7) {
                    LoopTimer a = (LoopTimer) heap.poll();
                    LoopTimer b = ref.poll();
                    assertEquals(b.deadlineNanos, a.deadlineNanos);
                    live.remove(a);
                    if (a != b) {
                        ref.remove(a);
                        ref.add(b);
                    }
                    assertEquals(-1, a.heapIndex);
                } else {
                    LoopTimer t = live.remove(r.nextInt(live.size()));
                    heap.remove(t);
                    ref.remove(t);
                    heap.remove(t); // idempotent
                    assertEquals(-1, t.heapIndex);
                }
                assertEquals(ref.size(), heap.size());
                if (!ref.isEmpty()) {
                    assertEquals(ref.peek().deadlineNanos, heap.peek().deadlineNanos);
                }
            }
            for (LoopTimer t : live) {
                assertEquals(t, heapAt(heap, t.heapIndex), "heapIndex bookkeeping");
            }
        }
    }

    /** Steady state, one connection, bursts of 64: enqueue + flush allocate nothing per frame. */
    @Test
    void noAllocationPerFrameInSteadyState() throws Exception {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean)
                java.lang.management.ManagementFactory.getThreadMXBean();
        WriteEntry.Pool pool = new WriteEntry.Pool(8192);
        TestWriter w = new TestWriter("alloc", pool, 1 << 30, 1 << 29, 1 << 20, 16);
        ByteBuffer[] iov = new ByteBuffer[1024];
        java.nio.channels.GatheringByteChannel sink = new NullChannel();
        ByteBuffer[] frames = new ByteBuffer[1024];
        for (int i = 0; i < frames.length; i++) {
            frames[i] = ByteBuffer.allocateDirect(64);
        }
        WriteListener l = f -> { };
        long[] perFrame = new long[2];
        int[] bursts = {64, 1000};
        for (int b = 0; b < bursts.length; b++) {
            int burst = bursts[b];
            for (int warm = 0; warm < 20_000; warm++) {
                cycle(w, frames, burst, l, sink, iov);
            }
            long before = mx.getThreadAllocatedBytes(Thread.currentThread().getId());
            int cycles = 2000;
            for (int i = 0; i < cycles; i++) {
                cycle(w, frames, burst, l, sink, iov);
            }
            long after = mx.getThreadAllocatedBytes(Thread.currentThread().getId());
            perFrame[b] = (after - before) / ((long) cycles * burst);
        }
        System.out.println("bytes allocated per frame: burst 64 -> " + perFrame[0] + ", burst 1000 -> "
                + perFrame[1]);
        assertEquals(0, perFrame[0], "allocation per frame with bursts of 64");
    }

    private static void cycle(TestWriter w, ByteBuffer[] frames, int burst, WriteListener l,
                              java.nio.channels.GatheringByteChannel sink, ByteBuffer[] iov) throws IOException {
        for (int i = 0; i < burst; i++) {
            frames[i].clear();
            w.enqueue(frames[i], null, l);
        }
        while (w.flush(sink, iov) != FrameWriter.Flush.DRAINED) {
            // drain
        }
    }

    private static void sleepQuietly(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static LoopTimer heapAt(TimerHeap heap, int i) {
        return (LoopTimer) heap.at(i);
    }

    private static void runTasks(EventLoop loop) {
        loop.runTasks();
    }

    /** Takes every byte offered. */
    static final class NullChannel implements java.nio.channels.GatheringByteChannel {
        @Override
        public long write(ByteBuffer[] srcs, int offset, int length) {
            long n = 0;
            for (int i = offset; i < offset + length; i++) {
                n += srcs[i].remaining();
                srcs[i].position(srcs[i].limit());
            }
            return n;
        }

        @Override
        public long write(ByteBuffer[] srcs) {
            return write(srcs, 0, srcs.length);
        }

        @Override
        public int write(ByteBuffer src) {
            int n = src.remaining();
            src.position(src.limit());
            return n;
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {
        }
    }

    /** An endless stream of 17-byte CQL-shaped frames (producer 0, seq 0, 1, 2, ...), byte-exact with TestFrames. */
    static final class FrameStream {
        private final int frameLength;
        private long offset;
        private long nextReadLimit = Long.MAX_VALUE;

        FrameStream(int frameLength) {
            this.frameLength = frameLength;
        }

        void limitNextRead(long bytes) {
            nextReadLimit = bytes;
        }

        int read(ByteBuffer dst) {
            long n = Math.min(dst.remaining(), nextReadLimit);
            nextReadLimit = 0;
            for (long i = 0; i < n; i++) {
                dst.put(byteAt(offset++));
            }
            return (int) n;
        }

        private byte byteAt(long g) {
            int seq = (int) (g / frameLength);
            int idx = (int) (g % frameLength);
            switch (idx) {
                case 0: return 0x04;
                case 4: return 0x07;
                case 8: return (byte) (frameLength - TestFrames.HEADER);
                default:
                    if (idx >= 13) {
                        return (byte) (seq >>> (8 * (16 - idx)));
                    }
                    return 0; // flags, stream id, length high bytes, producer 0
            }
        }
    }

    /** A connected SocketChannel whose reads come from a script: lets this test thread play the loop. */
    static final class ScriptedSocketChannel extends SocketChannel {
        private final FrameStream stream;
        private final NullChannel sink = new NullChannel();

        ScriptedSocketChannel(FrameStream stream) {
            super(SelectorProvider.provider());
            this.stream = stream;
        }

        @Override
        public int read(ByteBuffer dst) {
            return stream.read(dst);
        }

        @Override
        public long read(ByteBuffer[] dsts, int offset, int length) {
            throw new UnsupportedOperationException();
        }

        @Override
        public int write(ByteBuffer src) {
            return sink.write(src);
        }

        @Override
        public long write(ByteBuffer[] srcs, int offset, int length) {
            return sink.write(srcs, offset, length);
        }

        @Override
        public SocketChannel bind(SocketAddress local) {
            return this;
        }

        @Override
        public <T> SocketChannel setOption(SocketOption<T> name, T value) {
            return this;
        }

        @Override
        public <T> T getOption(SocketOption<T> name) {
            return null;
        }

        @Override
        public Set<SocketOption<?>> supportedOptions() {
            return Set.of();
        }

        @Override
        public SocketChannel shutdownInput() {
            return this;
        }

        @Override
        public SocketChannel shutdownOutput() {
            return this;
        }

        @Override
        public Socket socket() {
            throw new UnsupportedOperationException();
        }

        @Override
        public boolean isConnected() {
            return true;
        }

        @Override
        public boolean isConnectionPending() {
            return false;
        }

        @Override
        public boolean connect(SocketAddress remote) {
            return true;
        }

        @Override
        public boolean finishConnect() {
            return true;
        }

        @Override
        public SocketAddress getRemoteAddress() {
            return new InetSocketAddress("127.0.0.1", 9042);
        }

        @Override
        public SocketAddress getLocalAddress() {
            return new InetSocketAddress("127.0.0.1", 40000);
        }

        @Override
        protected void implCloseSelectableChannel() {
        }

        @Override
        protected void implConfigureBlocking(boolean block) {
        }
    }
}
