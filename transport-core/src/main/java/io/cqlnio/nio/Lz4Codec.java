package io.cqlnio.nio;

import io.cqlnio.spi.ProtocolException;
import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4SafeDecompressor;

import java.nio.ByteBuffer;

/**
 * LZ4 raw blocks (no LZ4 frame format), as Cassandra's v5 segments carry them: the fast compressor and the safe
 * decompressor of lz4-java's fastest available implementation, the pair the server uses. The only class that
 * names lz4-java's types; it is loaded once {@link Lz4Dependency} found them, so a connection that never asks for
 * LZ4 never needs the optional jar.
 *
 * <p>Stateless and thread-safe (lz4-java's compressors and decompressors are); a connection's reader and writer
 * share one, each with its own buffers.
 */
final class Lz4Codec {

    private final LZ4Compressor compressor;
    private final LZ4SafeDecompressor decompressor;

    Lz4Codec() {
        LZ4Factory factory = LZ4Factory.fastestInstance();
        compressor = factory.fastCompressor();
        decompressor = factory.safeDecompressor();
    }

    /** {@return the most bytes compressing {@code length} bytes can produce} */
    int maxCompressedLength(int length) {
        return compressor.maxCompressedLength(length);
    }

    /**
     * Compresses {@code src[srcOffset, srcOffset + length)} into {@code dst} from {@code dstOffset}; positions and
     * limits do not move.
     *
     * @param maxLength room in {@code dst}: at least {@link #maxCompressedLength}
     * @return the compressed length
     */
    int compress(ByteBuffer src, int srcOffset, int length, ByteBuffer dst, int dstOffset, int maxLength) {
        return compressor.compress(src, srcOffset, length, dst, dstOffset, maxLength);
    }

    /**
     * Decompresses one block from untrusted bytes, never writing past {@code maxLength} bytes of {@code dst}.
     *
     * @return the decompressed length (at most {@code maxLength})
     * @throws ProtocolException when the block is malformed, or would decompress to more than {@code maxLength}
     */
    int decompress(ByteBuffer src, int srcOffset, int length, ByteBuffer dst, int dstOffset, int maxLength) {
        try {
            return decompressor.decompress(src, srcOffset, length, dst, dstOffset, maxLength);
        } catch (RuntimeException malformed) {
            // lz4-java reports a bad block with LZ4Exception; any other failure on hostile bytes is the same
            // verdict: the peer sent something that is not an LZ4 block of the size the header allows.
            throw new ProtocolException("LZ4 block of " + length + " bytes does not decompress within "
                    + maxLength + " bytes: " + malformed.getMessage(), malformed);
        }
    }
}
