package io.cqlnio.bench.netty;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.ssl.SslHandler;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLSession;
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

    /**
     * The most plaintext the JDK engine puts in one TLS 1.3 record: 2^14 bytes of record payload minus the inner
     * content type byte and the 16-byte AEAD tag (measured: a wrap of 16384 bytes consumes 16367 and produces a
     * 16405-byte record, for AES-GCM and ChaCha20 alike). TLS 1.2 records take the full 2^14.
     */
    static final int TLS13_RECORD_PLAINTEXT = 16384 - 1 - 16;

    /**
     * Loop thread, once the handshake succeeded and before any frame is written: makes each wrap call hand the
     * engine no more than one record's worth, so every call consumes all it is given.
     *
     * <p>Why: {@code SslHandler.wrap} takes {@code wrapDataSize} (default 16384) bytes off its plaintext queue
     * together with an aggregate promise carrying the listeners of the writes wholly inside them. When the engine
     * consumes less (TLS 1.3: 16367), the handler puts the 17 left-over bytes back at the head of its queue
     * <em>with that aggregate promise</em> and writes the record with a fresh promise of its own; the next take
     * folds the aggregate into its own, and so on, so the outcome of every write of a flush is chained to the
     * last record of that flush. A connection that dies before that last record is out then fails every frame of
     * the flush, including the ones whose records the peer already decrypted; and the nested notification goes
     * past {@code DefaultPromise}'s listener stack depth and comes back out of order. With wrap calls that fit a
     * record each, each record is written with the aggregate promise of exactly the writes it completes.
     */
    void fitWrapsToRecords(SSLSession session) {
        if ("TLSv1.3".equals(session.getProtocol())) {
            setWrapDataSize(TLS13_RECORD_PLAINTEXT);
        }
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        // The handshake starts in super.channelActive and reads the timeout then. 0 would mean "no timeout".
        long left = TimeUnit.NANOSECONDS.toMillis(deadlineNanos - System.nanoTime());
        setHandshakeTimeoutMillis(Math.max(1, left));
        super.channelActive(ctx);
    }
}
