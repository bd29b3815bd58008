package io.cqlnio.bench.netty;

import io.cqlnio.spi.WriteListener;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;

/**
 * One accepted frame on its way from a producer thread to {@code channel.write}: the entry of the write
 * coalescer's queue, and (when the caller gave a listener) the listener of its Netty promise, so one
 * object per frame carries both roles.
 */
final class PendingWrite implements ChannelFutureListener {

    final NettyConnection connection;
    /** The caller's buffers wrapped without a copy; {@code null} for the graceful-close marker. */
    final ByteBuf message;
    final int bytes;
    final WriteListener listener;
    /** TLS path, loop thread only: the promise came back (with {@link #failure}), and the outcome was told. */
    boolean done;
    Throwable failure;
    boolean reported;
    /** TLS path, loop thread only: its bytes left the connection's pending count. */
    boolean settled;

    PendingWrite(NettyConnection connection, ByteBuf message, int bytes, WriteListener listener) {
        this.connection = connection;
        this.message = message;
        this.bytes = bytes;
        this.listener = listener;
    }

    /** The marker {@link NettyConnection#close()} queues behind every frame accepted before it. */
    static PendingWrite closeMarker(NettyConnection connection) {
        return new PendingWrite(connection, null, 0, null);
    }

    boolean isCloseMarker() {
        return message == null;
    }

    @Override
    public void operationComplete(ChannelFuture future) {
        connection.writeCompleted(this, future.cause());
    }
}
