package io.cqlnio.soak;

import java.util.Locale;

/**
 * The metrics at one moment of a soak run.
 *
 * @param seconds        since the run started
 * @param connections    open now, by the transport's own count
 * @param framesPerSecond echoes checked per second over the interval before this sample
 * @param mibPerSecond   echoed MiB per second over that interval
 * @param reconnects     connections opened since the first ones, so far
 * @param heapAfterGcMib live heap: each heap pool's usage as the full GC this sample asked for left it
 * @param directMib      the JVM's "direct" buffer pool (the soak's frame pool is a constant part of it)
 * @param mappedMib      the JVM's "mapped" buffer pool
 * @param fds            open file descriptors of this process
 * @param threads        live Java threads
 * @param busyRatio      the loops' busy share of their time over the interval, 0..1
 * @param busyNanosPerFrame loop busy time over the interval per frame the transport read or wrote
 * @param cpuNanosPerFrame this process's CPU time over the interval per echo checked (the runner's own work, the
 *                       sample's GC and the transport's together)
 * @param pendingBytes   bytes accepted and not yet handed to the kernel, now
 * @param violations     violations counted so far
 */
record Sample(double seconds, int connections, double framesPerSecond, double mibPerSecond, long reconnects,
              double heapAfterGcMib, double directMib, double mappedMib, long fds, int threads, double busyRatio,
              double busyNanosPerFrame, double cpuNanosPerFrame, long pendingBytes, long violations) {

    static final String CSV_HEADER = "seconds,connections,frames_per_s,mib_per_s,reconnects,heap_after_gc_mib,"
            + "direct_mib,mapped_mib,fds,threads,busy_ratio,busy_ns_per_frame,cpu_ns_per_frame,pending_bytes,"
            + "violations";

    String csv() {
        return String.format(Locale.ROOT, "%.1f,%d,%.0f,%.2f,%d,%.2f,%.2f,%.2f,%d,%d,%.3f,%.0f,%.0f,%d,%d", seconds,
                connections, framesPerSecond, mibPerSecond, reconnects, heapAfterGcMib, directMib, mappedMib, fds,
                threads, busyRatio, busyNanosPerFrame, cpuNanosPerFrame, pendingBytes, violations);
    }

    String line() {
        return String.format(Locale.ROOT, "soak t=%5.0fs conns=%4d frames/s=%,8.0f MiB/s=%6.1f reconnects=%,6d"
                        + " heap=%6.1fMiB direct=%6.1fMiB mapped=%4.1fMiB fds=%5d threads=%3d busy=%.2f"
                        + " busy/frame=%,6.0fns cpu/echo=%,6.0fns pending=%,d violations=%d", seconds, connections,
                framesPerSecond, mibPerSecond, reconnects, heapAfterGcMib, directMib, mappedMib, fds, threads,
                busyRatio, busyNanosPerFrame, cpuNanosPerFrame, pendingBytes, violations);
    }
}
