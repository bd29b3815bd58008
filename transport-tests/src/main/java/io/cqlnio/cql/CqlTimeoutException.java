package io.cqlnio.cql;

/**
 * No response arrived within the request timeout. The request's stream id stays reserved ("orphaned") until a
 * late response frees it, so that a late response is never taken for the answer to a newer request.
 */
public final class CqlTimeoutException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    CqlTimeoutException(String message) {
        super(message);
    }
}
