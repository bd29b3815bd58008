package io.cqlnio.bench.netty;

import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.TransportProvider;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringSocketChannel;

/**
 * The Netty baseline on Linux's io_uring ({@code "netty-io_uring"}): Netty 4.2's {@code IoUringIoHandler} event
 * loops and {@code IoUringSocketChannel}, with Netty's default ring settings. Listed on every platform;
 * {@link #create} fails with the reason where io_uring cannot be used: not Linux x86_64, no native library, a
 * kernel too old, or io_uring refused at run time ({@code kernel.io_uring_disabled}, a seccomp filter in a
 * container or sandbox).
 */
public final class NettyIoUringTransportProvider implements TransportProvider {

    /** The name to pass to {@link io.cqlnio.spi.Transports#create}. */
    public static final String NAME = "netty-io_uring";

    @Override
    public String name() {
        return NAME;
    }

    /** Any thread. Whether {@link #create} can succeed here; when not, {@link #unavailabilityCause()} says why. */
    public static boolean isAvailable() {
        return IoUring.isAvailable();
    }

    /** Any thread. Why io_uring cannot be used here, or {@code null} when it can. */
    public static Throwable unavailabilityCause() {
        return IoUring.unavailabilityCause();
    }

    /** @throws IllegalStateException naming the cause when io_uring is not available here */
    @Override
    public Transport create(TransportConfig config) {
        if (!IoUring.isAvailable()) {
            Throwable cause = IoUring.unavailabilityCause();
            throw new IllegalStateException(NAME + " is not available here: " + cause, cause);
        }
        try {
            return new NettyTransport(NAME, config, IoUringIoHandler.newFactory(), IoUringSocketChannel.class);
        } catch (IllegalStateException e) {
            // Each loop sets up its own ring when the group is built; the probe's ring succeeding does not
            // promise theirs will (e.g. a locked-memory limit on kernels before 5.12).
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new IllegalStateException(NAME + " cannot set up its io_uring event loops here: " + cause, e);
        }
    }
}
