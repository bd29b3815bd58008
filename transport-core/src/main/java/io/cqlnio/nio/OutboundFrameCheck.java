package io.cqlnio.nio;

import io.cqlnio.spi.FrameCodec;
import io.cqlnio.spi.ProtocolException;

import java.nio.ByteBuffer;

/**
 * Refuses, on the caller's thread, a frame whose bytes do not match its own header under the connection's codec:
 * fewer bytes than a header, a header the codec refuses (a version byte it does not know), or a declared length
 * other than the bytes given. A buffer that was never flipped, a body written short, a header from another
 * frame: each would otherwise go out, be reported written, and desynchronise the peer for every later frame,
 * which is the origin story's failure reached from the other side. Costs one header parse per frame; reads the
 * buffers with absolute gets, so positions and limits are untouched. Stateless and thread-safe.
 */
final class OutboundFrameCheck {

    private final FrameCodec codec;

    OutboundFrameCheck(FrameCodec codec) {
        this.codec = codec;
    }

    /** @throws IllegalArgumentException naming the numbers and {@code owner} when the frame does not match */
    void check(ByteBuffer single, ByteBuffer[] parts, Object owner) {
        long bytes;
        ByteBuffer first;
        if (parts == null) {
            bytes = single.remaining();
            first = single;
        } else {
            bytes = 0;
            for (ByteBuffer part : parts) {
                bytes += part.remaining();
            }
            first = parts.length == 0 ? null : parts[0];
        }
        int header = codec.headerLength();
        if (bytes < header) {
            throw new IllegalArgumentException("frame of " + bytes + " bytes refused on " + owner + ": shorter than"
                    + " the " + header + "-byte header (a buffer not flipped after it was filled?)");
        }
        ByteBuffer headerBytes = first.remaining() >= header ? first : joinHeader(parts, header);
        int declared;
        try {
            declared = codec.frameLength(headerBytes, headerBytes.position());
        } catch (ProtocolException e) {
            throw new IllegalArgumentException("frame of " + bytes + " bytes refused on " + owner + ": "
                    + e.getMessage(), e);
        }
        if (declared != bytes) {
            throw new IllegalArgumentException("frame refused on " + owner + ": its header declares " + declared
                    + " bytes (header included) but " + bytes + " bytes were given");
        }
    }

    /** The header spread over several parts, copied: rare (a header is rarely split), so it may allocate. */
    private static ByteBuffer joinHeader(ByteBuffer[] parts, int header) {
        ByteBuffer joined = ByteBuffer.allocate(header);
        for (int i = 0; i < parts.length && joined.hasRemaining(); i++) {
            ByteBuffer part = parts[i];
            for (int j = part.position(); j < part.limit() && joined.hasRemaining(); j++) {
                joined.put(part.get(j));
            }
        }
        return joined.flip();
    }
}
