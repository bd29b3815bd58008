package io.cqlnio.nio;

import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.TransportProvider;

/**
 * cqlnio's own transport, named {@code "nio"}: single-threaded selector loops, MPSC frame queues,
 * gathering writes that honour every short write.
 *
 * <pre>{@code
 * Transport transport = Transports.create("nio", TransportConfig.defaults());
 * }</pre>
 */
public final class NioTransportProvider implements TransportProvider {

    /** The name drivers select this transport by. */
    public static final String NAME = "nio";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Transport create(TransportConfig config) {
        return new NioTransport(config);
    }
}
