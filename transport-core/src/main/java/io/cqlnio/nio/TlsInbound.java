package io.cqlnio.nio;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;

/**
 * The read half of {@link TlsWire}: ciphertext from the socket into {@code netIn}, records unwrapped into the
 * caller's buffer, or, when it has less room than a record, into {@code plainIn} and copied from there.
 * {@link #hasBufferedInput()} says when whole records or plaintext are held here, where no readiness event will
 * announce them. Loop thread only.
 */
final class TlsInbound {

    /** What an unwrap may ask of the write half: a reply (a TLS 1.3 key update) or a refusal (renegotiation). */
    interface Replies {
        void afterUnwrap(HandshakeStatus status) throws IOException;
    }

    private static final int RECORD_HEADER = 5;

    private final SSLEngine engine;
    private final ReadableByteChannel in;
    private final Replies replies;
    /** Write mode: ciphertext read and not yet unwrapped. */
    private ByteBuffer netIn;
    /** Read mode: plaintext unwrapped and not yet handed to a reader. */
    private ByteBuffer plainIn;
    private boolean inboundClosed;

    /** @param records how many records' worth of ciphertext one socket read may bring in */
    TlsInbound(SSLEngine engine, ReadableByteChannel in, Replies replies, int records) {
        this.engine = engine;
        this.in = in;
        this.replies = replies;
        netIn = ByteBuffer.allocate(engine.getSession().getPacketBufferSize() * records);
        plainIn = ByteBuffer.allocate(engine.getSession().getApplicationBufferSize()).flip();
    }

    /**
     * Unwraps into {@code dst} until it is full or no whole record is left here or in the kernel.
     *
     * @return plaintext bytes put in {@code dst}; -1 once the peer closed (close_notify or end of stream)
     * and nothing is left to hand out
     */
    int read(ByteBuffer dst) throws IOException {
        int produced = drainPlainIn(dst);
        while (dst.hasRemaining() && !inboundClosed) {
            SSLEngineResult r;
            if (dst.remaining() >= plainIn.capacity()) {
                netIn.flip();
                try {
                    r = engine.unwrap(netIn, dst);
                } finally {
                    netIn.compact();
                }
                produced += r.bytesProduced();
            } else {
                r = unwrapToPlainIn();
                produced += drainPlainIn(dst);
            }
            switch (r.getStatus()) {
                case OK:
                    replies.afterUnwrap(r.getHandshakeStatus());
                    if (r.bytesConsumed() > 0 || r.bytesProduced() > 0) {
                        break;
                    }
                    // Nothing moved: never spin on the loop thread; wait for bytes as after an underflow.
                case BUFFER_UNDERFLOW:
                    int n = readMore();
                    if (n < 0) {
                        inboundClosed = true;
                    } else if (n == 0) {
                        return produced;
                    }
                    break;
                case BUFFER_OVERFLOW:
                    // Only when unwrapping into plainIn: the session wants more room than it said at first.
                    growPlainIn();
                    break;
                case CLOSED:
                    inboundClosed = true; // close_notify: nothing more will come
                    break;
                default:
                    throw new AssertionError(r.getStatus());
            }
        }
        if (produced == 0 && inboundClosed && !plainIn.hasRemaining()) {
            return -1;
        }
        return produced;
    }

    /**
     * Whole records or plaintext are held here, or the peer's close_notify was read but its end of stream not
     * yet reported: read again without waiting for OP_READ, which will not come for either.
     */
    boolean hasBufferedInput() {
        if (plainIn.hasRemaining() || inboundClosed) {
            return true;
        }
        int have = netIn.position();
        if (have < RECORD_HEADER) {
            return false;
        }
        int length = ((netIn.get(3) & 0xFF) << 8) | (netIn.get(4) & 0xFF);
        return have >= RECORD_HEADER + length;
    }

    SSLEngineResult unwrapToPlainIn() throws SSLException {
        netIn.flip();
        plainIn.compact();
        try {
            return engine.unwrap(netIn, plainIn);
        } finally {
            plainIn.flip();
            netIn.compact();
        }
    }

    int readMore() throws IOException {
        if (!netIn.hasRemaining()) {
            // A record larger than the buffer (the session grew its packet size): make room for it.
            netIn = grow(netIn, netIn.capacity() + engine.getSession().getPacketBufferSize(), false);
        }
        return in.read(netIn);
    }

    private int drainPlainIn(ByteBuffer dst) {
        int n = Math.min(plainIn.remaining(), dst.remaining());
        if (n == 0) {
            return 0;
        }
        int limit = plainIn.limit();
        plainIn.limit(plainIn.position() + n);
        dst.put(plainIn);
        plainIn.limit(limit);
        return n;
    }

    /** The session wants more room for plaintext than it said at first. */
    void growPlainIn() {
        plainIn = grow(plainIn, engine.getSession().getApplicationBufferSize(), true);
    }

    /** A buffer of at least {@code capacity} holding {@code b}'s content, in {@code b}'s mode. */
    static ByteBuffer grow(ByteBuffer b, int capacity, boolean readMode) {
        if (b.capacity() >= capacity) {
            capacity = b.capacity() * 2;
        }
        ByteBuffer bigger = ByteBuffer.allocate(capacity);
        if (readMode) {
            bigger.put(b).flip();
        } else {
            b.flip();
            bigger.put(b);
        }
        return bigger;
    }
}
