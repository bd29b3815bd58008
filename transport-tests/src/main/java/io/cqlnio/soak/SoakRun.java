package io.cqlnio.soak;

import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * One soak run against an echo peer: opens the connections, lets the {@link Writer} keep frames flowing on all of
 * them, and on the control thread (the caller's) every second ends a few random connections (some with
 * {@code close()}, some with {@code abort(cause)}) and opens replacements, and every sample interval takes a
 * {@link Sample}. At the end it stops writing, waits for every outstanding echo, closes every connection gracefully,
 * closes the transport and judges the run ({@link Verdict}).
 */
final class SoakRun {

    /** How long the end of the run may take to drain echoes, and then to close everything. */
    private static final long END_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(20);

    /** What {@link #run} found. */
    record Result(List<Sample> samples, Tally tally, Verdict verdict, long poolBytes) {
    }

    /** The cause every runner-chosen abort gives; no stack trace, there are thousands. */
    static final class SoakAbort extends RuntimeException {
        SoakAbort(long n) {
            super("soak abort #" + n, null, false, false);
        }
    }

    private final SoakSettings settings;
    private final InetSocketAddress peer;
    private final Consumer<Sample> onSample;
    private final Tally tally = new Tally();
    private final Map<Long, SoakConnection> live = new ConcurrentHashMap<>();
    private final AtomicInteger connecting = new AtomicInteger();
    private final SplittableRandom random;
    private FramePool pool;
    private Writer writer;
    private Transport transport;
    private long nextId;
    private long aborts;

    SoakRun(SoakSettings settings, InetSocketAddress peer, Consumer<Sample> onSample) {
        this.settings = settings;
        this.peer = peer;
        this.onSample = onSample;
        this.random = new SplittableRandom(settings.seed());
    }

    Result run() throws Exception {
        pool = FramePool.forFramesInFlight(settings.connections() * settings.window());
        writer = new Writer(settings.window());
        writer.start();
        transport = Transports.create(settings.transport(), TransportConfig.builder().loops(settings.loops())
                // A graceful close must deliver every echo: give a peer slowed by a busy machine ample time.
                .closeDrainTimeout(Duration.ofSeconds(30)).build());
        List<Sample> samples = new ArrayList<>();
        long unechoedAtEnd;
        try {
            open(settings.connections());
            await("the first connections to open", () -> connecting.get() == 0);

            long start = System.nanoTime();
            long end = start + settings.duration().toNanos();
            long every = settings.sampleEvery().toNanos();
            long nextSample = start + every;
            long nextChurn = start + TimeUnit.SECONDS.toNanos(1);
            Sampler sampler = new Sampler(transport, tally, start);
            while (true) {
                long now = System.nanoTime();
                // The sample before the churn due at the same second, and without the closed connections the
                // runner still lists (each holds its transport connection, and so its read buffers): every sample
                // then sees the same thing, 200 open connections, the youngest a second old, and none closed.
                if (now - nextSample >= 0) {
                    live.values().removeIf(SoakConnection::isClosed);
                    Sample s = sampler.take();
                    samples.add(s);
                    onSample.accept(s);
                    nextSample += every;
                }
                if (now - nextChurn >= 0 && now - end < 0) {
                    churn();
                    nextChurn += TimeUnit.SECONDS.toNanos(1);
                }
                if (now - end >= 0 && nextSample - end > 0) {
                    break;
                }
                long wait = (now - end < 0 ? Math.min(nextChurn, nextSample) : nextSample) - System.nanoTime();
                if (wait > 0) {
                    TimeUnit.NANOSECONDS.sleep(wait);
                }
            }

            // The end: no new frame, every echo back, then every connection closed gracefully.
            writer.stopWriting();
            await("the replacements still connecting", () -> connecting.get() == 0);
            awaitQuietly(() -> live.values().stream().filter(c -> !c.isEnded() && !c.isClosed())
                    .allMatch(c -> c.outstanding() == 0));
            unechoedAtEnd = live.values().stream().filter(c -> !c.isEnded() && !c.isClosed())
                    .mapToLong(SoakConnection::outstanding).sum();
            for (SoakConnection c : live.values()) {
                if (!c.isEnded() && !c.isClosed()) {
                    c.endByClose();
                }
            }
            await("onClosed for every connection", () -> tally.closedOnce.sum() >= tally.opened.sum());
        } finally {
            writer.stop();
            transport.close();
        }
        Verdict verdict = new Verdict(samples, settings.duration().toNanos() / 1e9 * settings.warmup(), tally,
                unechoedAtEnd, Verdict.Limits.DEFAULT);
        return new Result(samples, tally, verdict, pool.bytes());
    }

    /** Ends {@code closes} + {@code aborts} random connections the runner has not ended yet, then tops up. */
    private void churn() {
        live.values().removeIf(SoakConnection::isClosed);
        List<SoakConnection> candidates = new ArrayList<>();
        for (SoakConnection c : live.values()) {
            if (!c.isEnded()) {
                candidates.add(c);
            }
        }
        for (int i = 0; i < settings.closes() + settings.aborts() && !candidates.isEmpty(); i++) {
            int pick = random.nextInt(candidates.size());
            SoakConnection c = candidates.get(pick);
            candidates.set(pick, candidates.get(candidates.size() - 1));
            candidates.remove(candidates.size() - 1);
            if (i < settings.closes()) {
                c.endByClose();
            } else {
                c.endByAbort(new SoakAbort(++aborts));
            }
        }
        open(settings.connections() - candidates.size() - connecting.get());
    }

    private void open(int n) {
        for (int i = 0; i < n; i++) {
            long id = nextId++;
            SoakConnection c = new SoakConnection(id, FrameShape.mix(settings.seed() * 31 + id), tally, pool,
                    writer::wake);
            connecting.incrementAndGet();
            transport.connect(peer, c).whenComplete((connection, failure) -> {
                if (failure != null) {
                    tally.violation("connect failed: " + Tally.name(failure), "connection " + id + ": " + failure);
                } else {
                    tally.opened.increment();
                    c.attach(connection);
                    live.put(id, c);
                    writer.add(c);
                }
                connecting.decrementAndGet();
            });
        }
    }

    /** Waits for {@code done}, polling; fails the run if it takes longer than {@link #END_TIMEOUT_NANOS}. */
    private static void await(String what, BooleanSupplier done) throws InterruptedException, TimeoutException {
        if (!awaitQuietly(done)) {
            throw new TimeoutException("gave up waiting for " + what);
        }
    }

    private static boolean awaitQuietly(BooleanSupplier done) throws InterruptedException {
        long deadline = System.nanoTime() + END_TIMEOUT_NANOS;
        while (!done.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                return false;
            }
            TimeUnit.MILLISECONDS.sleep(10);
        }
        return true;
    }
}
