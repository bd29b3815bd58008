package io.cqlnio.bench;

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
 * One frame outstanding on one connection: the time from {@code write} on the JMH thread to the echo's
 * arrival in the handler, with the JMH thread woken by the loop (spin briefly, then park). Sampled, so
 * p50/p99/p99.9 come out of JMH. {@code blocking} writes and then reads the echo on the JMH thread itself:
 * no loop, no wakeup, the floor.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g", "-XX:+UseParallelGC",
        "--add-opens=java.base/java.nio=ALL-UNNAMED", "--add-opens=java.base/jdk.internal.misc=ALL-UNNAMED",
        "-Dio.netty.tryReflectionSetAccessible=true", "-Dio.netty.leakDetection.level=DISABLED"})
public class LatencyBenchmark {

    @Param({"nio", "netty-nio", "netty-epoll", "netty-io_uring", "blocking"})
    public String transport;

    @Param({"64", "1024", "24576"})
    public int frameSize;

    /** TLS to the echo peer, as in {@code ThroughputBenchmark.tls}; not for {@code blocking}. */
    @Param({"false", "true"})
    public boolean tls;

    private Harness harness;
    private BenchConnection connection;

    @Setup(Level.Trial)
    public void open() throws Exception {
        harness = Harness.open(transport, frameSize, 1, 1, false, true, tls);
        connection = harness.connectionsOf(1)[0];
    }

    @TearDown(Level.Trial)
    public void close() throws Exception {
        harness.close();
    }

    @Benchmark
    public void roundTrip() {
        connection.send();
        connection.awaitIdle();
    }
}
