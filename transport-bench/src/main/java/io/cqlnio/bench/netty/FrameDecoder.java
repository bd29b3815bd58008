package io.cqlnio.bench.netty;

import io.cqlnio.spi.FrameCodec;
import io.cqlnio.spi.ProtocolException;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;

import java.nio.ByteBuffer;
import java.util.List;

/**
 * Splits the inbound byte stream into whole frames with the configured {@link FrameCodec}: a length-field
 * decoder for the CQL header that validates the header (version byte, declared length against
 * {@code maxFrameLength}) before waiting for, or sizing anything from, the body. Each frame goes on as a
 * retained slice of the cumulation buffer (no copy); the next handler releases it.
 *
 * <p>Netty's {@code LengthFieldBasedFrameDecoder} would do the splitting, but it neither checks the version
 * byte nor closes the connection on an oversized frame (it skips it), so the check lives here.
 */
final class FrameDecoder extends ByteToMessageDecoder {

    private final NettyConnection connection;
    private final FrameCodec codec;
    private final int headerLength;
    private final int maxFrameLength;
    /** Once a header failed validation nothing after it can be trusted: the rest is dropped. */
    private boolean corrupt;

    FrameDecoder(NettyConnection connection, FrameCodec codec, int maxFrameLength) {
        this.connection = connection;
        this.codec = codec;
        this.headerLength = codec.headerLength();
        this.maxFrameLength = maxFrameLength;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        if (msg instanceof ByteBuf) {
            connection.countRead(((ByteBuf) msg).readableBytes());
        }
        super.channelRead(ctx, msg);
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (corrupt) {
            in.skipBytes(in.readableBytes());
            return;
        }
        while (in.readableBytes() >= headerLength) {
            int start = in.readerIndex();
            int frameLength = frameLength(in, start);
            if (in.readableBytes() < frameLength) {
                return; // the cumulator keeps the partial frame; nothing is sized from the declared length
            }
            out.add(in.readRetainedSlice(frameLength));
        }
    }

    private int frameLength(ByteBuf in, int start) {
        // The merge cumulator keeps one contiguous buffer, so the codec sees it without a copy.
        ByteBuffer header = in.nioBufferCount() == 1 ? in.internalNioBuffer(start, headerLength)
                : in.nioBuffer(start, headerLength);
        int length;
        try {
            length = codec.frameLength(header, header.position());
        } catch (ProtocolException e) {
            corrupt = true;
            throw new ProtocolException(e.getMessage() + " on " + connection, e);
        } catch (RuntimeException e) {
            corrupt = true;
            throw new ProtocolException("frame codec " + codec + " failed on " + connection + ": " + e, e);
        }
        if (length < headerLength || length > maxFrameLength) {
            corrupt = true;
            throw new ProtocolException("invalid frame length " + length + ": must be " + headerLength
                    + ".." + maxFrameLength + " (maxFrameLength) on " + connection);
        }
        return length;
    }
}
