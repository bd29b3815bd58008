package io.cqlnio.nio;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Bridge to {@link io.cqlnio.testkit.Closer} for the tests of this package that are being rewritten with the nio
 * internals; once they import {@code io.cqlnio.testkit.Closer} themselves, delete this class.
 */
final class Closer implements AfterEachCallback {

    private final io.cqlnio.testkit.Closer closer;

    private Closer(io.cqlnio.testkit.Closer closer) {
        this.closer = closer;
    }

    static Closer quiet() {
        return new Closer(io.cqlnio.testkit.Closer.quiet());
    }

    <T extends AutoCloseable> T add(T resource) {
        return closer.add(resource);
    }

    @Override
    public void afterEach(ExtensionContext context) throws Exception {
        closer.afterEach(context);
    }
}
