package io.cqlnio.bench;

import io.cqlnio.spi.Connection;
import io.cqlnio.spi.FrameHandler;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;
import io.cqlnio.spi.WriteListener;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.io.IOException;
import java.lang.ref.Reference;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Heap per connection of one transport: opens N connections to a peer in a child JVM ({@link FootprintPeer},
 * so none of the peer's state is counted) and measures the live heap after full GCs at four points:
 * <ol>
 * <li><b>base</b>: the transport created and warmed up (a few connections opened, written on, closed);</li>
 * <li><b>idle</b>: N connections open, nothing written;</li>
 * <li><b>written</b>: one 1 KiB frame written on each and its listener told success;</li>
 * <li><b>pending</b>: the peer stops reading; each connection is given a 256 KiB filler frame and then a
 * 1 KiB frame: the filler fills the kernel buffers and stays partly written at the head, the 1 KiB frame
 * waits behind it (neither listener has run when the heap is measured).</li>
 * </ol>
 * Per-connection bytes = (heap(phase) - heap(base)) / N. Every object the runner itself needs per connection
 * (the connection array, every frame's ByteBuffer view, one shared listener and handler) exists before
 * <b>base</b>, so the difference is the transport's alone. The class histogram diff says where the bytes are;
 * the raw histograms ({@code base.txt}, {@code idle.txt}, {@code written.txt}, {@code pending.txt}) stay in
 * {@code --histograms DIR} (default: a new temporary directory).
 *
 * <pre>
 * java -Xms1g -Xmx1g -XX:+UseParallelGC --add-opens=java.base/java.nio=ALL-UNNAMED \
 *      --add-opens=java.base/jdk.internal.misc=ALL-UNNAMED -Dio.netty.tryReflectionSetAccessible=true \
 *      -Dio.netty.leakDetection.level=DISABLED \
 *      -cp transport-bench/target/benchmarks.jar io.cqlnio.bench.FootprintRunner \
 *      --transport nio --connections 2000 [--top 12] [--label run1] [--md FILE] [--histograms DIR]
 * </pre>
 * One transport and one N per JVM (a second round in the same JVM would start from the pools the first one
 * grew). {@code scripts/footprint.sh} runs the grid. Needs {@code ulimit -n} above N + a few hundred.
 */
public final class FootprintRunner {

    static final int FRAME_BODY = 1024;
    static final int FILLER_BODY = 256 * 1024;
    /** Small, so a paused peer's connection holds a few KiB in the kernel; the heap does not depend on it. */
    static final int SEND_BUFFER = 16 * 1024;
    private static final int CONNECT_BATCH = 200;
    private static final int WARMUP_CONNECTIONS = 16;
    private static final long TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(120);

    private FootprintRunner() {
    }

    public static void main(String[] args) throws Exception {
        String transportName = "nio";
        int n = 2000;
        int top = 12;
        String label = "";
        Path markdown = null;
        Path histogramDir = null;
        for (int i = 0; i < args.length; i++) {
            String value = i + 1 < args.length ? args[i + 1] : null;
            switch (args[i]) {
                case "--transport": transportName = value; i++; break;
                case "--connections": n = Integer.parseInt(value); i++; break;
                case "--top": top = Integer.parseInt(value); i++; break;
                case "--label": label = value; i++; break;
                case "--md": markdown = Path.of(value); i++; break;
                case "--histograms": histogramDir = Path.of(value); i++; break;
                default: throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        Path histograms = histogramDir != null ? histogramDir : Files.createTempDirectory("footprint-");
        Files.createDirectories(histograms);
        String report = new Run(transportName, n, top, label, histograms).call();
        System.out.println(report);
        if (markdown != null) {
            Files.writeString(markdown, report + "\n", StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        }
        System.exit(0);
    }

    /** One measurement: one transport, N connections. */
    static final class Run {
        private final String transportName;
        private final int n;
        private final int top;
        private final String label;

        private final AtomicInteger succeeded = new AtomicInteger();
        private final AtomicInteger failed = new AtomicInteger();
        private final AtomicInteger closed = new AtomicInteger();
        private final AtomicInteger framesIn = new AtomicInteger();
        /** One listener for every frame: no per-frame or per-connection object of the runner's own. */
        private final WriteListener listener = failure -> (failure == null ? succeeded : failed).incrementAndGet();
        private final FrameHandler handler = new FrameHandler() {
            @Override
            public void onFrame(Connection connection, ByteBuffer frame) {
                framesIn.incrementAndGet();
            }

            @Override
            public void onClosed(Connection connection, Throwable causeOrNull) {
                closed.incrementAndGet();
            }
        };

        private final Path histograms;

        Run(String transportName, int n, int top, String label, Path histograms) {
            this.histograms = histograms;
            this.transportName = transportName;
            this.n = n;
            this.top = top;
            this.label = label;
        }

        String call() throws Exception {
            TransportConfig config = Harness.CONFIG.toBuilder().sendBufferSize(SEND_BUFFER).build();
            // Everything the runner holds per connection, allocated before the base snapshot.
            ByteBuffer frame = Frames.newFrame(1, FRAME_BODY);
            ByteBuffer filler = Frames.newFrame(2, FILLER_BODY);
            ByteBuffer[] written = views(frame, n);
            ByteBuffer[] fillers = views(filler, n);
            ByteBuffer[] pending = views(frame, n);
            ByteBuffer[] warmup = views(frame, WARMUP_CONNECTIONS);
            Connection[] connections = new Connection[n];
            List<CompletableFuture<Connection>> batch = new ArrayList<>(CONNECT_BATCH);

            try (FootprintPeer.Handle peer = FootprintPeer.launch();
                 Transport transport = Transports.create(transportName, config)) {
                warmUp(transport, peer, warmup, batch);
                HeapSnapshot.warmUp();
                HeapSnapshot base = HeapSnapshot.take(histograms.resolve("base.txt"));

                for (int i = 0; i < n; i += CONNECT_BATCH) {
                    int end = Math.min(n, i + CONNECT_BATCH);
                    for (int j = i; j < end; j++) {
                        batch.add(transport.connect(peer.address(), handler));
                    }
                    for (int j = i; j < end; j++) {
                        connections[j] = batch.get(j - i).get(60, TimeUnit.SECONDS);
                    }
                    batch.clear();
                }
                HeapSnapshot idle = HeapSnapshot.take(histograms.resolve("idle.txt"));

                for (int i = 0; i < n; i++) {
                    connections[i].write(written[i], listener);
                }
                await(() -> succeeded.get() + failed.get() >= WARMUP_CONNECTIONS + n, "written frames");
                check(failed.get() == 0, "writes failed: " + failed.get());
                HeapSnapshot afterWrite = HeapSnapshot.take(histograms.resolve("written.txt"));

                peer.pause();
                for (int i = 0; i < n; i++) {
                    connections[i].write(fillers[i], listener);
                    connections[i].write(pending[i], listener);
                }
                awaitStalled(connections);
                check(succeeded.get() == WARMUP_CONNECTIONS + n && failed.get() == 0,
                        "a filler or pending frame completed: succeeded " + succeeded.get() + ", failed " + failed.get());
                HeapSnapshot stalled = HeapSnapshot.take(histograms.resolve("pending.txt"));
                check(closed.get() == WARMUP_CONNECTIONS, "connections closed under us: " + closed.get());

                // Compiled code may drop a local after its last use; the runner's objects must outlive every
                // snapshot, or the later phases would be measured without some of what the base counted.
                Reference.reachabilityFence(written);
                Reference.reachabilityFence(fillers);
                Reference.reachabilityFence(pending);
                Reference.reachabilityFence(warmup);
                Reference.reachabilityFence(connections);
                Reference.reachabilityFence(frame);
                Reference.reachabilityFence(filler);
                return report(base, idle, afterWrite, stalled);
            }
        }

        /** Loads the classes and fills the loop-wide pools the way the measured connections will use them. */
        private void warmUp(Transport transport, FootprintPeer.Handle peer, ByteBuffer[] frames,
                            List<CompletableFuture<Connection>> batch) throws Exception {
            for (int i = 0; i < frames.length; i++) {
                batch.add(transport.connect(peer.address(), handler));
            }
            List<Connection> opened = new ArrayList<>();
            for (CompletableFuture<Connection> f : batch) {
                opened.add(f.get(60, TimeUnit.SECONDS));
            }
            batch.clear();
            for (int i = 0; i < frames.length; i++) {
                opened.get(i).write(frames[i], listener);
            }
            await(() -> succeeded.get() + failed.get() >= frames.length, "warm-up frames");
            for (Connection c : opened) {
                c.close().get(60, TimeUnit.SECONDS);
            }
            await(() -> closed.get() >= frames.length, "warm-up closes");
        }

        /** Until no connection has moved a byte for a second: every filler is stuck behind a full kernel buffer. */
        private void awaitStalled(Connection[] connections) throws InterruptedException {
            long deadline = System.nanoTime() + TIMEOUT_NANOS;
            long previous = -1;
            int stableRounds = 0;
            while (stableRounds < 5) {
                check(System.nanoTime() < deadline, "pending bytes never settled");
                TimeUnit.MILLISECONDS.sleep(200);
                long sum = 0;
                for (Connection c : connections) {
                    long p = c.pendingBytes();
                    check(p > FRAME_BODY, "a connection has no frame pending: " + p + " bytes");
                    sum += p + c.stats().bytesWritten();
                }
                stableRounds = sum == previous ? stableRounds + 1 : 0;
                previous = sum;
            }
        }

        private String report(HeapSnapshot base, HeapSnapshot idle, HeapSnapshot written, HeapSnapshot stalled)
                throws IOException {
            StringBuilder out = new StringBuilder();
            String name = transportName + (label.isEmpty() ? "" : " (" + label + ")");
            out.append(String.format(Locale.ROOT, "%n#### %s, %,d connections%n%n", name, n));
            out.append("| transport | N | base heap | idle B/conn | 1 KiB written B/conn | frames pending B/conn |"
                    + " histogram check (idle / written / pending) |\n");
            out.append("| --- | ---: | ---: | ---: | ---: | ---: | --- |\n");
            out.append(String.format(Locale.ROOT, "| %s | %,d | %.1f MB | %,d | %,d | %,d | %,d / %,d / %,d |%n",
                    name, n, base.heapUsed / 1e6,
                    perConnection(idle.heapUsed - base.heapUsed), perConnection(written.heapUsed - base.heapUsed),
                    perConnection(stalled.heapUsed - base.heapUsed),
                    perConnection(idle.histogramBytes() - base.histogramBytes()),
                    perConnection(written.histogramBytes() - base.histogramBytes()),
                    perConnection(stalled.histogramBytes() - base.histogramBytes())));
            out.append(String.format(Locale.ROOT, "%nWhere the bytes are (class histogram growth over base, "
                    + "bytes per connection, instances per connection in brackets; top %d of each phase):%n%n", top));
            out.append("| class | idle | written | pending |\n| --- | ---: | ---: | ---: |\n");
            Set<String> names = new LinkedHashSet<>();
            for (HeapSnapshot s : List.of(written, idle, stalled)) {
                for (HeapSnapshot.Growth g : s.growthSince(base, top)) {
                    names.add(g.className());
                }
            }
            List<String> sorted = new ArrayList<>(names);
            Map<String, Long> writtenGrowth = new HashMap<>();
            for (String className : sorted) {
                writtenGrowth.put(className, written.growthOf(className, base)[1]);
            }
            sorted.sort((a, b) -> Long.compare(writtenGrowth.get(b), writtenGrowth.get(a)));
            for (String className : sorted) {
                out.append("| `").append(className).append("` | ").append(cell(idle.growthOf(className, base)))
                        .append(" | ").append(cell(written.growthOf(className, base))).append(" | ")
                        .append(cell(stalled.growthOf(className, base))).append(" |\n");
            }
            return out.toString();
        }

        private String cell(long[] growth) {
            return String.format(Locale.ROOT, "%,d (%.2f)", perConnection(growth[1]), growth[0] / (double) n);
        }

        private long perConnection(long bytes) {
            return Math.round(bytes / (double) n);
        }

        private static ByteBuffer[] views(ByteBuffer frame, int count) {
            ByteBuffer[] views = new ByteBuffer[count];
            for (int i = 0; i < count; i++) {
                views[i] = frame.duplicate();
            }
            return views;
        }

        private static void await(Condition condition, String what) throws InterruptedException {
            long deadline = System.nanoTime() + TIMEOUT_NANOS;
            while (!condition.met()) {
                check(System.nanoTime() < deadline, "timed out waiting for " + what);
                TimeUnit.MILLISECONDS.sleep(10);
            }
        }

        private static void check(boolean condition, String message) {
            if (!condition) {
                throw new IllegalStateException(message);
            }
        }
    }

    @FunctionalInterface
    private interface Condition {
        boolean met();
    }
}
