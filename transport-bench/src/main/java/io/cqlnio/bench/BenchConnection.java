package io.cqlnio.bench;

/**
 * The client side of one benchmark connection: sends frames from the calling (JMH) thread with a bounded
 * window of outstanding frames, and counts what comes back at the receiver. One producer thread per
 * connection.
 */
interface BenchConnection extends AutoCloseable {

    /** Sends one frame, first waiting (bounded) until the window has room. */
    void send();

    /** Waits (bounded) until no frame is outstanding. */
    void awaitIdle();

    /** Frames received back (echo) or completed (one-way) so far. */
    long frames();

    /** Bytes of those frames. */
    long bytes();

    /** Bytes the transport handed to the kernel on this connection so far (what the wire carried); 0 if unknown. */
    default long wireBytesWritten() {
        return 0;
    }

    /** Write calls the transport made on this connection so far (frames per write call under load); 0 if unknown. */
    default long writeCalls() {
        return 0;
    }

    @Override
    void close();
}
