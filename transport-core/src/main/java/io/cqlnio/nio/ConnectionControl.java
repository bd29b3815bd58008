package io.cqlnio.nio;

import io.cqlnio.spi.TransportException;

/**
 * What the parts of a connection ({@link ReadSide}, {@link WriteSide}, {@link TlsSteps}) need of the
 * {@link NioConnection} that holds them: its interest ops, its lifecycle, and the ways it ends. Loop thread only.
 */
interface ConnectionControl extends LoopMember {

    int interestOps();

    void setInterest(int ops);

    ConnectionState state();

    /** {@code true} once the connection has released its socket and told its handler: nothing more happens. */
    boolean isTornDown();

    /**
     * The one way a connection ends: close the socket, fail every unwritten frame with {@code frameCause}, then
     * tell the handler once with {@code closedCause} ({@code null}: graceful).
     */
    void closeNow(Throwable closedCause, Throwable frameCause);

    /**
     * A graceful close has every accepted frame with the kernel (and close_notify, under TLS): send FIN, then read
     * until the peer's end of stream or the drain deadline, and close.
     */
    void halfClose();

    /** The drain of a graceful close ended with the peer's end of stream: drop what is left unread and close. */
    void finishDrain();

    /** Before the hand-out: the connect (or the TLS handshake) failed. */
    void failConnect(TransportException cause);

    /** Flushes the writer now if nobody holds it (if someone does, the flush they owe comes anyway). */
    void flushIfUnclaimed();

    /** The TLS handshake is done: the connection opens. */
    void handshakeDone();
}
