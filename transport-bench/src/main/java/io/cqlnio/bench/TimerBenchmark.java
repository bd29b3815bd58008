package io.cqlnio.bench;

import io.cqlnio.spi.Cancellable;
import io.cqlnio.spi.Connection;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Request timeouts as a driver uses them: with {@code outstanding} long timers already pending on the loop,
 * one operation is a schedule of a 12-second timeout plus its cancel (the response came), both on the loop
 * thread, as a driver's onFrame does. Through the SPI, so {@code nio}'s 4-ary heap is measured against
 * Netty's event-loop scheduler (a binary heap of ScheduledFutureTask) on the same terms.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g", "-XX:+UseParallelGC",
        "--add-opens=java.base/java.nio=ALL-UNNAMED", "-Dio.netty.tryReflectionSetAccessible=true"})
public class TimerBenchmark {

    private static final int BATCH = 1000;

    @Param({"nio", "netty-nio"})
    public String transport;

    @Param({"100000"})
    public int outstanding;

    private EchoPeer peer;
    private Transport t;
    private Connection connection;
    private Cancellable[] background;
    private final Cancellable[] batch = new Cancellable[BATCH];
    private final Runnable noop = () -> { };
    private Runnable scheduleAndCancel;

    @Setup(Level.Trial)
    public void open() throws Exception {
        peer = EchoPeer.start(EchoPeer.Mode.DISCARD);
        t = Transports.create(transport, TransportConfig.defaults());
        connection = t.connect(peer.address(), (c, f) -> { }).get(5, TimeUnit.SECONDS);
        background = new Cancellable[outstanding];
        onLoop(() -> {
            for (int i = 0; i < outstanding; i++) {
                // 60 to 160 s out: none fires during the run, so the heap stays this deep.
                background[i] = connection.schedule(noop, 60_000 + i % 3_600_000, TimeUnit.MILLISECONDS);
            }
        });
        scheduleAndCancel = () -> {
            for (int i = 0; i < BATCH; i++) {
                batch[i] = connection.schedule(noop, 12, TimeUnit.SECONDS);
            }
            for (int i = 0; i < BATCH; i++) {
                batch[i].cancel();
            }
        };
    }

    private void onLoop(Runnable task) throws Exception {
        CompletableFuture<Void> done = new CompletableFuture<>();
        connection.execute(() -> {
            try {
                task.run();
                done.complete(null);
            } catch (Throwable e) {
                done.completeExceptionally(e);
            }
        });
        done.get(60, TimeUnit.SECONDS);
    }

    /** Per operation: one schedule plus one cancel, on the loop, with {@code outstanding} timers pending. */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void scheduleThenCancel() throws Exception {
        onLoop(scheduleAndCancel);
    }

    @TearDown(Level.Trial)
    public void close() throws Exception {
        onLoop(() -> {
            for (Cancellable c : background) {
                c.cancel();
            }
        });
        t.close();
        peer.close();
    }
}
