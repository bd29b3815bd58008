package io.cqlnio.spi;

import io.cqlnio.frame.CqlFrameCodec;

import java.time.Duration;
import java.util.Objects;

/**
 * Settings of a transport: immutable, so one instance may be shared by any number of transports and
 * threads. Start from {@link #defaults()} or {@link #builder()}; {@link Builder#build()} rejects an invalid
 * value with an {@link IllegalArgumentException} that names the setting and the value.
 *
 * <pre>{@code
 * TransportConfig config = TransportConfig.builder()
 *         .loops(2)                                  // two selector threads, connections round-robin
 *         .sendBufferSize(64 * 1024)
 *         .writeHighWatermark(4 << 20).writeLowWatermark(2 << 20)
 *         .build();
 * }</pre>
 *
 * <table>
 * <caption>Settings and defaults</caption>
 * <tr><th>setting</th><th>default</th><th>meaning</th></tr>
 * <tr><td>loops</td><td>1</td><td>selector threads; connections are assigned round-robin</td></tr>
 * <tr><td>connectTimeout</td><td>5 s</td><td>a connect not finished by then fails</td></tr>
 * <tr><td>tcpNoDelay</td><td>true</td><td>TCP_NODELAY: CQL is request/response, never wait for Nagle</td></tr>
 * <tr><td>keepAlive</td><td>false</td><td>SO_KEEPALIVE</td></tr>
 * <tr><td>sendBufferSize</td><td>0 (OS default)</td><td>SO_SNDBUF in bytes</td></tr>
 * <tr><td>receiveBufferSize</td><td>0 (OS default)</td><td>SO_RCVBUF in bytes</td></tr>
 * <tr><td>readBufferSize</td><td>64 KiB</td><td>bytes read per call into each loop's shared read buffer</td></tr>
 * <tr><td>maxFrameLength</td><td>256 MiB</td><td>larger declared inbound frames close the connection
 *     with a {@link ProtocolException} (the Java driver's limit)</td></tr>
 * <tr><td>writeHighWatermark</td><td>1 MiB</td><td>pending bytes above this make the connection unwritable</td></tr>
 * <tr><td>writeLowWatermark</td><td>512 KiB</td><td>pending bytes below this make it writable again</td></tr>
 * <tr><td>maxBuffersPerWrite</td><td>1024</td><td>buffers in one gathering write (Linux IOV_MAX is 1024)</td></tr>
 * <tr><td>maxBytesPerWrite</td><td>1 MiB</td><td>upper bound of bytes offered to one write call; the
 *     transport adapts below it, halving after short writes and doubling after full ones</td></tr>
 * <tr><td>writeSpinCount</td><td>16</td><td>write calls per connection per loop turn before the loop
 *     serves others (Netty's figure)</td></tr>
 * <tr><td>frameCodec</td><td>{@link CqlFrameCodec#INSTANCE}</td><td>how inbound bytes split into frames</td></tr>
 * <tr><td>readIdleTimeout</td><td>0 (off)</td><td>{@link FrameHandler#onIdle} READ after this long without
 *     an inbound frame</td></tr>
 * <tr><td>writeIdleTimeout</td><td>0 (off)</td><td>{@link FrameHandler#onIdle} WRITE after this long
 *     without a frame finishing its write</td></tr>
 * <tr><td>tls</td><td>null (plaintext)</td><td>{@link TlsConfig}: TLS on every connection, handshake
 *     finished before {@link Transport#connect} completes</td></tr>
 * <tr><td>maxPendingBytes</td><td>0 (off)</td><td>hard cap: a write that would take pending bytes above it
 *     fails at once with a {@link TransportException} naming the limit and the pending count. Off by default,
 *     as in Netty: the watermarks are the cooperative signal, this is the backstop against unbounded memory</td></tr>
 * </table>
 *
 * <p>The watermark defaults are larger than Netty's 64/32 KiB because one CQL batch frame alone can pass
 * 64 KiB; they are advisory and only drive {@link Connection#isWritable()}.
 */
