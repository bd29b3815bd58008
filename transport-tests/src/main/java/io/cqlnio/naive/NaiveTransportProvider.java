package io.cqlnio.naive;

import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.TransportProvider;

/**
 * THE CONTROL, NOT A TRANSPORT TO USE: registers {@link NaiveTransport} as {@code "naive"}, the deliberately
 * broken baseline that ignores short writes the way the origin story's driver did.
 */
public final class NaiveTransportProvider implements TransportProvider {

    /** The name tests and the demo select it by. */
    public static final String NAME = "naive";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Transport create(TransportConfig config) {
        return new NaiveTransport(config);
    }
}
