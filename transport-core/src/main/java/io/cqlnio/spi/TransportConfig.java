package io.cqlnio.spi;

import java.time.Duration;
import java.util.Arrays;

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
 * <tr><td>writeThrough</td><td>true</td><td>a {@link Connection#write} that finds the connection's writer idle
 *     (nothing queued, nothing written for {@code writeThroughQuietTime}) makes the non-blocking gathering write
 *     itself, on the caller's thread, instead of waking the loop: one thread handoff less per request on a quiet
 *     connection. A short write leaves the rest to the loop. Never under TLS, nor on the loop's own thread</td></tr>
 * <tr><td>writeThroughQuietTime</td><td>10 µs</td><td>how long no write call may have touched a connection before
 *     a caller writes through. A write sooner than that is a burst: for 100 times this long (1 ms) every write
 *     on the connection is left to the loop, which gathers them into one write call. 0: write through whenever
 *     the writer is idle</td></tr>
 * <tr><td>pollsBeforeSleep</td><td>20</td><td>after a loop turn that did work, the loop polls its selector
 *     ({@code selectNow}, yielding the CPU between polls) up to this many times before it blocks in
 *     {@code select}: a reply that comes within those few tens of microseconds is read without a sleep and a
 *     wakeup. Yielding, not spinning, so on a small machine the peer gets the CPU meanwhile; bounded, so an
 *     idle loop sleeps. 0: block at once (docs/BENCHMARKS.md has both measured)</td></tr>
 * <tr><td>closeDrainTimeout</td><td>2 s</td><td>how long a graceful {@link Connection#close()} waits, after
 *     its last frame is with the kernel and its FIN (after close_notify, under TLS) is sent, for the peer to end
 *     its side. Meanwhile inbound frames are delivered as usual. Then bytes still unread are dropped, so that the
 *     socket closes with a FIN, not a reset that would destroy frames the peer had not read yet. With reading
 *     paused the drain lasts this long. 0..1 h; 0: close right after the FIN</td></tr>
 * <tr><td>frameCodec</td><td>{@link CqlFrameCodec#INSTANCE}</td><td>how inbound bytes split into frames</td></tr>
 * <tr><td>readIdleTimeout</td><td>0 (off)</td><td>{@link FrameHandler#onIdle} READ after this long without
 *     an inbound frame</td></tr>
 * <tr><td>writeIdleTimeout</td><td>0 (off)</td><td>{@link FrameHandler#onIdle} WRITE after this long
 *     without a frame finishing its write</td></tr>
 * <tr><td>maxPendingBytes</td><td>0 (off)</td><td>hard cap: a write that would take pending bytes above it
 *     fails at once with a {@link TransportException} naming the limit and the pending count. Off by default,
 *     as in Netty: the watermarks are the cooperative signal, this is the backstop against unbounded memory</td></tr>
 * <tr><td>tls</td><td>null (plaintext)</td><td>{@link TlsConfig}: TLS on every connection, handshake
 *     finished before {@link Transport#connect} completes</td></tr>
 * <tr><td>checkOutboundFrames</td><td>true</td><td>{@link Connection#write} refuses, with an
 *     {@link IllegalArgumentException} on the caller's thread, a frame whose bytes do not match its own header
 *     under {@code frameCodec} (shorter than a header, a header the codec refuses, or a declared length other
 *     than the bytes given): a buffer never flipped or a body written short is caught before it desynchronises
 *     the peer. One header parse per frame; turn it off only if the driver checks its frames itself</td></tr>
 * </table>
 *
 * <p>The watermark defaults are larger than Netty's 64/32 KiB because one CQL batch frame alone can pass
 * 64 KiB; they are advisory and only drive {@link Connection#isWritable()}.
 *
 * <p>Threads: a config is immutable and every method of it may be called from any thread; a {@link Builder}
 * belongs to one thread at a time.
 */
public final class TransportConfig {

    private static final TransportConfig DEFAULTS = builder().build();

    /**
     * A validated copy of a builder's values that nothing else refers to, so it never changes; the final field
     * publishes it safely to every thread.
     */
    private final Values values;

    private TransportConfig(Values values) {
        this.values = values;
    }

    /** {@return the defaults in the table above, the same instance every time} */
    public static TransportConfig defaults() {
        return DEFAULTS;
    }

    /** {@return a new builder holding the defaults} */
    public static Builder builder() {
        return new Builder(new Values());
    }

    /** {@return a new builder holding this config's values, to change a few} */
    public Builder toBuilder() {
        return new Builder(values.copy());
    }

    /** {@return selector threads of a transport; connections are assigned to them round-robin} */
    public int loops() { return values.loops; }
    /** {@return how long a connect (and its TLS handshake) may take before it fails} */
    public Duration connectTimeout() { return values.connectTimeout; }
    /** {@return whether sockets get TCP_NODELAY} */
    public boolean tcpNoDelay() { return values.tcpNoDelay; }
    /** {@return whether sockets get SO_KEEPALIVE} */
    public boolean keepAlive() { return values.keepAlive; }
    /** {@return SO_SNDBUF in bytes, or 0 for the OS default} */
    public int sendBufferSize() { return values.sendBufferSize; }
    /** {@return SO_RCVBUF in bytes, or 0 for the OS default} */
    public int receiveBufferSize() { return values.receiveBufferSize; }
    /** {@return bytes read per call into each loop's shared read buffer} */
    public int readBufferSize() { return values.readBufferSize; }
    /** {@return the largest declared inbound frame, header included; a larger one closes the connection} */
    public int maxFrameLength() { return values.maxFrameLength; }
    /** {@return pending bytes above which a connection becomes unwritable} */
    public long writeHighWatermark() { return values.writeHighWatermark; }
    /** {@return pending bytes below which an unwritable connection becomes writable again} */
    public long writeLowWatermark() { return values.writeLowWatermark; }
    /** {@return the most buffers offered to one gathering write} */
    public int maxBuffersPerWrite() { return values.maxBuffersPerWrite; }
    /** {@return the most bytes offered to one write call} */
    public long maxBytesPerWrite() { return values.maxBytesPerWrite; }
    /** {@return write calls per connection per loop turn before the loop serves other connections} */
    public int writeSpinCount() { return values.writeSpinCount; }
    /** {@return whether a caller that finds the writer idle writes through on its own thread} */
    public boolean writeThrough() { return values.writeThrough; }
    /** {@return how long no write call may have touched a connection before a caller writes through} */
    public Duration writeThroughQuietTime() { return values.writeThroughQuietTime; }
    /** {@return how many times the loop polls its selector after a busy turn before it blocks} */
    public int pollsBeforeSleep() { return values.pollsBeforeSleep; }
    /** {@return how long a graceful close waits for the peer's end of stream after sending its own} */
    public Duration closeDrainTimeout() { return values.closeDrainTimeout; }
    /** {@return how inbound bytes split into frames; never null} */
    public FrameCodec frameCodec() { return values.frameCodec; }
    /** {@return the quiet time after which {@link FrameHandler#onIdle} READ fires, or zero for never} */
    public Duration readIdleTimeout() { return values.readIdleTimeout; }
    /** {@return the quiet time after which {@link FrameHandler#onIdle} WRITE fires, or zero for never} */
    public Duration writeIdleTimeout() { return values.writeIdleTimeout; }
    /** {@return the pending bytes a write may not take a connection above, or 0 for no cap} */
    public long maxPendingBytes() { return values.maxPendingBytes; }
    /** {@return the TLS settings, or {@code null} for plaintext connections} */
    public TlsConfig tls() { return values.tls; }
    /** {@return whether {@link Connection#write} checks each frame against its own header} */
    public boolean checkOutboundFrames() { return values.checkOutboundFrames; }

    /** {@return whether {@code o} is a config with the same value for every setting} */
    @Override
    public boolean equals(Object o) {
        return o instanceof TransportConfig && Arrays.equals(values.named(), ((TransportConfig) o).values.named());
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(values.named());
    }

    /** {@return every setting as {@code name=value}, in the order of the table above} */
    @Override
    public String toString() {
        Object[] named = values.named();
        StringBuilder s = new StringBuilder("TransportConfig{");
        for (int i = 0; i < named.length; i += 2) {
            s.append(i == 0 ? "" : ", ").append(named[i]).append('=').append(named[i + 1]);
        }
        return s.append('}').toString();
    }

    /**
     * Collects settings for one {@link TransportConfig}. Setters take any value; {@link #build()} checks them all,
     * so a setter's {@code @param} says what {@code build()} will accept. Threads: not thread-safe; one thread at a
     * time.
     */
    public static final class Builder {
        private final Values values;

        private Builder(Values values) {
            this.values = values;
        }

        /**
         * @param loops selector threads, 1..1024
         * @return this builder
         */
        public Builder loops(int loops) { values.loops = loops; return this; }
        /**
         * @param connectTimeout a positive duration, covering connect and TLS handshake together
         * @return this builder
         */
        public Builder connectTimeout(Duration connectTimeout) { values.connectTimeout = connectTimeout; return this; }
        /**
         * @param tcpNoDelay whether to set TCP_NODELAY
         * @return this builder
         */
        public Builder tcpNoDelay(boolean tcpNoDelay) { values.tcpNoDelay = tcpNoDelay; return this; }
        /**
         * @param keepAlive whether to set SO_KEEPALIVE
         * @return this builder
         */
        public Builder keepAlive(boolean keepAlive) { values.keepAlive = keepAlive; return this; }
        /**
         * @param bytes SO_SNDBUF, {@code >= 0}; 0 keeps the OS default
         * @return this builder
         */
        public Builder sendBufferSize(int bytes) { values.sendBufferSize = bytes; return this; }
        /**
         * @param bytes SO_RCVBUF, {@code >= 0}; 0 keeps the OS default
         * @return this builder
         */
        public Builder receiveBufferSize(int bytes) { values.receiveBufferSize = bytes; return this; }
        /**
         * @param bytes {@code >= 64} and at least the codec's header length
         * @return this builder
         */
        public Builder readBufferSize(int bytes) { values.readBufferSize = bytes; return this; }
        /**
         * @param bytes {@code >= 1}
         * @return this builder
         */
        public Builder maxFrameLength(int bytes) { values.maxFrameLength = bytes; return this; }
        /**
         * @param bytes {@code >= 1}
         * @return this builder
         */
        public Builder writeHighWatermark(long bytes) { values.writeHighWatermark = bytes; return this; }
        /**
         * @param bytes 0..writeHighWatermark
         * @return this builder
         */
        public Builder writeLowWatermark(long bytes) { values.writeLowWatermark = bytes; return this; }
        /**
         * @param buffers 1..1024 (Linux IOV_MAX is 1024)
         * @return this builder
         */
        public Builder maxBuffersPerWrite(int buffers) { values.maxBuffersPerWrite = buffers; return this; }
        /**
         * @param bytes {@code >= 1}
         * @return this builder
         */
        public Builder maxBytesPerWrite(long bytes) { values.maxBytesPerWrite = bytes; return this; }
        /**
         * @param calls {@code >= 1}
         * @return this builder
         */
        public Builder writeSpinCount(int calls) { values.writeSpinCount = calls; return this; }
        /**
         * @param enabled {@code true} (the default) to let a caller that finds the writer idle write through
         * @return this builder
         */
        public Builder writeThrough(boolean enabled) { values.writeThrough = enabled; return this; }
        /**
         * @param quietTime non-null, 0..1 s; {@link Duration#ZERO} writes through whenever the writer is idle
         * @return this builder
         */
        public Builder writeThroughQuietTime(Duration quietTime) {
            values.writeThroughQuietTime = quietTime;
            return this;
        }
        /**
         * @param polls 0..1,000,000; 0 blocks in {@code select} as soon as a turn found nothing to do
         * @return this builder
         */
        public Builder pollsBeforeSleep(int polls) { values.pollsBeforeSleep = polls; return this; }
        /**
         * @param timeout non-null, 0..1 h; {@link Duration#ZERO} closes right after the FIN
         * @return this builder
         */
        public Builder closeDrainTimeout(Duration timeout) { values.closeDrainTimeout = timeout; return this; }
        /**
         * @param codec non-null, stateless or thread-safe, with a header length of 1..readBufferSize
         * @return this builder
         */
        public Builder frameCodec(FrameCodec codec) { values.frameCodec = codec; return this; }
        /**
         * @param timeout non-null, {@code >= 0}; {@link Duration#ZERO} turns read-idle detection off
         * @return this builder
         */
        public Builder readIdleTimeout(Duration timeout) { values.readIdleTimeout = timeout; return this; }
        /**
         * @param timeout non-null, {@code >= 0}; {@link Duration#ZERO} turns write-idle detection off
         * @return this builder
         */
        public Builder writeIdleTimeout(Duration timeout) { values.writeIdleTimeout = timeout; return this; }
        /**
         * @param bytes {@code >= 0}; 0 turns the cap off
         * @return this builder
         */
        public Builder maxPendingBytes(long bytes) { values.maxPendingBytes = bytes; return this; }
        /**
         * @param tls the TLS settings, or {@code null} (the default) for plaintext
         * @return this builder
         */
        public Builder tls(TlsConfig tls) { values.tls = tls; return this; }
        /**
         * @param check {@code true} (the default) to refuse a frame whose bytes do not match its header
         * @return this builder
         */
        public Builder checkOutboundFrames(boolean check) { values.checkOutboundFrames = check; return this; }

        /**
         * Checks every setting and takes a copy, so this builder may go on changing without touching the result.
         *
         * @return a new immutable config
         * @throws IllegalArgumentException naming the first invalid setting, its value and what it must be, e.g.
         *         {@code writeLowWatermark = 2097152 is invalid: must be 0..writeHighWatermark (1048576)}
         */
        public TransportConfig build() {
            Values copy = values.copy();
            copy.validate();
            return new TransportConfig(copy);
        }
    }

    /** Every setting with its default: the one place the builder writes and the config reads. */
    private static final class Values implements Cloneable {
        int loops = 1;
        Duration connectTimeout = Duration.ofSeconds(5);
        boolean tcpNoDelay = true;
        boolean keepAlive;
        int sendBufferSize;
        int receiveBufferSize;
        int readBufferSize = 64 * 1024;
        int maxFrameLength = 256 * 1024 * 1024;
        long writeHighWatermark = 1024 * 1024;
        long writeLowWatermark = 512 * 1024;
        int maxBuffersPerWrite = 1024;
        long maxBytesPerWrite = 1024 * 1024;
        int writeSpinCount = 16;
        boolean writeThrough = true;
        Duration writeThroughQuietTime = Duration.ofNanos(10_000);
        int pollsBeforeSleep = 20;
        Duration closeDrainTimeout = Duration.ofSeconds(2);
        FrameCodec frameCodec = CqlFrameCodec.INSTANCE;
        Duration readIdleTimeout = Duration.ZERO;
        Duration writeIdleTimeout = Duration.ZERO;
        long maxPendingBytes;
        TlsConfig tls;
        boolean checkOutboundFrames = true;

        /** Every value is immutable itself, so a shallow copy is a full one. */
        Values copy() {
            try {
                return (Values) clone();
            } catch (CloneNotSupportedException e) {
                throw new AssertionError(e);
            }
        }

        /** Stops at the first invalid setting, so a message names one setting and one value. */
        void validate() {
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
            check(writeThroughQuietTime != null && !writeThroughQuietTime.isNegative()
                    && writeThroughQuietTime.compareTo(Duration.ofSeconds(1)) <= 0, "writeThroughQuietTime",
                    writeThroughQuietTime, "0..1 s");
            check(pollsBeforeSleep >= 0 && pollsBeforeSleep <= 1_000_000, "pollsBeforeSleep", pollsBeforeSleep,
                    "0..1000000");
            check(closeDrainTimeout != null && !closeDrainTimeout.isNegative()
                    && closeDrainTimeout.compareTo(Duration.ofHours(1)) <= 0, "closeDrainTimeout",
                    closeDrainTimeout, "0..1 h (0 = close right after the FIN)");
            check(frameCodec != null, "frameCodec", null, "non-null");
            check(frameCodec.headerLength() >= 1, "frameCodec", frameCodec, "headerLength() >= 1");
            check(frameCodec.headerLength() <= readBufferSize, "readBufferSize", readBufferSize,
                    ">= frameCodec.headerLength() (" + frameCodec.headerLength() + ")");
            check(readIdleTimeout != null && !readIdleTimeout.isNegative(), "readIdleTimeout", readIdleTimeout,
                    ">= 0 (0 = off)");
            check(writeIdleTimeout != null && !writeIdleTimeout.isNegative(), "writeIdleTimeout", writeIdleTimeout,
                    ">= 0 (0 = off)");
            check(maxPendingBytes >= 0, "maxPendingBytes", maxPendingBytes, ">= 0 (0 = off)");
        }

        /** Names and values, alternating: what equals, hashCode and toString compare and print. */
        Object[] named() {
            return new Object[] {"loops", loops, "connectTimeout", connectTimeout, "tcpNoDelay", tcpNoDelay,
                "keepAlive", keepAlive, "sendBufferSize", sendBufferSize, "receiveBufferSize", receiveBufferSize,
                "readBufferSize", readBufferSize, "maxFrameLength", maxFrameLength,
                "writeHighWatermark", writeHighWatermark, "writeLowWatermark", writeLowWatermark,
                "maxBuffersPerWrite", maxBuffersPerWrite, "maxBytesPerWrite", maxBytesPerWrite,
                "writeSpinCount", writeSpinCount, "writeThrough", writeThrough,
                "writeThroughQuietTime", writeThroughQuietTime, "pollsBeforeSleep", pollsBeforeSleep,
                "closeDrainTimeout", closeDrainTimeout, "frameCodec", frameCodec, "readIdleTimeout", readIdleTimeout,
                "writeIdleTimeout", writeIdleTimeout, "maxPendingBytes", maxPendingBytes, "tls", tls,
                "checkOutboundFrames", checkOutboundFrames};
        }

        private static void check(boolean ok, String setting, Object value, String allowed) {
            if (!ok) {
                throw new IllegalArgumentException(setting + " = " + value + " is invalid: must be " + allowed);
            }
        }
    }
}
