package io.cqlnio.nio;

/**
 * The life of a {@link NioConnection}, with every allowed move in {@link #canMoveTo}:
 *
 * <pre>
 *  CONNECTING --TCP up, TLS--> HANDSHAKING --done--> OPEN --close()--> CLOSING --flushed--> CLOSED
 *       |  \---------------TCP up, plaintext---------^  |                  |
 *       +--failed, timed out, cancelled---> CLOSED      +--abort, error, EOF---+--> CLOSED
 * </pre>
 *
 * Only OPEN accepts writes. CLOSING refuses new writes but still flushes what was accepted and still delivers
 * inbound frames. CLOSED is entered at once by {@code abort} on any thread, so no frame is delivered after it;
 * the loop then releases the socket and tells the handler once.
 */
enum ConnectionState {
    CONNECTING,
    HANDSHAKING,
    OPEN,
    CLOSING,
    CLOSED;

    boolean canMoveTo(ConnectionState next) {
        switch (this) {
            case CONNECTING:
                return next == HANDSHAKING || next == OPEN || next == CLOSED;
            case HANDSHAKING:
                return next == OPEN || next == CLOSED;
            case OPEN:
                return next == CLOSING || next == CLOSED;
            case CLOSING:
                return next == CLOSED;
            default:
                return false;
        }
    }

    /** Before the connection is handed out: a failure here fails the connect future, not {@code onClosed}. */
    boolean isConnecting() {
        return this == CONNECTING || this == HANDSHAKING;
    }
}
