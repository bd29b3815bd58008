package io.cqlnio.bench;

import org.jctools.queues.MessagePassingQueue;
import org.jctools.queues.MpscChunkedArrayQueue;
import org.jctools.queues.MpscGrowableArrayQueue;
import org.jctools.queues.MpscLinkedQueue;
import org.jctools.queues.MpscUnboundedArrayQueue;
import org.jctools.queues.MpscUnboundedXaddArrayQueue;
import org.jctools.queues.unpadded.MpscChunkedUnpaddedArrayQueue;
import org.jctools.queues.unpadded.MpscGrowableUnpaddedArrayQueue;
import org.jctools.queues.unpadded.MpscLinkedUnpaddedQueue;
import org.jctools.queues.unpadded.MpscUnboundedUnpaddedArrayQueue;

import java.lang.management.ManagementFactory;
import java.lang.ref.Reference;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * Evidence for the choice of the per-connection frame queue (issue 12): for each candidate MPSC queue, the
 * heap one retains (empty; after one offer/poll; after a burst of 128 offered and polled; while holding 128)
 * and what it allocates per element in steady state (one thread offering and polling 1, 128 or 1,024 at a
 * time; and two producer threads, each with at most 128 elements outstanding, against one consumer, the shape
 * of {@code ThroughputBenchmark} at window 128). Heap: {@value #QUEUES} queues at once, live heap after full
 * GCs, per queue; the elements are allocated before the baseline so only the queue's own structure counts.
 * Allocation: {@code ThreadMXBean.getThreadAllocatedBytes} of every thread involved, per element. Neither is
 * a timing, so a loaded machine does not change the figures.
 *
 * <pre>
 * java -Xms1g -Xmx1g -XX:+UseParallelGC -cp transport-bench/target/benchmarks.jar io.cqlnio.bench.QueueFootprint
 * </pre>
 * Prints a markdown table, and under it what an empty queue of each candidate is made of (class histogram).
 */
public final class QueueFootprint {

    static final int QUEUES = 2000;
    static final int BURST = 128;
    private static final int MAX_CAPACITY = 1 << 30;

    /**
     * Stands in for the frame writer's pooled entry: its fields, plus the link the intrusive queue needs. In the
     * contended run {@code kind} carries the producer's id and {@code remaining} its sequence number.
     */
    static final class Entry extends IntrusiveNode {
        int kind;
        Object single;
        Object parts;
        Object listener;
        long remaining;
        boolean deferred;
        boolean countsAsFrame;
    }

    /** The same entry without the link: what the link costs per pooled entry. */
    static final class PlainEntry {
        int kind;
        Object single;
        Object parts;
        Object listener;
        long remaining;
        boolean deferred;
        boolean countsAsFrame;
    }

    record Candidate(String name, Supplier<Object> factory) {
    }

    static List<Candidate> candidates() {
        return List.of(
                new Candidate("MpscUnboundedXaddArrayQueue(256, 2) (today)", () -> new MpscUnboundedXaddArrayQueue<>(256, 2)),
                new Candidate("MpscUnboundedXaddArrayQueue(32, 1)", () -> new MpscUnboundedXaddArrayQueue<>(32, 1)),
                new Candidate("MpscUnboundedXaddArrayQueue(16, 0)", () -> new MpscUnboundedXaddArrayQueue<>(16, 0)),
                new Candidate("MpscUnboundedArrayQueue(16)", () -> new MpscUnboundedArrayQueue<>(16)),
                new Candidate("MpscUnboundedArrayQueue(128)", () -> new MpscUnboundedArrayQueue<>(128)),
                new Candidate("MpscUnboundedUnpaddedArrayQueue(16)", () -> new MpscUnboundedUnpaddedArrayQueue<>(16)),
                new Candidate("MpscChunkedArrayQueue(16, 2^30)", () -> new MpscChunkedArrayQueue<>(16, MAX_CAPACITY)),
                new Candidate("MpscChunkedUnpaddedArrayQueue(16, 2^30)", () -> new MpscChunkedUnpaddedArrayQueue<>(16, MAX_CAPACITY)),
                new Candidate("MpscGrowableArrayQueue(4, 2^30)", () -> new MpscGrowableArrayQueue<>(4, MAX_CAPACITY)),
                new Candidate("MpscGrowableUnpaddedArrayQueue(4, 2^30)", () -> new MpscGrowableUnpaddedArrayQueue<>(4, MAX_CAPACITY)),
                new Candidate("MpscLinkedQueue", MpscLinkedQueue::new),
                new Candidate("MpscLinkedUnpaddedQueue", MpscLinkedUnpaddedQueue::new),
                new Candidate("IntrusiveMpscQueue (Vyukov, entry is the node)", IntrusiveMpscQueue::new),
                new Candidate("IntrusiveStackQueue (Treiber stack taken whole, entry is the node)",
                        IntrusiveStackQueue::new));
    }

    private QueueFootprint() {
    }

    public static void main(String[] args) throws Exception {
        String only = args.length > 0 ? args[0] : null;
        Path histograms = Files.createTempDirectory("queue-footprint-");
        HeapSnapshot.warmUp();
        Entry[] entries = new Entry[QUEUES * BURST];
        for (int i = 0; i < entries.length; i++) {
            entries[i] = new Entry();
        }
        PlainEntry[] plain = new PlainEntry[QUEUES];
        for (int i = 0; i < plain.length; i++) {
            plain[i] = new PlainEntry();
        }
        StringBuilder table = new StringBuilder();
        StringBuilder makeup = new StringBuilder();
        table.append("| queue | empty B | after 1 offer/poll B | after a burst of 128 B | holding 128 B |"
                + " alloc B/elem 1:1 | burst 128 | burst 1,024 | 2 producers, window 128 each |\n");
        table.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        int index = 0;
        for (Candidate c : candidates()) {
            index++;
            if (only != null && !c.name().contains(only)) {
                continue;
            }
            Object[] queues = new Object[QUEUES];
            HeapSnapshot base = HeapSnapshot.take(histograms.resolve(index + "-base.txt"));
            for (int q = 0; q < QUEUES; q++) {
                queues[q] = c.factory().get();
            }
            HeapSnapshot empty = HeapSnapshot.take(histograms.resolve(index + "-empty.txt"));
            for (int q = 0; q < QUEUES; q++) {
                offer(queues[q], entries[q * BURST]);
                check(poll(queues[q]) == entries[q * BURST], c.name());
            }
            long afterOne = HeapSnapshot.heapUsedAfterGc();
            for (int q = 0; q < QUEUES; q++) {
                for (int i = 0; i < BURST; i++) {
                    offer(queues[q], entries[q * BURST + i]);
                }
            }
            long holding = HeapSnapshot.heapUsedAfterGc();
            for (int q = 0; q < QUEUES; q++) {
                for (int i = 0; i < BURST; i++) {
                    check(poll(queues[q]) == entries[q * BURST + i], c.name());
                }
                check(poll(queues[q]) == null, c.name());
            }
            long afterBurst = HeapSnapshot.heapUsedAfterGc();
            // Compiled code may drop a local after its last use: without this the queues could be collected
            // before the measurement above.
            Reference.reachabilityFence(queues);

            Object queue = c.factory().get();
            double oneToOne = allocationPerElement(queue, entries, 1, 1_000_000);
            double burst = allocationPerElement(queue, entries, BURST, 8_000);
            double bigBurst = allocationPerElement(queue, entries, 1024, 1_000);
            double contended = contendedAllocationPerElement(c.factory().get(), entries, 2, BURST, 1_000_000);

            table.append(String.format(Locale.ROOT, "| %s | %,d | %,d | %,d | %,d | %.2f | %.2f | %.2f | %.2f |%n",
                    c.name(), perQueue(empty.heapUsed - base.heapUsed), perQueue(afterOne - base.heapUsed),
                    perQueue(afterBurst - base.heapUsed), perQueue(holding - base.heapUsed),
                    oneToOne, burst, bigBurst, contended));
            makeup.append("* ").append(c.name()).append(": ");
            List<String> parts = new ArrayList<>();
            for (HeapSnapshot.Growth g : empty.growthSince(base, 8)) {
                if (g.instances() >= QUEUES) {
                    parts.add(String.format(Locale.ROOT, "`%s` %,d B (%s)", simpleName(g.className()),
                            perQueue(g.bytes()), g.instances() / QUEUES == 1 ? "1" : g.instances() / QUEUES + ""));
                }
            }
            makeup.append(String.join(", ", parts)).append('\n');
        }
        System.out.println(table);
        System.out.println("What an empty queue is made of (bytes per queue, instances per queue):\n");
        System.out.println(makeup);
        HeapSnapshot sizes = HeapSnapshot.take(histograms.resolve("entries.txt"));
        long[] linked = sizes.classes().get(Entry.class.getName());
        long[] unlinked = sizes.classes().get(PlainEntry.class.getName());
        System.out.printf(Locale.ROOT, "Pooled entry: %d B with the intrusive link, %d B without.%n",
                linked[1] / linked[0], unlinked[1] / unlinked[0]);
        Reference.reachabilityFence(plain);
        Reference.reachabilityFence(entries);
    }

    /** Bytes allocated by this thread per element, offering {@code burst} then polling them, {@code rounds} times. */
    private static double allocationPerElement(Object queue, Entry[] entries, int burst, int rounds) {
        cycle(queue, entries, burst, rounds / 10); // warm up: let the JIT settle and the queue reach its shape
        long before = allocatedBytes(Thread.currentThread());
        cycle(queue, entries, burst, rounds);
        return (allocatedBytes(Thread.currentThread()) - before) / (double) burst / rounds;
    }

    private static void cycle(Object queue, Entry[] entries, int burst, int rounds) {
        for (int r = 0; r < rounds; r++) {
            for (int i = 0; i < burst; i++) {
                offer(queue, entries[i]);
            }
            for (int i = 0; i < burst; i++) {
                check(poll(queue) == entries[i], "order");
            }
        }
    }

    /**
     * Bytes allocated by every thread involved, per element: {@code producers} threads each offering its own
     * entries with at most {@code window} outstanding (it reuses an entry only once the consumer has taken it),
     * the calling thread polling. What depth the queue reaches depends on scheduling; the window bounds it.
     */
    private static double contendedAllocationPerElement(Object queue, Entry[] entries, int producers, int window,
                                                        int perProducer) throws InterruptedException {
        AtomicLong[] consumed = new AtomicLong[producers];
        Thread[] threads = new Thread[producers];
        long[] allocated = new long[producers];
        for (int p = 0; p < producers; p++) {
            consumed[p] = new AtomicLong();
            int id = p;
            threads[p] = new Thread(() -> {
                long start = allocatedBytes(Thread.currentThread());
                for (int i = 0; i < perProducer; i++) {
                    while (i - consumed[id].get() >= window) {
                        Thread.onSpinWait();
                    }
                    Entry e = entries[id * window + i % window];
                    e.kind = id;
                    e.remaining = i;
                    offer(queue, e);
                }
                allocated[id] = allocatedBytes(Thread.currentThread()) - start;
            }, "queue-footprint-producer-" + p);
        }
        long start = allocatedBytes(Thread.currentThread());
        for (Thread t : threads) {
            t.start();
        }
        long total = (long) producers * perProducer;
        for (long taken = 0; taken < total; ) {
            Object o = poll(queue);
            if (o == null) {
                Thread.onSpinWait();
                continue;
            }
            Entry e = (Entry) o;
            int id = e.kind;
            check(e.remaining == consumed[id].get(), "per-producer order");
            consumed[id].lazySet(e.remaining + 1);
            taken++;
        }
        long consumer = allocatedBytes(Thread.currentThread()) - start;
        for (Thread t : threads) {
            t.join();
        }
        long sum = consumer;
        for (long a : allocated) {
            sum += a;
        }
        return sum / (double) total;
    }

    @SuppressWarnings("unchecked")
    private static void offer(Object queue, Entry e) {
        if (queue instanceof IntrusiveMpscQueue q) {
            q.offer(e);
        } else if (queue instanceof IntrusiveStackQueue q) {
            q.offer(e);
        } else {
            check(((MessagePassingQueue<Entry>) queue).offer(e), "offer refused");
        }
    }

    @SuppressWarnings("unchecked")
    private static Object poll(Object queue) {
        if (queue instanceof IntrusiveMpscQueue q) {
            return q.poll();
        }
        if (queue instanceof IntrusiveStackQueue q) {
            return q.poll();
        }
        return ((MessagePassingQueue<Entry>) queue).poll();
    }

    private static long allocatedBytes(Thread thread) {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean())
                .getThreadAllocatedBytes(thread.getId());
    }

    private static long perQueue(long bytes) {
        return Math.round(bytes / (double) QUEUES);
    }

    private static String simpleName(String className) {
        return className.startsWith("[L") ? className.substring(className.lastIndexOf('.') + 1, className.length() - 1)
                + "[]" : className.substring(className.lastIndexOf('.') + 1);
    }

    private static void check(boolean condition, String message) {
        if (!condition) {
            throw new IllegalStateException(message);
        }
    }
}
