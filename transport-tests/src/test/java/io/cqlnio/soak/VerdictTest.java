package io.cqlnio.soak;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The soak's criterion on made-up samples: flat with noise passes, each kind of growth and each loss fails. */
class VerdictTest {

    private static final int SAMPLES = 30;
    private static final double WARMUP = 12;

    @Test
    void flatMetricsWithNoiseAndAWarmUpPass() {
        Verdict v = judge(i -> sample(i, (i < 5 ? 30 : 50) + (i % 3), 24, 228 + (i % 7), 10 + (i % 2), 12_000), clean());
        assertTrue(v.passed(), v.toString());
    }

    @Test
    void heapThatGrowsBothByMibAndByShareFails() {
        Verdict v = judge(i -> sample(i, 50 + i, 24, 228, 10, 12_000), clean());
        assertFalse(v.passed());
        assertTrue(v.failures().get(0).startsWith("heap after GC MiB grew"), v.toString());
    }

    @Test
    void growthBelowEitherLimitPasses() {
        // +10 MiB on 100 MiB is above 8 MiB but below 20 %; +3 MiB on 5 MiB is above 20 % but below 8 MiB.
        assertTrue(judge(i -> sample(i, 100 + i / 3.0, 24, 228, 10, 12_000), clean()).passed());
        assertTrue(judge(i -> sample(i, 5 + i / 10.0, 24, 228, 10, 12_000), clean()).passed());
    }

    @Test
    void directDescriptorsThreadsAndCpuPerFrameEachFailAlone() {
        assertFailsOn("direct MiB", judge(i -> sample(i, 50, 24 + i, 228, 10, 12_000), clean()));
        assertFailsOn("open fds", judge(i -> sample(i, 50, 24, 228 + 3 * i, 10, 12_000), clean()));
        assertFailsOn("live threads", judge(i -> sample(i, 50, 24, 228, 10 + i, 12_000), clean()));
        assertFailsOn("CPU time per echo", judge(i -> sample(i, 50, 24, 228, 10, 12_000 * (1 + i / 5)), clean()));
    }

    @Test
    void aStallAfterTheWarmUpFails() {
        Verdict v = judge(i -> i == 20 ? new Sample(i * 2, 200, 0, 0, 0, 50, 24, 0, 228, 10, 0, 0, 0, 0, 0)
                : sample(i, 50, 24, 228, 10, 12_000), clean());
        assertFailsOn("no echo checked", v);
    }

    @Test
    void aLostOutcomeAMissingOnClosedAndAViolationEachFail() {
        Tally lost = clean();
        lost.writesAccepted.increment();
        assertFailsOn("write listeners told 10 times for 11", judge(i -> sample(i, 50, 24, 228, 10, 1), lost));

        Tally unclosed = clean();
        unclosed.opened.increment();
        assertFailsOn("onClosed ran for 5 of 6", judge(i -> sample(i, 50, 24, 228, 10, 1), unclosed));

        Tally doubled = clean();
        doubled.violation("onClosed again", "connection 3");
        assertFailsOn("violations {onClosed again=1}", judge(i -> sample(i, 50, 24, 228, 10, 1), doubled));

        Verdict unechoed = new Verdict(samples(i -> sample(i, 50, 24, 228, 10, 1)), WARMUP, clean(), 2,
                Verdict.Limits.DEFAULT);
        assertFailsOn("2 frames never echoed", unechoed);
    }

    @Test
    void tooFewSamplesCannotPass() {
        List<Sample> few = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            few.add(sample(i, 50, 24, 228, 10, 1));
        }
        assertFalse(new Verdict(few, WARMUP, clean(), 0, Verdict.Limits.DEFAULT).passed());
    }

    @Test
    void medianOfEvenAndOddCounts() {
        assertEquals(2.5, Verdict.median(samples(4, i -> sample(i, i + 1, 0, 0, 0, 0)), Sample::heapAfterGcMib));
        assertEquals(2, Verdict.median(samples(3, i -> sample(i, 3 - i, 0, 0, 0, 0)), Sample::heapAfterGcMib));
    }

    private static void assertFailsOn(String prefix, Verdict v) {
        assertFalse(v.passed(), prefix);
        assertTrue(v.failures().stream().anyMatch(f -> f.startsWith(prefix)), prefix + " in " + v);
    }

    /** Ten frames written and told, five connections opened and closed. */
    private static Tally clean() {
        Tally t = new Tally();
        t.writesAccepted.add(10);
        t.writesSucceeded.add(8);
        t.writesFailed.add(2);
        t.opened.add(5);
        t.closedOnce.add(5);
        return t;
    }

    private static Verdict judge(IntFunction<Sample> sample, Tally tally) {
        return new Verdict(samples(sample), WARMUP, tally, 0, Verdict.Limits.DEFAULT);
    }

    private static List<Sample> samples(IntFunction<Sample> sample) {
        return samples(SAMPLES, sample);
    }

    private static List<Sample> samples(int n, IntFunction<Sample> sample) {
        List<Sample> all = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            all.add(sample.apply(i));
        }
        return all;
    }

    /** Sample {@code i} of a 60 s run sampled every 2 s. */
    private static Sample sample(int i, double heap, double direct, long fds, int threads, double cpuPerFrame) {
        return new Sample(i * 2.0 + 2, 200, 40_000, 200, i * 6L, heap, direct, 0, fds, threads, 0.8, 20_000,
                cpuPerFrame, 0, 0);
    }
}
