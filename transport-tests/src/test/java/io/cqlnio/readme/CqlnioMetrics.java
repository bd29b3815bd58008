package io.cqlnio.readme;

// The README's Micrometer bridge, shown there from the tag below to the end of the file (ReadmeTest compares them).
// tag::micrometer[]
import io.cqlnio.spi.Transport;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;

/** A transport's counters as Micrometer meters: {@code new CqlnioMetrics(transport).bindTo(registry)}. */
public final class CqlnioMetrics implements MeterBinder {
    private final Transport transport;

    public CqlnioMetrics(Transport transport) {
        this.transport = transport;   // Micrometer holds it weakly: keep your own reference while it runs
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        FunctionCounter.builder("cqlnio.frames.written", transport, t -> t.stats().framesWritten()).register(registry);
        FunctionCounter.builder("cqlnio.short.writes", transport, t -> t.stats().shortWrites()).register(registry);
        Gauge.builder("cqlnio.pending.bytes", transport, t -> t.stats().pendingBytes()).register(registry);
        Gauge.builder("cqlnio.loop.busy", transport, t -> t.stats().busyRatio()).register(registry);
    }
}
// end::micrometer[]
