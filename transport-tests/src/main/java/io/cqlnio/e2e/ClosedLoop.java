package io.cqlnio.e2e;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;

/**
 * A fixed number of requests in flight, each refilled from its own completion: {@code inFlight} slots, each
 * issuing its next request on the thread that completed the last one (a transport's loop thread, or the driver's
 * Netty I/O thread), as a pipelined client does. A warm-up, then a measured window, then the slots drain.
 *
 * <p>Latency is each request's service time, from just before {@code issue} to its completion, recorded in an
 * HdrHistogram {@link Recorder} (3 significant digits) for the requests completed inside the window. A closed
 * loop has no intended start times, so it cannot omit any: a slow response delays the next request of its slot
 * and lowers the throughput instead of hiding in the latency. To show what a client with an arrival schedule would
 * have seen, the result also holds percentiles corrected with HdrHistogram's
 * {@link Histogram#copyCorrectedForCoordinatedOmission(long)}, the expected interval being a slot's mean service
 * time ({@code inFlight} / throughput, Little's law).
 *
 * <p>A failed request ends its slot (no retry: a failing connection would otherwise spin); the result counts it.
 * Threads: {@link #run} on one thread; completions on any.
 */
final class ClosedLoop {

    private static final long DRAIN_TIMEOUT_MS = 30_000;

    private final Issuer issuer;
    private final Workload workload;
    private final int inFlight;
    private final Recorder recorder = new Recorder(3);
    private final AtomicLong sequence = new AtomicLong();
    private final LongAdder issued = new LongAdder();
    private final LongAdder succeeded = new LongAdder();
    private final LongAdder failed = new LongAdder();
    private final LongAdder inWindow = new LongAdder();
    /** Requests issued and not yet completed: never above {@link #inFlight}, checked on every issue. */
    private final AtomicInteger outstanding = new AtomicInteger();
    private final AtomicInteger mostOutstanding = new AtomicInteger();
    private final AtomicReference<Throwable> firstFailure = new AtomicReference<>();
    private final CountDownLatch slotsEnded;
    private volatile boolean measuring;
    private volatile boolean stopping;

    ClosedLoop(Issuer issuer, Workload workload, int inFlight) {
        this.issuer = issuer;
        this.workload = workload;
        this.inFlight = inFlight;
        this.slotsEnded = new CountDownLatch(inFlight);
    }

    /** Runs the cell; the fields of the returned map are listed in {@code docs/BENCHMARKS.md}. */
    Map<String, String> run(long warmupMs, long measureMs, WindowMeter meter) throws InterruptedException {
        WindowMeter.Snapshot start;
        WindowMeter.Snapshot end;
        try {
            for (int i = 0; i < inFlight; i++) {
                fire();
            }
            Thread.sleep(warmupMs);   // a timed window, not a wait for something to happen
            start = meter.snapshot();
            recorder.reset();
            inWindow.reset();
            measuring = true;
            Thread.sleep(measureMs);
            measuring = false;
            end = meter.snapshot();
        } finally {
            stopping = true;   // whatever happened, no slot goes on issuing into the next cell
        }
        Histogram latency = recorder.getIntervalHistogram();
        long completedInWindow = inWindow.sum();
        boolean drained = slotsEnded.await(DRAIN_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        WindowMeter.Window w = end.minus(start);
        return result(w, latency, completedInWindow, drained);
    }

    private void fire() {
        long n = sequence.getAndIncrement();
        issued.increment();
        int now = outstanding.incrementAndGet();
        if (mostOutstanding.getAndAccumulate(now, Math::max) < now && now > inFlight) {
            // A harness bug, not a measurement: say where the extra request came from (the result fails the cell).
            new IllegalStateException(now + " requests outstanding, bound " + inFlight).printStackTrace();
        }
        long started = System.nanoTime();
        issuer.issue(workload.key(n), failure -> completed(started, failure));
    }

    private void completed(long started, Throwable failure) {
        long latency = System.nanoTime() - started;
        outstanding.decrementAndGet();
        if (failure != null) {
            failed.increment();
            firstFailure.compareAndSet(null, failure);
            slotsEnded.countDown();
            return;
        }
        succeeded.increment();
        if (measuring) {
            recorder.recordValue(latency);
            inWindow.increment();
        }
        if (stopping) {
            slotsEnded.countDown();
        } else {
            fire();
        }
    }

    private Map<String, String> result(WindowMeter.Window w, Histogram latency, long completed, boolean drained) {
        double seconds = w.wallNanos() / 1e9;
        double perSecond = completed / seconds;
        long expectedInterval = completed == 0 ? 0 : Math.max(1, (long) (inFlight / perSecond * 1e9));
        Histogram corrected = expectedInterval > 0 ? latency.copyCorrectedForCoordinatedOmission(expectedInterval)
                : latency;
        long per = Math.max(1, completed);
        Map<String, String> m = new LinkedHashMap<>();
        m.put("windowMs", fmt(w.wallNanos() / 1e6));
        m.put("completed", Long.toString(completed));
        m.put("issued", Long.toString(issued.sum()));
        m.put("succeeded", Long.toString(succeeded.sum()));
        m.put("failed", Long.toString(failed.sum()));
        m.put("drained", Boolean.toString(drained));
        m.put("mostOutstanding", Integer.toString(mostOutstanding.get()));
        m.put("rps", fmt(perSecond));
        m.put("p50Us", micros(latency.getValueAtPercentile(50)));
        m.put("p99Us", micros(latency.getValueAtPercentile(99)));
        m.put("p999Us", micros(latency.getValueAtPercentile(99.9)));
        m.put("maxUs", micros(latency.getMaxValue()));
        m.put("meanUs", fmt(latency.getMean() / 1e3));
        m.put("p99CorrectedUs", micros(corrected.getValueAtPercentile(99)));
        m.put("p999CorrectedUs", micros(corrected.getValueAtPercentile(99.9)));
        m.put("cpuUsPerReq", fmt(w.cpuNanos() / 1e3 / per));
        m.put("allocBytesPerReq", fmt((double) w.allocatedBytes() / per));
        m.put("nodeCpuUsPerReq", fmt(w.nodeCpuNanos() / 1e3 / per));
        m.put("clientCpuUtil", fmt(w.cpuNanos() / (double) w.wallNanos()));
        m.put("nodeCpuUtil", fmt(w.nodeCpuNanos() / (double) w.wallNanos()));
        Throwable f = firstFailure.get();
        if (f != null) {
            m.put("firstFailure", String.valueOf(f).replaceAll("[\\s=]+", "_"));
        }
        return m;
    }

    private static String micros(long nanos) {
        return fmt(nanos / 1e3);
    }

    private static String fmt(double v) {
        return String.format(java.util.Locale.ROOT, "%.3f", v);
    }
}
