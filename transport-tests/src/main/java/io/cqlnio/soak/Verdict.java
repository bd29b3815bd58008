package io.cqlnio.soak;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;

/**
 * Whether a soak run leaked or lost anything. Growth is judged on the samples after the warm-up (the first
 * {@code warmup} share of the run): the largest value in the <em>last</em> third of them against the largest in the
 * <em>first</em> third. Maxima, not single samples, so one GC or one reconnect burst at the wrong moment moves
 * neither end much; thirds, so a leak has most of the run to show. A run fails when
 * <ul>
 * <li>heap after GC grows by more than {@link Limits#heapMib} MiB <em>and</em> more than {@link Limits#heapShare}
 *     of its first-third maximum (both, so neither noise on a small heap nor a small share of a big one fails it);
 * <li>direct or mapped buffer memory grows the same way ({@link Limits#bufferMib}, {@link Limits#bufferShare});
 * <li>open descriptors grow by more than {@link Limits#fds} or live threads by more than {@link Limits#threads};
 * <li>the process's CPU time per echo, median of the last third, is more than {@link Limits#cpuPerFrameFactor}
 *     times the median of the first: work per frame that grows with time (a list scanned per turn that never
 *     shrinks). CPU time, not the loops' busy time: {@code TransportStats.busyRatioSince} counts wall time, which
 *     on a shared machine includes every moment another process holds the CPU, and moved by 2x within a quiet
 *     30 s run; it is sampled and printed, not judged. Busy <em>ratio</em> is bounded by 1 anyway; what can grow
 *     without bound is the cost per frame;
 * <li>any sample after the warm-up checked no echo at all (a stall);
 * <li>any outcome is lost or doubled, any echo differs, any violation was counted at all.
 * </ul>
 */
final class Verdict {

    /**
     * The thresholds; see the class comment for how each is applied.
     *
     * @param heapMib            heap after GC growth, MiB (and ...)
     * @param heapShare          ... share of the first-third maximum
     * @param bufferMib          direct or mapped growth, MiB (and ...)
     * @param bufferShare        ... share of the first-third maximum
     * @param fds                open descriptors growth
     * @param threads            live threads growth
     * @param cpuPerFrameFactor last-third median of process CPU time per echo over the first third's
     */
    record Limits(double heapMib, double heapShare, double bufferMib, double bufferShare, long fds, int threads,
                  double cpuPerFrameFactor) {
        static final Limits DEFAULT = new Limits(8, 0.20, 8, 0.20, 50, 8, 2.0);
    }

    private final List<String> failures = new ArrayList<>();
    private final List<String> lines = new ArrayList<>();

    /**
     * @param samples       every sample of the run, in order
     * @param warmupSeconds samples before this many seconds are not judged for growth
     * @param tally         the run's counts
     * @param unechoedAtEnd frames written on connections the runner never ended whose echo had not come back when
     *                      the drain at the end gave up
     * @param limits        the thresholds
     */
    Verdict(List<Sample> samples, double warmupSeconds, Tally tally, long unechoedAtEnd, Limits limits) {
        List<Sample> judged = samples.stream().filter(s -> s.seconds() >= warmupSeconds).toList();
        int third = judged.size() / 3;
        if (third < 2) {
            failures.add("only " + judged.size() + " samples after the warm-up; growth needs 6 or more");
        } else {
            List<Sample> first = judged.subList(0, third);
            List<Sample> last = judged.subList(judged.size() - third, judged.size());
            lines.add(String.format(Locale.ROOT, "growth: last third (%.0f-%.0f s) max against first third "
                            + "(%.0f-%.0f s, after %.0f s warm-up) max", last.get(0).seconds(),
                    last.get(last.size() - 1).seconds(), first.get(0).seconds(), first.get(first.size() - 1).seconds(),
                    warmupSeconds));
            grows("heap after GC MiB", first, last, Sample::heapAfterGcMib, limits.heapMib, limits.heapShare);
            grows("direct MiB", first, last, Sample::directMib, limits.bufferMib, limits.bufferShare);
            grows("mapped MiB", first, last, Sample::mappedMib, limits.bufferMib, limits.bufferShare);
            grows("open fds", first, last, Sample::fds, limits.fds, 0);
            grows("live threads", first, last, Sample::threads, limits.threads, 0);
            double before = median(first, Sample::cpuNanosPerFrame);
            double after = median(last, Sample::cpuNanosPerFrame);
            boolean slower = before > 0 && after > limits.cpuPerFrameFactor * before;
            lines.add(String.format(Locale.ROOT, "  %-18s median %,.0f -> %,.0f ns (limit x%.1f)%s",
                    "CPU per echo", before, after, limits.cpuPerFrameFactor, slower ? "  FAIL" : ""));
            if (slower) {
                failures.add(String.format(Locale.ROOT, "CPU time per echo grew from %,.0f to %,.0f ns",
                        before, after));
            }
            for (Sample s : judged) {
                if (s.framesPerSecond() == 0) {
                    failures.add(String.format(Locale.ROOT, "no echo checked in the interval before %.0f s: stalled",
                            s.seconds()));
                }
            }
        }
        long told = tally.writesSucceeded.sum() + tally.writesFailed.sum();
        if (told != tally.writesAccepted.sum()) {
            failures.add("write listeners told " + told + " times for " + tally.writesAccepted.sum()
                    + " accepted frames");
        }
        if (tally.closedOnce.sum() != tally.opened.sum()) {
            failures.add("onClosed ran for " + tally.closedOnce.sum() + " of " + tally.opened.sum()
                    + " connections opened");
        }
        if (unechoedAtEnd > 0) {
            failures.add(unechoedAtEnd + " frames never echoed on connections the runner did not end");
        }
        if (tally.violationCount() > 0) {
            failures.add("violations " + tally.violations() + "; first: " + tally.examples());
        }
    }

    boolean passed() {
        return failures.isEmpty();
    }

    List<String> failures() {
        return failures;
    }

    /** The growth lines, one per metric. */
    List<String> lines() {
        return lines;
    }

    private void grows(String name, List<Sample> first, List<Sample> last, ToDoubleFunction<Sample> metric,
                       double limit, double share) {
        double before = max(first, metric);
        double after = max(last, metric);
        double growth = after - before;
        boolean fails = growth > limit && growth > share * before;
        String rule = share > 0 ? String.format(Locale.ROOT, "> %.0f and > %.0f%%", limit, share * 100)
                : String.format(Locale.ROOT, "> %.0f", limit);
        lines.add(String.format(Locale.ROOT, "  %-18s %,10.1f -> %,10.1f  growth %+,.1f (fails if %s)%s", name,
                before, after, growth, rule, fails ? "  FAIL" : ""));
        if (fails) {
            failures.add(String.format(Locale.ROOT, "%s grew from %.1f to %.1f (%+.1f; limit %s)", name, before,
                    after, growth, rule));
        }
    }

    private static double max(List<Sample> samples, ToDoubleFunction<Sample> metric) {
        return samples.stream().mapToDouble(metric).max().orElse(0);
    }

    static double median(List<Sample> samples, ToDoubleFunction<Sample> metric) {
        double[] v = samples.stream().mapToDouble(metric).sorted().toArray();
        if (v.length == 0) {
            return 0;
        }
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    @Override
    public String toString() {
        return Arrays.toString(failures.toArray());
    }
}
