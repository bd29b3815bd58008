package io.cqlnio.e2e;

import io.cqlnio.cql.CqlClient;
import io.cqlnio.cql.CqlResult;
import io.cqlnio.spi.TlsConfig;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSession;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * {@code cql-nio} and {@code cql-netty}: the project's {@link CqlClient} on one connection of a named transport
 * ({@code nio} or {@code netty-nio}) with its default settings, but for W3's send buffer and TLS. Each request
 * binds its values into a fresh EXECUTE ({@link CqlClient#execute}) and the client decodes the whole RESULT (rows,
 * metadata included, into Java values), as the driver does.
 */
final class CqlTarget implements Target {

    private static final long CONNECT_TIMEOUT_S = 30;

    private final String transportName;

    /** {@code nio} with write-through off: every request handed to the loop, as before issue 15. */
    static final String NIO_QUEUED = "nio-queued";

    CqlTarget(String transportName) {
        this.transportName = transportName;
    }

    @Override
    public Client open(Variant variant, boolean smallSendBuffer, InetSocketAddress node, SSLContext tls)
            throws Exception {
        TransportConfig.Builder config = TransportConfig.builder().writeThrough(!NIO_QUEUED.equals(transportName));
        if (smallSendBuffer) {
            config.sendBufferSize(Workload.SMALL_SEND_BUFFER);
        }
        if (variant.tls) {
            if (tls == null) {
                throw new IllegalStateException("TLS asked for, no truststore given");
            }
            config.tls(TlsConfig.of(tls));
        }
        Transport transport = Transports.create(NIO_QUEUED.equals(transportName) ? "nio" : transportName,
                config.build());
        try {
            CqlClient client = CqlClient.connect(transport, node,
                    CqlClient.Options.defaults().withVersion(variant.protocolVersion))
                    .get(CONNECT_TIMEOUT_S, TimeUnit.SECONDS);
            return new Connected(transport, client);
        } catch (Exception e) {
            transport.close();
            throw e;
        }
    }

    private static final class Connected implements Client {
        private final Transport transport;
        private final CqlClient client;

        Connected(Transport transport, CqlClient client) {
            this.transport = transport;
            this.client = client;
        }

        @Override
        public Issuer prepare(Workload workload) throws Exception {
            CqlResult.Prepared prepared = client.prepare(workload.statement()).get(CONNECT_TIMEOUT_S, TimeUnit.SECONDS);
            if (workload.isRead()) {
                return (key, done) -> client.execute(prepared, key).whenComplete((r, f) ->
                        done.complete(f != null ? f : checkRow(r)));
            }
            String text = workload.text();
            return (key, done) -> client.execute(prepared, key, text).whenComplete((r, f) ->
                    done.complete(f != null ? f : r instanceof CqlResult.Void ? null
                            : new IllegalStateException("expected a Void result, got " + r)));
        }

        /** The one row's text, decoded, has the length W2 loaded. */
        private static Throwable checkRow(CqlResult r) {
            if (r instanceof CqlResult.Rows rows && rows.rows().size() == 1) {
                List<Object> row = rows.rows().get(0);
                if (row.get(0) instanceof String s && s.length() == Workload.KIB_TEXT.length()) {
                    return null;
                }
            }
            return new IllegalStateException("expected one row of 1 KiB text, got " + r);
        }

        @Override
        public int protocolVersion() {
            // The client speaks the version it asked for in STARTUP, which the node accepted with READY; v5 counts
            // only if the connection really switched to segments.
            return client.version() >= 5 && !client.segmented() ? -1 : client.version();
        }

        @Override
        public String tlsProtocol() {
            SSLSession session = client.connection().tlsSession();
            return session == null ? "none" : session.getProtocol();
        }

        @Override
        public void close() {
            client.close();
            transport.close();
        }
    }
}
