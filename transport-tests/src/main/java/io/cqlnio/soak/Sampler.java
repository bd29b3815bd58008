package io.cqlnio.soak;

import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportStats;

import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.lang.management.OperatingSystemMXBean;
import java.lang.management.ThreadMXBean;

/**
 * Takes a {@link Sample}: asks for a full GC and reads what it left, then the buffer pools, descriptors, threads
 * and the transport's counters. Control thread only.
 *
 * <p>Heap after GC is the sum over heap pools of {@link MemoryPoolMXBean#getCollectionUsage()} right after
 * {@link System#gc()} (a full, stop-the-world collection with G1 and the other JDK 17 collectors unless
 * {@code -XX:+ExplicitGCInvokesConcurrent}): the usage each pool had when the collector finished, so nothing
 * other threads allocate between the GC and the reading is counted, unlike {@code MemoryMXBean} "used".
 */
final class Sampler {

    private static final double MIB = 1024 * 1024;

    private final Transport transport;
    private final Tally tally;
    private final long startNanos;
    private final ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    private final OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
    private final long initialOpened;
    private TransportStats lastStats;
    private long lastNanos;
    private long lastEchoed;
    private long lastEchoedBytes;
    private long lastCpu;

    Sampler(Transport transport, Tally tally, long startNanos) {
        this.transport = transport;
        this.tally = tally;
        this.startNanos = startNanos;
        this.initialOpened = tally.opened.sum();
        this.lastStats = transport.stats();
        this.lastNanos = System.nanoTime();
        this.lastEchoed = tally.echoedFrames.sum();
        this.lastEchoedBytes = tally.echoedBytes.sum();
        this.lastCpu = processCpuNanos();
    }

    Sample take() {
        System.gc();
        double heap = heapAfterGc() / MIB;
        long now = System.nanoTime();
        TransportStats stats = transport.stats();
        long echoed = tally.echoedFrames.sum();
        long echoedBytes = tally.echoedBytes.sum();
        double seconds = (now - lastNanos) / 1e9;
        long frames = stats.framesRead() - lastStats.framesRead() + stats.framesWritten() - lastStats.framesWritten();
        long cpu = processCpuNanos();
        double cpuPerFrame = echoed == lastEchoed ? 0 : (double) (cpu - lastCpu) / (echoed - lastEchoed);
        double busyPerFrame = frames == 0 ? 0 : (double) (stats.loopBusyNanos() - lastStats.loopBusyNanos()) / frames;
        Sample s = new Sample((now - startNanos) / 1e9, stats.connections(), (echoed - lastEchoed) / seconds,
                (echoedBytes - lastEchoedBytes) / MIB / seconds, tally.opened.sum() - initialOpened, heap,
                bufferPool("direct") / MIB, bufferPool("mapped") / MIB, openFds(), threads.getThreadCount(),
                stats.busyRatioSince(lastStats), busyPerFrame, cpuPerFrame, stats.pendingBytes(),
                tally.violationCount());
        lastStats = stats;
        lastNanos = now;
        lastEchoed = echoed;
        lastEchoedBytes = echoedBytes;
        lastCpu = cpu;
        return s;
    }

    private static long heapAfterGc() {
        long bytes = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            MemoryUsage after = pool.getType() == MemoryType.HEAP ? pool.getCollectionUsage() : null;
            if (after != null) {
                bytes += after.getUsed();
            }
        }
        return bytes;
    }

    private static long bufferPool(String name) {
        for (BufferPoolMXBean pool : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) {
            if (pool.getName().equals(name)) {
                return pool.getMemoryUsed();
            }
        }
        return 0;
    }

    private long processCpuNanos() {
        return os instanceof com.sun.management.OperatingSystemMXBean sun ? sun.getProcessCpuTime() : 0;
    }

    private long openFds() {
        return os instanceof com.sun.management.UnixOperatingSystemMXBean unix ? unix.getOpenFileDescriptorCount() : -1;
    }
}
