package io.cqlnio.testkit;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * Closes what a test opened, newest first: after each test as a JUnit extension ({@code @RegisterExtension}),
 * or at the end of a try-with-resources block. Keeps going past a failure and rethrows the first (later ones
 * suppressed), or, made with {@link #quiet()}, ignores them.
 *
 * <p>Not thread-safe: one test thread adds and closes.
 */
public final class Closer implements AfterEachCallback, AutoCloseable {

    private final Deque<AutoCloseable> resources = new ArrayDeque<>();
    private final boolean quiet;

    public Closer() {
        this(false);
    }

    private Closer(boolean quiet) {
        this.quiet = quiet;
    }

    /** For tests whose peers may already be broken on purpose when they are closed. */
    public static Closer quiet() {
        return new Closer(true);
    }

    /** Closes {@code resource} with the others, before those added earlier; returns it. */
    public <T extends AutoCloseable> T add(T resource) {
        resources.push(resource);
        return resource;
    }

    @Override
    public void afterEach(ExtensionContext context) throws Exception {
        close();
    }

    @Override
    public void close() throws Exception {
        Exception first = null;
        while (!resources.isEmpty()) {
            try {
                resources.pop().close();
            } catch (Exception e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null && !quiet) {
            throw first;
        }
    }
}
