package io.cqlnio.e2e;

/**
 * Sends one request of a prepared workload: binds {@code key} (and the workload's text), executes, decodes the
 * result and checks it, then reports on any thread. Implementations: {@code CqlTarget} (the project's client),
 * {@code DriverTarget} (the Java driver).
 */
interface Issuer {

    /** Issues one request; {@code done} runs exactly once, on whatever thread completed the request. */
    void issue(int key, Completion done);

    /** The outcome of one request. */
    @FunctionalInterface
    interface Completion {
        /** {@code failure} is null when the request got the result the workload expects. */
        void complete(Throwable failure);
    }
}
