package io.cqlnio.e2e;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * What a measured window cost: this JVM's process CPU time (every thread: the client's, the JIT's, the GC's), the
 * bytes this JVM's threads allocated, and the node's CPU time from {@code /proc/<pid>/stat}. One
 * {@link #snapshot()} at each end of the window; {@link Snapshot#minus} gives the window.
 */
final class WindowMeter {

    /** USER_HZ, the unit of {@code /proc/<pid>/stat}'s utime and stime: 100 on every Linux x86-64 kernel. */
    static final long NANOS_PER_TICK = 10_000_000L;

    private final com.sun.management.OperatingSystemMXBean os =
            (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    private final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    private final Path nodeStat;

    /** @param nodePid the node's process, or 0 to measure no node */
    WindowMeter(long nodePid) {
        this.nodeStat = nodePid > 0 ? Path.of("/proc", Long.toString(nodePid), "stat") : null;
    }

    /**
     * @param wallNanos        {@link System#nanoTime()}
     * @param cpuNanos         this JVM's process CPU time
     * @param allocatedByThread bytes allocated so far, by thread id (threads alive at the snapshot)
     * @param nodeCpuNanos     the node's utime + stime, or 0 without a node
     */
    record Snapshot(long wallNanos, long cpuNanos, Map<Long, Long> allocatedByThread, long nodeCpuNanos) {

        /**
         * The window from {@code start} to this snapshot. Allocation counts every thread alive at the end: a thread
         * born inside the window counts from zero; one that died inside it is lost (the clients' threads live as
         * long as their connection, so none does).
         */
        Window minus(Snapshot start) {
            long allocated = 0;
            for (Map.Entry<Long, Long> e : allocatedByThread.entrySet()) {
                allocated += e.getValue() - start.allocatedByThread.getOrDefault(e.getKey(), 0L);
            }
            return new Window(wallNanos - start.wallNanos, cpuNanos - start.cpuNanos, allocated,
                    nodeCpuNanos - start.nodeCpuNanos);
        }
    }

    /** The costs of one window. */
    record Window(long wallNanos, long cpuNanos, long allocatedBytes, long nodeCpuNanos) {
    }

    Snapshot snapshot() {
        long wall = System.nanoTime();
        long cpu = os.getProcessCpuTime();
        long[] ids = threads.getAllThreadIds();
        long[] bytes = threads.getThreadAllocatedBytes(ids);
        Map<Long, Long> allocated = new HashMap<>(ids.length * 2);
        for (int i = 0; i < ids.length; i++) {
            if (bytes[i] >= 0) {
                allocated.put(ids[i], bytes[i]);
            }
        }
        return new Snapshot(wall, cpu, allocated, nodeStat == null ? 0 : nodeCpuNanos(nodeStat));
    }

    /** utime + stime of the process whose {@code stat} file this is, in nanoseconds. */
    static long nodeCpuNanos(Path stat) {
        try {
            return cpuTicks(Files.readString(stat, StandardCharsets.US_ASCII)) * NANOS_PER_TICK;
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + stat + " (has the node exited?)", e);
        }
    }

    /**
     * Fields 14 and 15 (utime, stime) of a {@code /proc/<pid>/stat} line. The command name, field 2, is in
     * parentheses and may hold spaces and parentheses itself, so fields are counted from the last ')'.
     */
    static long cpuTicks(String statLine) {
        int close = statLine.lastIndexOf(')');
        if (close < 0) {
            throw new IllegalArgumentException("not a /proc/<pid>/stat line: " + statLine);
        }
        String[] rest = statLine.substring(close + 2).trim().split(" +");
        // rest[0] is field 3 (state), so field n is rest[n - 3]
        return Long.parseLong(rest[14 - 3]) + Long.parseLong(rest[15 - 3]);
    }

    /** The 1-minute load average from {@code /proc/loadavg}, or -1 where there is none. */
    static double loadAverage() {
        try {
            return Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).trim().split(" ")[0]);
        } catch (IOException | RuntimeException none) {
            return -1;
        }
    }
}
