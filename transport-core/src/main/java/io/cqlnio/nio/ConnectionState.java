package io.cqlnio.nio;

/**
 * The life of a {@link NioConnection}, with every allowed move in {@link #canMoveTo}:
 *
 * <pre>
 *  CONNECTING --TCP up, TLS--> HANDSHAKING --done--> OPEN --close()--> CLOSING --flushed, FIN--> DRAINING
 *       |  \---------------TCP up, plaintext---------^  |                  |                         |
 *       |                                               |                  |       peer's EOF, deadline,
 *       +--failed, timed out, cancelled---> CLOSED      +--abort, error, EOF---+-------> CLOSED <--abort, error
 * </pre>
 *
 * Only OPEN accepts writes. CLOSING refuses new writes but still flushes what was accepted and still delivers
 * inbound frames. DRAINING has sent every accepted frame and a FIN (after close_notify, under TLS) and reads until
 * the peer ends its side, delivering what comes, so that the socket never closes on unread bytes (which makes the
 * kernel send a reset that destroys what the peer had not read yet). CLOSED is entered at once by {@code abort} on
 * any thread, so no frame is delivered after it; the loop then releases the socket and tells the handler once.
 */
enum ConnectionState {
    CONNECTING,
    HANDSHAKING,
    OPEN,
    CLOSING,
    DRAINING,
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
                return next == DRAINING || next == CLOSED;
            case DRAINING:
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
