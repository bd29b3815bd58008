package io.cqlnio.nio;

import io.cqlnio.spi.ConnectionClosedException;
import io.cqlnio.spi.ConnectionStats;

import java.nio.channels.SelectionKey;

/**
 * What a loop sees of a connection registered with it: readiness, the dirty mark, and the ways a connection is
 * ended from outside. Loop thread only, except {@link #stats()}.
 */
interface LoopMember {

    /** The selector reported {@code readyOps} for this member's key. */
    void onSelected(int readyOps);

    /** The member was marked dirty ({@link Loop#markDirty}): its writer is claimed and waits for a flush. */
    void flushFromLoop();

    /** The loop moved the member's channel to a new selector. */
    void rekeyed(SelectionKey key);

    /** Serving this member threw: close it with {@code t} as the cause. */
    void closeOnError(Throwable t);

    /** The transport is closing: fail a connect in progress, abort an open connection. */
    void closeOnTransportClose(ConnectionClosedException cause);

    /** Any thread. */
    ConnectionStats stats();
}
