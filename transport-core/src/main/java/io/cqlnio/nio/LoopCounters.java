package io.cqlnio.nio;

import io.cqlnio.spi.ConnectionStats;
import io.cqlnio.spi.TransportStats;

/**
 * Running totals across connections and loops, summed into {@link TransportStats}. Not thread-safe: one caller
 * fills one instance (a loop for its closed connections, or {@code NioTransport#stats} for a snapshot).
 */
final class LoopCounters {

    int connections;
    long framesWritten;
    long bytesWritten;
    long framesRead;
    long bytesRead;
    long writeCalls;
    long shortWrites;
    long wakeups;
    long pendingBytes;
    long loopBusyNanos;
    long loopUptimeNanos;
    long maxLoopTurnNanos;

    /** Adds one connection's figures (an open one's pending bytes too). */
    void add(ConnectionStats s) {
        framesWritten += s.framesWritten();
        bytesWritten += s.bytesWritten();
        framesRead += s.framesRead();
        bytesRead += s.bytesRead();
        writeCalls += s.writeCalls();
        shortWrites += s.shortWrites();
        wakeups += s.wakeups();
        pendingBytes += s.pendingBytes();
    }

    /** Adds the connection totals of {@code other} (not its loop timings). */
    void addConnections(LoopCounters other) {
        connections += other.connections;
        framesWritten += other.framesWritten;
        bytesWritten += other.bytesWritten;
        framesRead += other.framesRead;
        bytesRead += other.bytesRead;
        writeCalls += other.writeCalls;
        shortWrites += other.shortWrites;
        wakeups += other.wakeups;
        pendingBytes += other.pendingBytes;
    }

    /** Adds one loop's timings: busy and up time add up, the longest turn is the longest of all. */
    void addLoop(long busyNanos, long uptimeNanos, long maxTurnNanos) {
        loopBusyNanos += busyNanos;
        loopUptimeNanos += uptimeNanos;
        maxLoopTurnNanos = Math.max(maxLoopTurnNanos, maxTurnNanos);
    }

    TransportStats toStats() {
        return new TransportStats(connections, framesWritten, bytesWritten, framesRead, bytesRead, writeCalls,
                shortWrites, wakeups, pendingBytes, loopBusyNanos, loopUptimeNanos, maxLoopTurnNanos);
    }
}
