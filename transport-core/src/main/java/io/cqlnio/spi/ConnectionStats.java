package io.cqlnio.spi;

/**
 * Counters of one connection, taken at one moment. Each figure is exact for its own counter; figures are
 * read one after another, so two of them may straddle a write.
 *
 * @param framesWritten  frames whose last byte was handed to the kernel
 * @param bytesWritten   bytes the kernel accepted
 * @param framesRead     whole frames delivered to the handler
 * @param bytesRead      bytes read from the socket
 * @param writeCalls     gathering write calls made on the socket
 * @param shortWrites    write calls that accepted fewer bytes than offered (zero-byte ones included)
 * @param zeroByteWrites write calls that accepted nothing
 * @param wakeups        selector wakeups this connection's writers caused (far fewer than writes under load)
 * @param pendingBytes   bytes accepted but not yet handed to the kernel
 */
public record ConnectionStats(long framesWritten, long bytesWritten, long framesRead, long bytesRead,
                              long writeCalls, long shortWrites, long zeroByteWrites, long wakeups,
                              long pendingBytes) {

    /**
     * Figures of this snapshot plus {@code other}'s; handy to total a pool of connections. Any thread.
     *
     * @param other another snapshot
     * @return a new snapshot holding the sums
     */
    public ConnectionStats plus(ConnectionStats other) {
        return new ConnectionStats(framesWritten + other.framesWritten, bytesWritten + other.bytesWritten,
                framesRead + other.framesRead, bytesRead + other.bytesRead, writeCalls + other.writeCalls,
                shortWrites + other.shortWrites, zeroByteWrites + other.zeroByteWrites, wakeups + other.wakeups,
                pendingBytes + other.pendingBytes);
    }
}
