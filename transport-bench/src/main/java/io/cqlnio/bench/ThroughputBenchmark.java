package io.cqlnio.bench;

import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.BenchmarkParams;

import java.util.concurrent.TimeUnit;

/**
 * Pipelined request/response through the echo peer: each connection keeps up to {@code window} frames
 * outstanding, the JMH thread writes (never the loop), and the frames are counted when they come back.
 * The primary score is frames written per second; the {@code frames} and {@code bytes} counters are what
 * the receiver saw, per second, and are the figures to compare (they differ from the primary score by at
 * most a window per iteration, except for {@code blocking}, whose one operation is one gathering write).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g", "-XX:+UseParallelGC",
        "--add-opens=java.base/java.nio=ALL-UNNAMED", "--add-opens=java.base/jdk.internal.misc=ALL-UNNAMED",
        "-Dio.netty.tryReflectionSetAccessible=true", "-Dio.netty.leakDetection.level=DISABLED"})
public class ThroughputBenchmark {

    @Param({"nio", "netty-nio", "netty-epoll", "netty-io_uring", "blocking"})
    public String transport;

    /** Body bytes; each frame also has the 9-byte header. */
    @Param({"64", "1024", "24576"})
    public int frameSize;

    @Param({"1", "16", "128"})
    public int window;

    @Param({"1", "8"})
    public int connections;

    /**
     * {@code v4}: frames back to back; {@code v5}: protocol v5 segments both ways; {@code v5-lz4}: LZ4-compressed
     * v5 segments both ways (both nio only: the Netty baseline carries v4 framing). Compare with
     * {@code -p transport=nio -p framing=v4,v5,v5-lz4}.
     */
    @Param({"v4"})
    public String framing;

    /**
     * Frame bodies: {@code compressible} (the alphabet over and over) or {@code random} (LZ4 cannot shrink them, so
     * {@code v5-lz4} sends them stored: the cost of trying). Matters only to {@code v5-lz4}.
     */
    @Param({"compressible"})
    public String body;

    /**
     * TLS between the transport and the echo peer (JDK {@code SSLEngine} on the client, {@code SSLServerSocket}
     * on the peer, the same for every transport). Not for {@code blocking}, which has no TLS variant.
     */
    @Param({"false", "true"})
    public boolean tls;

    Harness harness;

    @Setup(Level.Trial)
    public void open() throws Exception {
        harness = Harness.open(transport, frameSize, window, connections, false, false, tls, "random".equals(body));
        if ("v5".equals(framing)) {
            harness.switchFraming(io.cqlnio.spi.Framing.V5_SEGMENTS);
        } else if ("v5-lz4".equals(framing)) {
            harness.switchFraming(io.cqlnio.spi.Framing.V5_SEGMENTS_LZ4);
        }
    }

    @TearDown(Level.Iteration)
    public void drain() {
        harness.awaitIdle(); // the next iteration starts from an empty pipe
    }

    @TearDown(Level.Trial)
    public void close() throws Exception {
        harness.close();
    }

    /** The JMH thread's connections. */
    @State(Scope.Thread)
    public static class Sender {
        Producer producer;

        @Setup(Level.Trial)
        public void assign(ThroughputBenchmark benchmark, BenchmarkParams params) {
            producer = new Producer(benchmark.harness.connectionsOf(params.getThreads()));
        }
    }

    /** What the receiving side counted during the iteration, reported per second. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Received {
        private ThroughputBenchmark benchmark;
        private long framesAtStart;
        private long bytesAtStart;
        private long writeCallsAtStart;
        private long wireBytesAtStart;

        @Setup(Level.Iteration)
        public void start(ThroughputBenchmark benchmark) {
            this.benchmark = benchmark;
            framesAtStart = benchmark.harness.frames();
            bytesAtStart = benchmark.harness.bytes();
            writeCallsAtStart = benchmark.harness.writeCalls();
            wireBytesAtStart = benchmark.harness.wireBytesWritten();
        }

        /** Bytes the transport wrote to the socket (per second): against {@link #bytes()}, what framing costs or saves. */
        public long wireBytes() {
            return benchmark.harness.wireBytesWritten() - wireBytesAtStart;
        }

        /** Write calls the transport made (per second): frames / writeCalls is frames per write call. */
        public long writeCalls() {
            return benchmark.harness.writeCalls() - writeCallsAtStart;
        }

        public long frames() {
            return benchmark.harness.frames() - framesAtStart;
        }

        public long bytes() {
            return benchmark.harness.bytes() - bytesAtStart;
        }
    }

    @Benchmark
    public void roundTrip(Sender sender, Received received) {
        sender.producer.send();
    }
}
