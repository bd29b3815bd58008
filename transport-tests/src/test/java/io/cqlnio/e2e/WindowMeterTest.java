package io.cqlnio.e2e;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class WindowMeterTest {

    @Test
    void cpuTicksAreUtimePlusStimeCountedFromTheLastParenthesis() {
        // A command name may hold spaces and parentheses; fields 14 and 15 are 1234 and 56.
        String line = "4242 (java (e2e) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 1234 56 0 0 20 0 30 0 5 6 7";
        assertEquals(1234 + 56, WindowMeter.cpuTicks(line));
    }

    @Test
    void aLineWithoutACommandNameIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> WindowMeter.cpuTicks("4242 S 1 2 3"));
    }

    @Test
    void thisProcessHasSpentCpuTime() {
        assertTrue(WindowMeter.nodeCpuNanos(Path.of("/proc/self/stat")) > 0);
    }

    @Test
    void aWindowCountsWhatThisThreadAllocatedAndTheNodesCpu() {
        WindowMeter meter = new WindowMeter(ProcessHandle.current().pid());
        WindowMeter.Snapshot start = meter.snapshot();
        byte[][] kept = new byte[16][];
        for (int i = 0; i < kept.length; i++) {
            kept[i] = new byte[1 << 16];
        }
        // 60 ms of this thread's own CPU time (not wall time: the machine may be busy), several 10 ms ticks.
        java.lang.management.ThreadMXBean threads = java.lang.management.ManagementFactory.getThreadMXBean();
        long until = threads.getCurrentThreadCpuTime() + 60_000_000L;
        long x = 0;
        while (threads.getCurrentThreadCpuTime() < until) {
            x += x * 31 + 7;
        }
        WindowMeter.Window w = meter.snapshot().minus(start);
        assertTrue(w.allocatedBytes() >= 16L << 16, "allocated " + w.allocatedBytes() + " (" + kept.length + x + ")");
        assertTrue(w.cpuNanos() >= 40_000_000L, "cpu " + w.cpuNanos());
        assertTrue(w.nodeCpuNanos() >= 40_000_000L, "node cpu (this process) " + w.nodeCpuNanos());
        assertTrue(w.wallNanos() >= 60_000_000L);
    }
}
