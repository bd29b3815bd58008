package io.cqlnio.bench.netty;

import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.TransportProvider;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;

/**
 * The Netty baseline on Java NIO ({@code "netty-nio"}): Netty 4.2's {@code NioIoHandler} event loops and
 * {@code NioSocketChannel}, driven the way a Netty-based CQL driver drives them.
 */
public final class NettyNioTransportProvider implements TransportProvider {

    /** The name to pass to {@link io.cqlnio.spi.Transports#create}. */
    public static final String NAME = "netty-nio";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Transport create(TransportConfig config) {
        return new NettyTransport(NAME, config, NioIoHandler.newFactory(), NioSocketChannel.class);
    }
}
