package io.cqlnio.soak;

import io.cqlnio.spi.WriteListener;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The listener of one written frame: passes the first outcome on to its connection and counts any later one as a
 * violation. One per frame, so a second call can never be mistaken for a later frame's first.
 */
final class FrameOutcome implements WriteListener {

    final long seq;
    final ByteBuffer buffer;
    private final SoakConnection connection;
    private final AtomicBoolean told = new AtomicBoolean();

    FrameOutcome(SoakConnection connection, long seq, ByteBuffer buffer) {
        this.connection = connection;
        this.seq = seq;
        this.buffer = buffer;
    }

    @Override
    public void onComplete(Throwable failureOrNull) {
        if (!told.compareAndSet(false, true)) {
            connection.tallyAgain(this, failureOrNull);
            return;
        }
        connection.told(this, failureOrNull);
    }
}
