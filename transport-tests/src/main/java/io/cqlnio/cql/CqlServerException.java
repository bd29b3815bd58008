package io.cqlnio.cql;

/**
 * An ERROR response from the server: its error code (spec section 9, e.g. {@code 0x000A} protocol error,
 * {@code 0x2200} invalid query) and message. The connection stays usable unless the cause says otherwise.
 */
public final class CqlServerException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** Server error code of a protocol error, which includes {@code Invalid or unsupported protocol version}. */
    public static final int PROTOCOL_ERROR = 0x000A;
    /** Server error code of a syntax error. */
    public static final int SYNTAX_ERROR = 0x2000;
    /** Server error code of an invalid query (unknown table, bad values...). */
    public static final int INVALID = 0x2200;
    /** Server error code of {@code ALREADY_EXISTS}. */
    public static final int ALREADY_EXISTS = 0x2400;

    private final int code;
    private final String serverMessage;
    private final int streamId;

    CqlServerException(int code, String serverMessage, int streamId) {
        super(String.format("server error 0x%04X on stream %d: %s", code, streamId, serverMessage));
        this.code = code;
        this.serverMessage = serverMessage;
        this.streamId = streamId;
    }

    /** The error code, e.g. {@link #PROTOCOL_ERROR}. */
    public int code() {
        return code;
    }

    /** The server's own message, unchanged. */
    public String serverMessage() {
        return serverMessage;
    }

    /** The stream id the server answered on. */
    public int streamId() {
        return streamId;
    }
}
