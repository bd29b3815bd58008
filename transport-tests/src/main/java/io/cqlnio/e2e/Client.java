package io.cqlnio.e2e;

/**
 * One client's connection (or driver session) to the node for one variant and send buffer, able to prepare the
 * workloads. Made by {@code CqlTarget.open} or {@code DriverTarget.open}; closed when the next cell needs another
 * variant or send buffer.
 */
interface Client extends AutoCloseable {

    /** Prepares the workload's statement once; every request then binds its values (see {@link Issuer}). */
    Issuer prepare(Workload workload) throws Exception;

    /** The protocol version the connection negotiated with the node. */
    int protocolVersion();

    /** The TLS protocol of the connection ({@code TLSv1.3}), or {@code none}. */
    String tlsProtocol();

    @Override
    void close();
}
