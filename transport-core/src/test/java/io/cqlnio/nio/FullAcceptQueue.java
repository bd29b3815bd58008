package io.cqlnio.nio;

import java.io.IOException;
import java.net.InetSocketAddress;

/**
 * Bridge to {@link io.cqlnio.testkit.FullAcceptQueue} for the tests of this package that are being rewritten with
 * the nio internals; once they import {@code io.cqlnio.testkit.FullAcceptQueue} themselves, delete this class.
 */
final class FullAcceptQueue implements AutoCloseable {

    private final io.cqlnio.testkit.FullAcceptQueue queue = new io.cqlnio.testkit.FullAcceptQueue();

    FullAcceptQueue() throws IOException {
    }

    boolean isFull() {
        return queue.isFull();
    }

    InetSocketAddress address() {
        return queue.address();
    }

    @Override
    public void close() throws IOException {
        queue.close();
    }
}
