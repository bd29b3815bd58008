package io.cqlnio.soak;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/**
 * The soak (issue 16): many connections over a few loops against an echo peer in a child JVM, mixed frame sizes,
 * connections closed, aborted and replaced every second, every frame's echo and every outcome checked, and the
 * process's heap after GC, direct and mapped buffers, descriptors, threads and the loops' busy time sampled; it
 * fails (exit status 1) if any of them grows or anything is lost. See {@link Verdict} for the criterion.
 *
 * <pre>
 * scripts/soak.sh --duration 10m --csv transport-tests/results/soak.csv     # by hand (builds, then runs nice'd)
 * java -cp ... io.cqlnio.soak.SoakMain --duration 60s --sample 2s           # what SoakIT runs in mvn verify
 * </pre>
 *
 * Options (all {@code --name value}, defaults in brackets): {@code transport} [nio], {@code duration} [10m],
 * {@code connections} [200], {@code loops} [2], {@code window} [4] frames outstanding per connection,
 * {@code closes} [3] and {@code aborts} [3] per second, {@code sample} [5s], {@code warmup} [0.2] of the run,
 * {@code csv} [none], {@code seed} [16].
 *
 * <p>Prints one line per sample, then a summary (counts, outcomes by cause, min/max per metric, the growth
 * judgement) and {@code soak: PASS} or {@code soak: FAIL ...} last.
 */
public final class SoakMain {

    private SoakMain() {
    }

    public static void main(String[] args) throws Exception {
        SoakSettings settings = SoakSettings.parse(args);
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        out.println("soak: " + settings + "; java " + System.getProperty("java.vm.version") + ", "
                + Runtime.getRuntime().availableProcessors() + " cpus, jvm args "
                + ManagementFactory.getRuntimeMXBean().getInputArguments() + ", load average "
                + ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
        Writer csv = null;
        if (settings.csv() != null) {
            if (settings.csv().getParent() != null) {
                Files.createDirectories(settings.csv().getParent());
            }
            csv = Files.newBufferedWriter(settings.csv(), StandardCharsets.UTF_8);
            csv.write(Sample.CSV_HEADER + "\n");
        }
        SoakRun.Result result;
        try (SoakPeer.Handle peer = SoakPeer.launch()) {
            out.println("soak: echo peer pid " + peer.pid() + " at " + peer.address());
            Writer sink = csv;
            result = new SoakRun(settings, peer.address(), s -> {
                out.println(s.line());
                if (sink != null) {
                    try {
                        sink.write(s.csv() + "\n");
                        sink.flush();
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                }
            }).run();
        } finally {
            if (csv != null) {
                csv.close();
            }
        }
        summary(out, result);
        out.println(result.verdict().passed() ? "soak: PASS" : "soak: FAIL " + result.verdict().failures());
        System.exit(result.verdict().passed() ? 0 : 1);
    }

    private static void summary(PrintStream out, SoakRun.Result r) {
        Tally t = r.tally();
        out.printf(Locale.ROOT, "soak: frames written %,d (succeeded %,d, failed %,d), echoed and checked %,d "
                        + "(%,.1f MiB); refused %,d; connections opened %,d, closed once %,d (by close() %,d, by abort() %,d); "
                        + "echoes not back when onClosed followed the runner's close() %,d, abort() %,d; "
                        + "pool waits %,d; frame pool %.1f MiB direct%n", t.writesAccepted.sum(),
                t.writesSucceeded.sum(), t.writesFailed.sum(), t.echoedFrames.sum(), t.echoedBytes.sum() / 1048576.0,
                t.refusals.sum(), t.opened.sum(), t.closedOnce.sum(), t.closedByClose.sum(), t.closedByAbort.sum(),
                t.unechoedAtClose.sum(), t.unechoedAtAbort.sum(), t.poolWaits.sum(), r.poolBytes() / 1048576.0);
        for (Map.Entry<String, Long> e : t.expected().entrySet()) {
            out.printf(Locale.ROOT, "soak: expected  %-60s %,d%n", e.getKey(), e.getValue());
        }
        for (Map.Entry<String, Long> e : t.violations().entrySet()) {
            out.printf(Locale.ROOT, "soak: VIOLATION %-60s %,d%n", e.getKey(), e.getValue());
        }
        t.examples().forEach(x -> out.println("soak: example " + x));
        List<Sample> s = r.samples();
        out.println("soak: metric               min          max");
        range(out, s, "frames/s", Sample::framesPerSecond);
        range(out, s, "MiB/s", Sample::mibPerSecond);
        range(out, s, "connections", Sample::connections);
        range(out, s, "heap after GC MiB", Sample::heapAfterGcMib);
        range(out, s, "direct MiB", Sample::directMib);
        range(out, s, "mapped MiB", Sample::mappedMib);
        range(out, s, "open fds", Sample::fds);
        range(out, s, "live threads", Sample::threads);
        range(out, s, "loop busy ratio", Sample::busyRatio);
        range(out, s, "busy ns/frame", Sample::busyNanosPerFrame);
        range(out, s, "CPU ns/echo", Sample::cpuNanosPerFrame);
        range(out, s, "pending bytes", Sample::pendingBytes);
        r.verdict().lines().forEach(line -> out.println("soak: " + line));
    }

    private static void range(PrintStream out, List<Sample> samples, String name, ToDoubleFunction<Sample> metric) {
        out.printf(Locale.ROOT, "soak:   %-18s %,12.2f %,12.2f%n", name,
                samples.stream().mapToDouble(metric).min().orElse(0),
                samples.stream().mapToDouble(metric).max().orElse(0));
    }
}
