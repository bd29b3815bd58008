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

import java.util.concurrent.TimeUnit;

/**
 * The write path alone: the peer discards, and a frame counts once its write listener reported it handed
 * to the kernel; at most {@code window} frames are accepted and not yet completed. {@code blocking} writes
 * a whole window per gathering write.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g", "-XX:+UseParallelGC",
        "--add-opens=java.base/java.nio=ALL-UNNAMED", "--add-opens=java.base/jdk.internal.misc=ALL-UNNAMED",
        "-Dio.netty.tryReflectionSetAccessible=true", "-Dio.netty.leakDetection.level=DISABLED"})
public class OneWayBenchmark {

    @Param({"nio", "netty-nio", "netty-epoll", "netty-io_uring", "blocking"})
    public String transport;

    @Param({"64", "1024", "24576"})
    public int frameSize;

    @Param({"128"})
    public int window;

    private Harness harness;
    private BenchConnection connection;

    @Setup(Level.Trial)
    public void open() throws Exception {
        harness = Harness.open(transport, frameSize, window, 1, true, false);
        connection = harness.connectionsOf(1)[0];
    }

    @TearDown(Level.Iteration)
    public void drain() {
        harness.awaitIdle();
    }

    @TearDown(Level.Trial)
    public void close() throws Exception {
        harness.close();
    }

    /** Frames the transport completed during the iteration, per second. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Written {
        private OneWayBenchmark benchmark;
        private long framesAtStart;

        @Setup(Level.Iteration)
        public void start(OneWayBenchmark benchmark) {
            this.benchmark = benchmark;
            framesAtStart = benchmark.connection.frames();
        }

        public long frames() {
            return benchmark.connection.frames() - framesAtStart;
        }
    }

    @Benchmark
    public void write(Written written) {
        connection.send();
    }
}
