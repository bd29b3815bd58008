package io.cqlnio.bench;

import io.cqlnio.bench.tls.TestCertificates;
import io.cqlnio.spi.TlsConfig;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * What a benchmark trial sets up: the peer, the transport under test ({@code "blocking"} is the raw socket
 * ceiling, anything else is looked up with {@link Transports#create}) and its connections. Every SPI
 * transport gets the same {@link #CONFIG}, or over TLS the same {@link #tlsConfig()}: JDK {@code SSLEngine}
 * on both sides, host name checked (the peer's certificate names 127.0.0.1, which is what we connect to).
 * The blocking ceiling has no TLS variant: an {@code SSLSocket} writes one stream, not a gathering write of
 * the caller's buffers, so it would be a different ceiling; TLS runs compare the SPI transports only.
 */
final class Harness implements AutoCloseable {

    /** The name of the raw blocking-socket ceiling, which is not an SPI provider. */
    static final String BLOCKING = "blocking";

    /**
     * Identical for every transport: one loop, TCP_NODELAY, OS socket buffers, the default watermarks. nio's own
     * settings are measured at other values with {@code -jvmArgsAppend}: {@code -Dcqlnio.bench.checkOutboundFrames=false}
     * (the outbound frame check, on by default), {@code -Dcqlnio.bench.writeThrough=false} (write-through, on),
     * {@code -Dcqlnio.bench.writeThroughQuietNanos=N} (10,000) and {@code -Dcqlnio.bench.pollsBeforeSleep=N} (0).
     */
    static final TransportConfig CONFIG = nioSettings(TransportConfig.builder().loops(1).tcpNoDelay(true)).build();

    private static TransportConfig.Builder nioSettings(TransportConfig.Builder b) {
        TransportConfig defaults = TransportConfig.defaults();
        return b.checkOutboundFrames(Boolean.parseBoolean(System.getProperty("cqlnio.bench.checkOutboundFrames",
                        "true")))
                .writeThrough(Boolean.parseBoolean(System.getProperty("cqlnio.bench.writeThrough",
                        String.valueOf(defaults.writeThrough()))))
                .writeThroughQuietTime(java.time.Duration.ofNanos(Long.getLong("cqlnio.bench.writeThroughQuietNanos",
                        defaults.writeThroughQuietTime().toNanos())))
                .pollsBeforeSleep(Integer.getInteger("cqlnio.bench.pollsBeforeSleep", defaults.pollsBeforeSleep()));
    }

    private final EchoPeer peer;
    private final Transport transport;
    private final BenchConnection[] connections;
    private final AtomicInteger nextProducer = new AtomicInteger();

    private Harness(EchoPeer peer, Transport transport, BenchConnection[] connections) {
        this.peer = peer;
        this.transport = transport;
        this.connections = connections;
    }

    /** {@link #CONFIG} plus TLS with the test certificates' client context (built once per JVM). */
    static TransportConfig tlsConfig() {
        return CONFIG.toBuilder().tls(TlsConfig.of(TestCertificates.get().clientContext())).build();
    }

    static Harness open(String transportName, int frameSize, int window, int connectionCount, boolean oneWay,
                        boolean inline) throws Exception {
        return open(transportName, frameSize, window, connectionCount, oneWay, inline, false);
    }

    static Harness open(String transportName, int frameSize, int window, int connectionCount, boolean oneWay,
                        boolean inline, boolean tls) throws Exception {
        return open(transportName, frameSize, window, connectionCount, oneWay, inline, tls, false);
    }

    /** As above; {@code randomBodies}: frame bodies LZ4 cannot shrink (see {@link Frames#newFrame(int, int, boolean)}). */
    static Harness open(String transportName, int frameSize, int window, int connectionCount, boolean oneWay,
                        boolean inline, boolean tls, boolean randomBodies) throws Exception {
        if (tls && BLOCKING.equals(transportName)) {
            throw new IllegalArgumentException("the blocking ceiling has no TLS variant: run tls=true with the SPI"
                    + " transports only (-p transport=nio,netty-nio,...)");
        }
        EchoPeer.Mode mode = oneWay ? EchoPeer.Mode.DISCARD : EchoPeer.Mode.ECHO;
        EchoPeer peer = tls ? EchoPeer.start(mode, TestCertificates.get().serverContext()) : EchoPeer.start(mode);
        Transport transport = null;
        BenchConnection[] connections = new BenchConnection[connectionCount];
        try {
            if (!BLOCKING.equals(transportName)) {
                transport = Transports.create(transportName, tls ? tlsConfig() : CONFIG);
            }
            for (int i = 0; i < connectionCount; i++) {
                connections[i] = transport == null
                        ? new BlockingBenchConnection(peer.address(), frameSize, window, oneWay, inline)
                        : new SpiBenchConnection(transport, peer.address(), frameSize, window, oneWay,
                                randomBodies);
            }
            return new Harness(peer, transport, connections);
        } catch (Exception | Error e) {
            new Harness(peer, transport, connections).close();
            throw e;
        }
    }

    /** Switches every SPI connection's framing before any frame is sent (see {@code ThroughputBenchmark.framing}). */
    void switchFraming(io.cqlnio.spi.Framing framing) {
        for (BenchConnection c : connections) {
            if (!(c instanceof SpiBenchConnection)) {
                throw new IllegalArgumentException("framing " + framing + " needs an SPI transport");
            }
            ((SpiBenchConnection) c).switchFraming(framing);
        }
    }

    /** The connections producer {@code index} of {@code producers} drives: every producers-th one. */
    BenchConnection[] connectionsOf(int producers) {
        if (producers > connections.length) {
            throw new IllegalArgumentException(producers + " producer threads for " + connections.length
                    + " connections: each connection has one producer; use -t <= connections");
        }
        int index = nextProducer.getAndIncrement() % producers;
        int count = (connections.length - index + producers - 1) / producers;
        BenchConnection[] mine = new BenchConnection[count];
        for (int i = 0; i < count; i++) {
            mine[i] = connections[index + i * producers];
        }
        return mine;
    }

    long frames() {
        long sum = 0;
        for (BenchConnection c : connections) {
            sum += c.frames();
        }
        return sum;
    }

    long bytes() {
        long sum = 0;
        for (BenchConnection c : connections) {
            sum += c.bytes();
        }
        return sum;
    }

    /** Bytes the transports handed to the kernel (segment headers and compression included). */
    long wireBytesWritten() {
        long sum = 0;
        for (BenchConnection c : connections) {
            sum += c.wireBytesWritten();
        }
        return sum;
    }

    long writeCalls() {
        long sum = 0;
        for (BenchConnection c : connections) {
            sum += c.writeCalls();
        }
        return sum;
    }

    void awaitIdle() {
        for (BenchConnection c : connections) {
            c.awaitIdle();
        }
    }

    @Override
    public void close() throws Exception {
        try {
            for (BenchConnection c : connections) {
                if (c != null) {
                    c.close();
                }
            }
        } finally {
            try {
                if (transport != null) {
                    transport.close();
                }
            } finally {
                peer.close();
            }
        }
    }
}
