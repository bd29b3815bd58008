package io.cqlnio.bench;

import javax.management.ObjectName;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What is live in this JVM's heap at one moment: heap used after full collections (the heap
 * pools' usage as the collector left it) and the live class histogram, bytes and instances per class (what
 * {@code jcmd PID GC.class_histogram} prints, taken in-process through the DiagnosticCommand MBean).
 * Two snapshots subtract into where the heap grew, class by class. The histogram goes to a file at once, so
 * snapshots held for the report do not weigh on the ones taken after them.
 *
 * <p>Meant for a JVM run with {@code -XX:+UseParallelGC}, whose {@code System.gc()} is a full compacting
 * collection, so "used" right after it is the live set. Call from one thread.
 */
final class HeapSnapshot {

    /** {@code   1:    12345    678900  [B (java.base@17.0.15)} */
    private static final Pattern ROW = Pattern.compile("^\\s*\\d+:\\s+(\\d+)\\s+(\\d+)\\s+(\\S+)");

    final long heapUsed;
    private final Path histogramFile;
    private Map<String, long[]> classes;
    private long histogramBytes = -1;

    private HeapSnapshot(long heapUsed, Path histogramFile) {
        this.heapUsed = heapUsed;
        this.histogramFile = histogramFile;
    }

    /**
     * Takes the live class histogram, writes it to {@code histogramFile} and lets go of it, then measures
     * heap used. Nothing of a snapshot but two fields stays in the heap until {@link #classes} reads the file
     * back, so a later snapshot does not count the earlier ones.
     */
    static HeapSnapshot take(Path histogramFile) throws IOException {
        Files.writeString(histogramFile, histogram(), StandardCharsets.UTF_8);
        return new HeapSnapshot(heapUsedAfterGc(), histogramFile);
    }

    /** Starts the MBean server and the diagnostic command once, so their own objects predate the first snapshot. */
    static void warmUp() {
        histogram();
    }

    /** Bytes and instances per class name; read from the file on first use. */
    Map<String, long[]> classes() throws IOException {
        if (classes == null) {
            classes = new HashMap<>();
            long total = 0;
            for (String line : Files.readAllLines(histogramFile, StandardCharsets.UTF_8)) {
                Matcher m = ROW.matcher(line);
                if (m.find()) {
                    long instances = Long.parseLong(m.group(1));
                    long bytes = Long.parseLong(m.group(2));
                    classes.merge(m.group(3), new long[]{instances, bytes},
                            (a, b) -> new long[]{a[0] + b[0], a[1] + b[1]});
                    total += bytes;
                }
            }
            histogramBytes = total;
        }
        return classes;
    }

    /** Sum of the histogram's bytes: the live heap as the histogram saw it. */
    long histogramBytes() throws IOException {
        classes();
        return histogramBytes;
    }

    /**
     * Heap used once collections stop freeing anything: System.gc() until two in a row agree within 1 KiB
     * (at most 8), so reference processing and finalizable objects from the previous round are gone too.
     * Each pool's usage is read as the collector left it ({@code MemoryPoolMXBean.getCollectionUsage}), not as
     * it is now: a thread's first allocation after the collection takes a whole new TLAB, which "used" would
     * count in full (megabytes, for a thread that allocated much before).
     */
    static long heapUsedAfterGc() {
        long previous = Long.MAX_VALUE;
        long used = 0;
        for (int i = 0; i < 8; i++) {
            System.gc();
            used = 0;
            for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
                MemoryUsage afterGc = pool.getType() == MemoryType.HEAP ? pool.getCollectionUsage() : null;
                if (afterGc != null) {
                    used += afterGc.getUsed();
                }
            }
            if (Math.abs(previous - used) < 1024) {
                break;
            }
            previous = used;
        }
        return used;
    }

    private static String histogram() {
        try {
            return (String) ManagementFactory.getPlatformMBeanServer().invoke(
                    new ObjectName("com.sun.management:type=DiagnosticCommand"), "gcClassHistogram",
                    new Object[]{new String[0]}, new String[]{String[].class.getName()});
        } catch (Exception e) {
            throw new IllegalStateException("cannot take a class histogram", e);
        }
    }

    /** One class's growth from {@code base} to this snapshot. */
    record Growth(String className, long instances, long bytes) {
    }

    /** Classes that grew since {@code base}, largest growth first, at most {@code limit}. */
    List<Growth> growthSince(HeapSnapshot base, int limit) throws IOException {
        List<Growth> growth = new ArrayList<>();
        for (Map.Entry<String, long[]> e : classes().entrySet()) {
            long[] before = base.classes().getOrDefault(e.getKey(), new long[2]);
            long bytes = e.getValue()[1] - before[1];
            if (bytes > 0) {
                growth.add(new Growth(e.getKey(), e.getValue()[0] - before[0], bytes));
            }
        }
        growth.sort((a, b) -> Long.compare(b.bytes, a.bytes));
        return growth.size() > limit ? growth.subList(0, limit) : growth;
    }

    /** Growth of one class since {@code base}: {instances, bytes}. */
    long[] growthOf(String className, HeapSnapshot base) throws IOException {
        long[] now = classes().getOrDefault(className, new long[2]);
        long[] before = base.classes().getOrDefault(className, new long[2]);
        return new long[]{now[0] - before[0], now[1] - before[1]};
    }
}
