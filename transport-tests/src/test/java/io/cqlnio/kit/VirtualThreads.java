package io.cqlnio.kit;

import org.junit.jupiter.api.Assumptions;

import com.sun.management.HotSpotDiagnosticMXBean;

import java.io.IOException;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadFactory;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Virtual threads for the tests, where the running JDK has them (21 and later). The tests compile for Java 17, so
 * {@code Thread.ofVirtual()} is reached through method handles: the same test classes run (and skip, saying why) on
 * JDK 17 and run for real on the newer JDK of {@code scripts/newest-jdk-tests.sh}.
 */
final class VirtualThreads {

    /** The first feature release with virtual threads as a final feature (JEP 444). */
    static final int FIRST_JDK = 21;

    private VirtualThreads() {
    }

    /** Whether this JVM has virtual threads. */
    static boolean available() {
        return Runtime.version().feature() >= FIRST_JDK;
    }

    /**
     * Skips the calling test (a JUnit assumption) on a JDK without virtual threads, and prints why, so a skipped
     * run is visible in the test's output and not only in the report.
     */
    static void assumeAvailable() {
        if (!available()) {
            String why = "virtual threads need JDK " + FIRST_JDK + "+; this JVM is " + Runtime.version()
                    + " (scripts/newest-jdk-tests.sh runs this test on the newest JDK found)";
            System.out.println("skipped: " + why);
            Assumptions.assumeTrue(false, why);
        }
    }

    /**
     * A factory of unstarted virtual threads named {@code prefix0}, {@code prefix1}, ... (as
     * {@code Thread.ofVirtual().name(prefix, 0).factory()}).
     *
     * @throws IllegalStateException on a JDK without virtual threads
     */
    static ThreadFactory factory(String prefix) {
        try {
            Class<?> builder = Class.forName("java.lang.Thread$Builder");
            Class<?> ofVirtual = Class.forName("java.lang.Thread$Builder$OfVirtual");
            MethodHandles.Lookup lookup = MethodHandles.publicLookup();
            MethodHandle create = lookup.findStatic(Thread.class, "ofVirtual", MethodType.methodType(ofVirtual));
            MethodHandle name = lookup.findVirtual(ofVirtual, "name",
                    MethodType.methodType(ofVirtual, String.class, long.class));
            MethodHandle factory = lookup.findVirtual(builder, "factory", MethodType.methodType(ThreadFactory.class));
            Object b = create.invoke();
            b = name.invoke(b, prefix, 0L);
            return (ThreadFactory) factory.invoke(b);
        } catch (Throwable e) {
            throw new IllegalStateException("no virtual threads on " + Runtime.version(), e);
        }
    }

    /**
     * Where the virtual threads named {@code prefix...} are, for a stall's report: the JDK's thread dump (the one
     * that includes virtual threads, {@code HotSpotDiagnosticMXBean.dumpThreads}, JDK 21+, reached reflectively),
     * their stacks grouped, the largest groups first, each with its count; the whole dump stays in a file named there.
     */
    static String stacksOf(String prefix) {
        try {
            Path file = Files.createTempFile("cqlnio-threads", ".txt");
            Files.delete(file); // dumpThreads refuses an existing file
            HotSpotDiagnosticMXBean bean = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
            Class<?> format = Class.forName("com.sun.management.HotSpotDiagnosticMXBean$ThreadDumpFormat");
            Object text = Arrays.stream(format.getEnumConstants()).filter(c -> c.toString().equals("TEXT_PLAIN"))
                    .findFirst().orElseThrow();
            HotSpotDiagnosticMXBean.class.getMethod("dumpThreads", String.class, format)
                    .invoke(bean, file.toString(), text);
            String[] blocks = Files.readString(file).split("\\R\\R");
            Map<String, Long> groups = Arrays.stream(blocks)
                    .filter(b -> b.contains("\"" + prefix))
                    .map(b -> b.substring(b.indexOf('\n') + 1)) // the stack without the thread's own header
                    .map(b -> b.replaceAll("(?m)^\\s*- .*\\R?", "")) // nor its lock's identity: group by frames
                    .collect(Collectors.groupingBy(Function.identity(), Collectors.counting()));
            List<Map.Entry<String, Long>> largest = groups.entrySet().stream()
                    .sorted(Map.Entry.<String, Long>comparingByValue(Comparator.reverseOrder())).limit(4)
                    .collect(Collectors.toList());
            StringBuilder s = new StringBuilder("virtual threads " + prefix + "* by stack (whole dump: " + file + "):");
            for (Map.Entry<String, Long> g : largest) {
                s.append("\n").append(g.getValue()).append(" at:\n").append(g.getKey());
            }
            return s.toString();
        } catch (ReflectiveOperationException | IOException | RuntimeException e) {
            return "no thread dump: " + e;
        }
    }
}