public final class TransportConfig {

    private static final TransportConfig DEFAULTS = new Builder().build();

    private final int loops;
    private final Duration connectTimeout;
    private final boolean tcpNoDelay;
    private final boolean keepAlive;
    private final int sendBufferSize;
    private final int receiveBufferSize;
    private final int readBufferSize;
    private final int maxFrameLength;
    private final long writeHighWatermark;
    private final long writeLowWatermark;
    private final int maxBuffersPerWrite;
    private final long maxBytesPerWrite;
    private final int writeSpinCount;
    private final FrameCodec frameCodec;
    private final Duration readIdleTimeout;
    private final Duration writeIdleTimeout;
    private final long maxPendingBytes;
    private final TlsConfig tls;

    private TransportConfig(Builder b) {
        loops = b.loops;
        connectTimeout = b.connectTimeout;
        tcpNoDelay = b.tcpNoDelay;
        keepAlive = b.keepAlive;
        sendBufferSize = b.sendBufferSize;
        receiveBufferSize = b.receiveBufferSize;
        readBufferSize = b.readBufferSize;
        maxFrameLength = b.maxFrameLength;
        writeHighWatermark = b.writeHighWatermark;
        writeLowWatermark = b.writeLowWatermark;
        maxBuffersPerWrite = b.maxBuffersPerWrite;
        maxBytesPerWrite = b.maxBytesPerWrite;
        writeSpinCount = b.writeSpinCount;
        frameCodec = b.frameCodec;
        readIdleTimeout = b.readIdleTimeout;
        writeIdleTimeout = b.writeIdleTimeout;
        maxPendingBytes = b.maxPendingBytes;
        tls = b.tls;
    }

