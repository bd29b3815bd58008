package io.cqlnio.kit;

import org.junit.jupiter.api.Assumptions;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.concurrent.ThreadFactory;

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
}
