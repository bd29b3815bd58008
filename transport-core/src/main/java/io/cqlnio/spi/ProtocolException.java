package io.cqlnio.spi;

/**
 * Inbound bytes that are not a valid frame: a bad version byte, a negative or oversized declared length.
 * The message names the offending value and, once the transport has seen it, the connection, e.g.
 * {@code invalid protocol version byte 0x5f (95) on cqlnio#1[/127.0.0.1:50312 -> /127.0.0.1:9042]}.
 * The connection that received such bytes is closed with this exception as the cause; nothing is
 * allocated from a length that failed validation.
 */
public class ProtocolException extends TransportException {
    private static final long serialVersionUID = 1L;

    /**
     * @param message names the offending value
     */
    public ProtocolException(String message) {
        super(message);
    }

    /**
     * @param message names the offending value
     * @param cause   the failure underneath
     */
    public ProtocolException(String message, Throwable cause) {
        super(message, cause);
    }
}
