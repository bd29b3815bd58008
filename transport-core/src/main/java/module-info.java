/**
 * cqlnio's transport: a non-blocking NIO socket transport that moves whole CQL frames and honours every short
 * write. Drivers compile against {@code io.cqlnio.spi} only, and select the implementation by name through
 * {@link io.cqlnio.spi.Transports}; {@code io.cqlnio.nio} (the loop) and {@code io.cqlnio.frame} (v5 segment
 * framing) stay internal.
 *
 * <pre>{@code
 * module my.driver {
 *     requires io.cqlnio.transport;
 * }
 * }</pre>
 *
 * @provides io.cqlnio.spi.TransportProvider {@code "nio"}, the selector-loop transport
 * @uses io.cqlnio.spi.TransportProvider to find transports by name, ours and others
 */
module io.cqlnio.transport {
    requires org.jctools.core;
    requires org.slf4j;
    // JCTools' queues use sun.misc.Unsafe but declare jdk.unsupported only 'requires static', which resolves
    // nothing at run time: without this line the first queue fails with NoClassDefFoundError on the module path.
    requires jdk.unsupported;
    // LZ4 segments only (Framing.V5_SEGMENTS_LZ4): lz4-java's automatic module, optional. A driver that asks for
    // LZ4 on the module path adds it with --add-modules org.lz4.java; without it, the switch says what is missing.
    requires static org.lz4.java;

    exports io.cqlnio.spi;

    uses io.cqlnio.spi.TransportProvider;
    provides io.cqlnio.spi.TransportProvider with io.cqlnio.nio.NioTransportProvider;
}
