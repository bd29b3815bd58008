package io.cqlnio.spi;

/**
 * Base of every failure the transport reports: a failed connect, a refused or failed write, a closed
 * connection. Unchecked, because a driver handles it in a listener or a future, not at a call site.
 */
public class TransportException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * @param message says what failed and where
     */
    public TransportException(String message) {
        super(message);
    }

    /**
     * @param message says what failed and where
     * @param cause   the failure underneath
     */
    public TransportException(String message, Throwable cause) {
        super(message, cause);
    }
}
