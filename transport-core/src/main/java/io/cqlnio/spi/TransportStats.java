package io.cqlnio.spi;

/**
 * Counters of a whole transport, across its loops and every connection it ever had, taken at one moment.
 * Cheap: poll it every second. Counters only grow (except {@code connections} and {@code pendingBytes});
 * subtract two snapshots for a rate.
 *
 * <pre>{@code
 * TransportStats before = transport.stats();
 * Thread.sleep(1000);
 * TransportStats now = transport.stats();
 * double framesOutPerSecond = now.framesWritten() - before.framesWritten();
 * double busy = now.busyRatioSince(before);          // 0..1 of the loops' time spent working
 * }</pre>
 *
 * @param connections          connections open now
 * @param framesWritten        frames whose last byte was handed to the kernel
 * @param bytesWritten         bytes the kernel accepted
 * @param framesRead           whole frames delivered to handlers
 * @param bytesRead            bytes read from sockets
 * @param writeCalls           gathering write calls; {@code framesWritten / writeCalls} is the batching achieved
 * @param shortWrites          write calls that accepted fewer bytes than offered (zero-byte ones included)
 * @param wakeups              selector wakeups caused by writers (far fewer than writes when loops are busy)
 * @param pendingBytes         bytes accepted and not yet handed to the kernel, now
 * @param loopBusyNanos        time the loops spent working (not blocked in select), summed over loops
 * @param loopUptimeNanos      time the loops have been running, summed over loops
 * @param maxLoopTurnNanos     the longest single duty cycle of any loop (a blocking handler shows here)
 */
public record TransportStats(int connections, long framesWritten, long bytesWritten, long framesRead,
                             long bytesRead, long writeCalls, long shortWrites, long wakeups, long pendingBytes,
                             long loopBusyNanos, long loopUptimeNanos, long maxLoopTurnNanos) {

    /** {@return frames per gathering write call since start; 0 before the first call} */
    public double framesPerWriteCall() {
        return writeCalls == 0 ? 0 : (double) framesWritten / writeCalls;
    }

    /** {@return the share of loop time spent working since start, 0..1} */
    public double busyRatio() {
        return loopUptimeNanos == 0 ? 0 : (double) loopBusyNanos / loopUptimeNanos;
    }

    /**
     * @param earlier a snapshot of the same transport taken before this one
     * @return the share of loop time spent working between {@code earlier} and this snapshot, 0..1
     */
    public double busyRatioSince(TransportStats earlier) {
        long up = loopUptimeNanos - earlier.loopUptimeNanos;
        return up <= 0 ? 0 : (double) (loopBusyNanos - earlier.loopBusyNanos) / up;
    }
}
