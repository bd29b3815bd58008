package io.cqlnio.soak;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Every count of a soak run: what was written, told, echoed, opened and closed, and every violation, by kind and
 * by cause. Any thread.
 *
 * <p>Two families: <em>expected</em> outcomes (a write failed on a connection the runner itself closed or aborted,
 * an echo that never came back because the runner closed its connection) are counted by cause for the record;
 * <em>violations</em> (a lost or doubled outcome or {@code onClosed}, an echo that differs from what was written,
 * an out-of-order success, a connection that ended without the runner ending it) fail the run.
 */
final class Tally {

    /** Examples kept per run for the report; the counts are exact, the examples are the first few. */
    private static final int EXAMPLES = 10;

    final LongAdder writesAccepted = new LongAdder();
    final LongAdder writesSucceeded = new LongAdder();
    final LongAdder writesFailed = new LongAdder();
    final LongAdder echoedFrames = new LongAdder();
    final LongAdder echoedBytes = new LongAdder();
    final LongAdder opened = new LongAdder();
    final LongAdder closedOnce = new LongAdder();
    final LongAdder closedByClose = new LongAdder();
    final LongAdder closedByAbort = new LongAdder();
    /** Frames written whose echo had not come back when {@code onClosed} followed the runner's close(). */
    final LongAdder unechoedAtClose = new LongAdder();
    /** The same after the runner's abort(). */
    final LongAdder unechoedAtAbort = new LongAdder();
    final LongAdder poolWaits = new LongAdder();
    /** Writes refused at once (the connection was already closing), told before {@code write} returned. */
    final LongAdder refusals = new LongAdder();

    private final Map<String, LongAdder> expected = new ConcurrentHashMap<>();
    private final Map<String, LongAdder> violations = new ConcurrentHashMap<>();
    private final List<String> examples = new ArrayList<>();

    /** Something the runner caused and expects (its own close or abort): counted by {@code kind: cause}. */
    void expected(String kind, Throwable cause) {
        expected.computeIfAbsent(kind + ": " + name(cause), k -> new LongAdder()).increment();
    }

    /** Something that must never happen: counted by kind, the first few described. */
    void violation(String kind, String detail) {
        violations.computeIfAbsent(kind, k -> new LongAdder()).increment();
        synchronized (examples) {
            if (examples.size() < EXAMPLES) {
                examples.add(kind + ": " + detail);
            }
        }
    }

    long violationCount() {
        return violations.values().stream().mapToLong(LongAdder::sum).sum();
    }

    Map<String, Long> violations() {
        return snapshot(violations);
    }

    Map<String, Long> expected() {
        return snapshot(expected);
    }

    List<String> examples() {
        synchronized (examples) {
            return List.copyOf(examples);
        }
    }

    static String name(Throwable cause) {
        return cause == null ? "null" : cause.getClass().getSimpleName();
    }

    private static Map<String, Long> snapshot(Map<String, LongAdder> counts) {
        Map<String, Long> copy = new TreeMap<>();
        counts.forEach((k, v) -> copy.put(k, v.sum()));
        return copy;
    }
}
