package io.cqlnio.nio;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * Closes what a test opened, newest first, after each test ({@code @RegisterExtension}); keeps going past a
 * failure and rethrows the first, or, made with {@link #quiet()}, ignores them.
 */
final class Closer implements AfterEachCallback {

    private final Deque<AutoCloseable> resources = new ArrayDeque<>();
    private final boolean quiet;

    Closer() {
        this(false);
    }

    private Closer(boolean quiet) {
        this.quiet = quiet;
    }

    /** For tests whose peers may already be broken on purpose when they are closed. */
    static Closer quiet() {
        return new Closer(true);
    }

    <T extends AutoCloseable> T add(T resource) {
        resources.push(resource);
        return resource;
    }

    @Override
    public void afterEach(ExtensionContext context) throws Exception {
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