    /** The defaults in the table above. */
    public static TransportConfig defaults() {
        return DEFAULTS;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this config's values, to change a few. */
    public Builder toBuilder() {
        return new Builder().loops(loops).connectTimeout(connectTimeout).tcpNoDelay(tcpNoDelay)
                .keepAlive(keepAlive).sendBufferSize(sendBufferSize).receiveBufferSize(receiveBufferSize)
                .readBufferSize(readBufferSize).maxFrameLength(maxFrameLength)
                .writeHighWatermark(writeHighWatermark).writeLowWatermark(writeLowWatermark)
                .maxBuffersPerWrite(maxBuffersPerWrite).maxBytesPerWrite(maxBytesPerWrite)
                .writeSpinCount(writeSpinCount).frameCodec(frameCodec).readIdleTimeout(readIdleTimeout)
                .writeIdleTimeout(writeIdleTimeout).maxPendingBytes(maxPendingBytes).tls(tls);
    }

    public int loops() { return loops; }
    public Duration connectTimeout() { return connectTimeout; }
    public boolean tcpNoDelay() { return tcpNoDelay; }
    public boolean keepAlive() { return keepAlive; }
    public int sendBufferSize() { return sendBufferSize; }
    public int receiveBufferSize() { return receiveBufferSize; }
    public int readBufferSize() { return readBufferSize; }
    public int maxFrameLength() { return maxFrameLength; }
    public long writeHighWatermark() { return writeHighWatermark; }
    public long writeLowWatermark() { return writeLowWatermark; }
    public int maxBuffersPerWrite() { return maxBuffersPerWrite; }
    public long maxBytesPerWrite() { return maxBytesPerWrite; }
    public int writeSpinCount() { return writeSpinCount; }
    public FrameCodec frameCodec() { return frameCodec; }
    public Duration readIdleTimeout() { return readIdleTimeout; }
    public Duration writeIdleTimeout() { return writeIdleTimeout; }
    public long maxPendingBytes() { return maxPendingBytes; }
    /** The TLS settings, or {@code null} for plaintext connections. */
    public TlsConfig tls() { return tls; }

    @Override
    public String toString() {
        return "TransportConfig{loops=" + loops + ", connectTimeout=" + connectTimeout + ", tcpNoDelay=" + tcpNoDelay
                + ", keepAlive=" + keepAlive + ", sendBufferSize=" + sendBufferSize + ", receiveBufferSize="
                + receiveBufferSize + ", readBufferSize=" + readBufferSize + ", maxFrameLength=" + maxFrameLength
                + ", writeHighWatermark=" + writeHighWatermark + ", writeLowWatermark=" + writeLowWatermark
                + ", maxBuffersPerWrite=" + maxBuffersPerWrite + ", maxBytesPerWrite=" + maxBytesPerWrite
                + ", writeSpinCount=" + writeSpinCount + ", frameCodec=" + frameCodec + ", readIdleTimeout="
                + readIdleTimeout + ", writeIdleTimeout=" + writeIdleTimeout + ", maxPendingBytes=" + maxPendingBytes
                + ", tls=" + tls + '}';
    }

    /** Collects settings; not thread-safe. Setters take any value; {@link #build()} checks them all. */
    public static final class Builder {
        private int loops = 1;
        private Duration connectTimeout = Duration.ofSeconds(5);
        private boolean tcpNoDelay = true;
        private boolean keepAlive;
        private int sendBufferSize;
        private int receiveBufferSize;
        private int readBufferSize = 64 * 1024;
        private int maxFrameLength = 256 * 1024 * 1024;
        private long writeHighWatermark = 1024 * 1024;
        private long writeLowWatermark = 512 * 1024;
        private int maxBuffersPerWrite = 1024;
        private long maxBytesPerWrite = 1024 * 1024;
        private int writeSpinCount = 16;
        private FrameCodec frameCodec = CqlFrameCodec.INSTANCE;
        private Duration readIdleTimeout = Duration.ZERO;
        private Duration writeIdleTimeout = Duration.ZERO;
        private long maxPendingBytes;
        private TlsConfig tls;

        private Builder() {
        }

        public Builder loops(int loops) { this.loops = loops; return this; }
        public Builder connectTimeout(Duration connectTimeout) { this.connectTimeout = connectTimeout; return this; }
        public Builder tcpNoDelay(boolean tcpNoDelay) { this.tcpNoDelay = tcpNoDelay; return this; }
        public Builder keepAlive(boolean keepAlive) { this.keepAlive = keepAlive; return this; }
        public Builder sendBufferSize(int bytes) { this.sendBufferSize = bytes; return this; }
        public Builder receiveBufferSize(int bytes) { this.receiveBufferSize = bytes; return this; }
        public Builder readBufferSize(int bytes) { this.readBufferSize = bytes; return this; }
        public Builder maxFrameLength(int bytes) { this.maxFrameLength = bytes; return this; }
        public Builder writeHighWatermark(long bytes) { this.writeHighWatermark = bytes; return this; }
        public Builder writeLowWatermark(long bytes) { this.writeLowWatermark = bytes; return this; }
        public Builder maxBuffersPerWrite(int buffers) { this.maxBuffersPerWrite = buffers; return this; }
        public Builder maxBytesPerWrite(long bytes) { this.maxBytesPerWrite = bytes; return this; }
        public Builder writeSpinCount(int calls) { this.writeSpinCount = calls; return this; }
        public Builder frameCodec(FrameCodec codec) { this.frameCodec = codec; return this; }
        /** {@link Duration#ZERO} turns read-idle detection off. */
        public Builder readIdleTimeout(Duration timeout) { this.readIdleTimeout = timeout; return this; }
        /** {@link Duration#ZERO} turns write-idle detection off. */
        public Builder writeIdleTimeout(Duration timeout) { this.writeIdleTimeout = timeout; return this; }
        /** 0 turns the cap off. */
        public Builder maxPendingBytes(long bytes) { this.maxPendingBytes = bytes; return this; }
        /** {@code null} (the default) for plaintext. */
        public Builder tls(TlsConfig tls) { this.tls = tls; return this; }

        /** @throws IllegalArgumentException naming the first invalid setting and its value */
        public TransportConfig build() {
            check(loops >= 1 && loops <= 1024, "loops", loops, "1..1024");
            check(connectTimeout != null && !connectTimeout.isNegative() && !connectTimeout.isZero(),
                    "connectTimeout", connectTimeout, "a positive duration");
            check(sendBufferSize >= 0, "sendBufferSize", sendBufferSize, ">= 0 (0 = OS default)");
            check(receiveBufferSize >= 0, "receiveBufferSize", receiveBufferSize, ">= 0 (0 = OS default)");
            check(readBufferSize >= 64, "readBufferSize", readBufferSize, ">= 64");
            check(maxFrameLength >= 1, "maxFrameLength", maxFrameLength, ">= 1");
            check(writeHighWatermark >= 1, "writeHighWatermark", writeHighWatermark, ">= 1");
            check(writeLowWatermark >= 0 && writeLowWatermark <= writeHighWatermark, "writeLowWatermark",
                    writeLowWatermark, "0..writeHighWatermark (" + writeHighWatermark + ")");
            check(maxBuffersPerWrite >= 1 && maxBuffersPerWrite <= 1024, "maxBuffersPerWrite", maxBuffersPerWrite,
                    "1..1024");
            check(maxBytesPerWrite >= 1, "maxBytesPerWrite", maxBytesPerWrite, ">= 1");
            check(writeSpinCount >= 1, "writeSpinCount", writeSpinCount, ">= 1");
            check(frameCodec != null, "frameCodec", null, "non-null");
            check(frameCodec.headerLength() >= 1, "frameCodec", frameCodec, "headerLength() >= 1");
            check(frameCodec.headerLength() <= readBufferSize, "readBufferSize", readBufferSize,
                    ">= frameCodec.headerLength() (" + frameCodec.headerLength() + ")");
            check(readIdleTimeout != null && !readIdleTimeout.isNegative(), "readIdleTimeout", readIdleTimeout,
                    ">= 0 (0 = off)");
            check(writeIdleTimeout != null && !writeIdleTimeout.isNegative(), "writeIdleTimeout", writeIdleTimeout,
                    ">= 0 (0 = off)");
            check(maxPendingBytes >= 0, "maxPendingBytes", maxPendingBytes, ">= 0 (0 = off)");
            return new TransportConfig(this);
        }

        private static void check(boolean ok, String setting, Object value, String allowed) {
            if (!ok) {
                throw new IllegalArgumentException(setting + " = " + value + " is invalid: must be " + allowed);
            }
        }
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof TransportConfig)) {
            return false;
        }
        TransportConfig c = (TransportConfig) o;
        return loops == c.loops && connectTimeout.equals(c.connectTimeout) && tcpNoDelay == c.tcpNoDelay
                && keepAlive == c.keepAlive && sendBufferSize == c.sendBufferSize
                && receiveBufferSize == c.receiveBufferSize && readBufferSize == c.readBufferSize
                && maxFrameLength == c.maxFrameLength && writeHighWatermark == c.writeHighWatermark
                && writeLowWatermark == c.writeLowWatermark && maxBuffersPerWrite == c.maxBuffersPerWrite
                && maxBytesPerWrite == c.maxBytesPerWrite && writeSpinCount == c.writeSpinCount
                && frameCodec.equals(c.frameCodec) && readIdleTimeout.equals(c.readIdleTimeout)
                && writeIdleTimeout.equals(c.writeIdleTimeout) && maxPendingBytes == c.maxPendingBytes
                && Objects.equals(tls, c.tls);
    }

    @Override
    public int hashCode() {
        return Objects.hash(loops, connectTimeout, tcpNoDelay, keepAlive, sendBufferSize, receiveBufferSize,
                readBufferSize, maxFrameLength, writeHighWatermark, writeLowWatermark, maxBuffersPerWrite,
                maxBytesPerWrite, writeSpinCount, frameCodec, readIdleTimeout, writeIdleTimeout, maxPendingBytes, tls);
    }
}
