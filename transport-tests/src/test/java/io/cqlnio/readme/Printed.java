package io.cqlnio.readme;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Runs a README snippet the way a reader's {@code main} would: captures what it prints, and fails if it leaves a
 * non-daemon thread running, which is what keeps a reader's JVM from exiting (a Transport that was not closed).
 */
final class Printed {

    @FunctionalInterface
    interface Snippet {
        void run() throws Exception;
    }

    private Printed() {
    }

    /** What {@code snippet} printed to {@code System.out}; also echoed to the real one for the test's report. */
    static String by(Snippet snippet) throws Exception {
        Set<Thread> before = Set.copyOf(Thread.getAllStackTraces().keySet());
        PrintStream stdout = System.out;
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
        try {
            snippet.run();
        } finally {
            System.setOut(stdout);
        }
        String text = printed.toString(StandardCharsets.UTF_8);
        stdout.print(text);
        List<String> left = Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.isAlive() && !t.isDaemon() && !before.contains(t))
                .map(Thread::getName)
                .toList();
        assertEquals(List.of(), left, "non-daemon threads left running: the JVM of a reader would not exit");
        return text;
    }
}
