package io.cqlnio.spi;

/**
 * A frame could not be written because its connection was closed: the write came after {@code close()},
 * or the frame was still unwritten when the connection was aborted, reset by the peer or closed by the
 * transport. The message names the connection; the cause, where there is one, is what closed it.
 */
public class ConnectionClosedException extends TransportException {
    private static final long serialVersionUID = 1L;

    /**
     * @param message names the connection and why it closed
     */
    public ConnectionClosedException(String message) {
        super(message);
    }

    /**
     * @param message names the connection and why it closed
     * @param cause   the failure underneath
     */
    public ConnectionClosedException(String message, Throwable cause) {
        super(message, cause);
    }
}
