package io.cqlnio.bench.netty;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.ssl.SslHandler;

import javax.net.ssl.SSLEngine;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

/**
 * Netty's {@link SslHandler} (JDK {@link SSLEngine}, client mode) whose handshake timeout is whatever is left of
 * the connect timeout when the TCP connection comes up, so {@code connectTimeout} bounds connect and handshake
 * together, as the SPI asks. Everything else is Netty's own: records of up to 16 KiB of plaintext
 * (its default wrap size), close_notify sent when the channel is closed through the pipeline; the one setting
 * changed is how long a graceful close then reads while it waits for the peer's close_notify (see below).
 *
 * <p>Loop thread only, like every Netty handler.
 */
final class ClientTlsHandler extends SslHandler {

    /** How long a graceful close waits for the peer's close_notify before closing the socket anyway. */
    static final long CLOSE_NOTIFY_READ_TIMEOUT_MILLIS = 1000;

    private final long deadlineNanos;

    /** {@code deadlineNanos} is on {@link System#nanoTime()}'s scale: when connect plus handshake must be done. */
    ClientTlsHandler(SSLEngine engine, Executor delegatedTasks, long deadlineNanos) {
        super(engine, delegatedTasks);
        this.deadlineNanos = deadlineNanos;
        // After our close_notify, read (bounded) until the peer's: a TLS 1.3 server sends a session ticket right
        // after the handshake, and closing the socket with it unread makes the kernel send a reset, which can
        // destroy frames the peer has received but not read yet.
        setCloseNotifyReadTimeoutMillis(CLOSE_NOTIFY_READ_TIMEOUT_MILLIS);
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        // The handshake starts in super.channelActive and reads the timeout then. 0 would mean "no timeout".
        long left = TimeUnit.NANOSECONDS.toMillis(deadlineNanos - System.nanoTime());
        setHandshakeTimeoutMillis(Math.max(1, left));
        super.channelActive(ctx);
    }
}
