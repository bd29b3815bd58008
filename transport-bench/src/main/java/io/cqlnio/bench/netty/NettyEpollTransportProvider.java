package io.cqlnio.bench.netty;

import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.TransportProvider;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;

/**
 * The Netty baseline on Linux's native epoll transport ({@code "netty-epoll"}). Listed on every platform;
 * {@link #create} fails with the reason where the native library cannot load.
 */
public final class NettyEpollTransportProvider implements TransportProvider {

    /** The name to pass to {@link io.cqlnio.spi.Transports#create}. */
    public static final String NAME = "netty-epoll";

    @Override
    public String name() {
        return NAME;
    }

    /** @throws IllegalStateException when epoll is not available here (not Linux x86_64, or no native library) */
    @Override
    public Transport create(TransportConfig config) {
        if (!Epoll.isAvailable()) {
            throw new IllegalStateException("netty-epoll is not available here", Epoll.unavailabilityCause());
        }
        return new NettyTransport(NAME, config, EpollIoHandler.newFactory(), EpollSocketChannel.class);
    }
}
