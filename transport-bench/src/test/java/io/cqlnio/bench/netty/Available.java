package io.cqlnio.bench.netty;

import io.netty.channel.epoll.Epoll;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Skips a test of a native Netty provider where it cannot run: {@code netty-epoll} needs Linux and its native
 * library, {@code netty-io_uring} also a kernel that lets this process use io_uring (not refused by
 * {@code kernel.io_uring_disabled} or by a sandbox's seccomp filter). The reason is printed, so a skip is seen.
 */
final class Available {

    private Available() {
    }

    /** Skips the calling test (printing why) when the provider {@code name} cannot be created here. */
    static void assume(String name) {
        Throwable cause = unavailabilityCause(name);
        if (cause != null) {
            String message = "skipping " + name + ": it is not available here: " + cause;
            System.out.println(message);
            assumeTrue(false, message);
        }
    }

    /** Why {@code name} cannot be created here, or {@code null} when it can (and for netty-nio). */
    static Throwable unavailabilityCause(String name) {
        switch (name) {
            case NettyEpollTransportProvider.NAME:
                return Epoll.isAvailable() ? null : Epoll.unavailabilityCause();
            case NettyIoUringTransportProvider.NAME:
                return NettyIoUringTransportProvider.isAvailable() ? null
                        : NettyIoUringTransportProvider.unavailabilityCause();
            default:
                return null;
        }
    }
}
