package io.cqlnio.e2e;

import com.datastax.oss.driver.api.core.CqlSession;
import com.datastax.oss.driver.api.core.CqlSessionBuilder;
import com.datastax.oss.driver.api.core.config.DefaultDriverOption;
import com.datastax.oss.driver.api.core.config.DriverConfigLoader;
import com.datastax.oss.driver.api.core.config.ProgrammaticDriverConfigLoaderBuilder;
import com.datastax.oss.driver.api.core.cql.PreparedStatement;
import com.datastax.oss.driver.api.core.cql.Row;

import javax.net.ssl.SSLContext;
import java.net.InetSocketAddress;
import java.time.Duration;

/**
 * {@code java-driver}: the Apache Cassandra Java driver 4.x as an application uses it, one {@link CqlSession} with
 * its defaults but for these settings: one pooled connection to the node
 * ({@code advanced.connection.pool.local.size = 1}), the variant's protocol version, the same 10 s request timeout
 * as the project's client, and W3's 2 KiB send buffer ({@code advanced.socket.send-buffer-size}). The default
 * coalescer, NIO event loop, timestamp generator and page size stay as shipped. Each request binds its values
 * ({@link PreparedStatement#bind}) and {@code executeAsync}s; W2 decodes its row's text ({@link Row#getString}).
 *
 * <p>The session also holds its control connection (topology and schema events), which is idle while cells run.
 */
final class DriverTarget implements Target {

    /** SimpleSnitch's data centre, the node's. */
    private static final String DATACENTER = "datacenter1";

    DriverTarget(String unused) {
    }

    @Override
    public Client open(Variant variant, boolean smallSendBuffer, InetSocketAddress node, SSLContext tls) {
        ProgrammaticDriverConfigLoaderBuilder config = DriverConfigLoader.programmaticBuilder()
                .withInt(DefaultDriverOption.CONNECTION_POOL_LOCAL_SIZE, 1)
                .withString(DefaultDriverOption.PROTOCOL_VERSION, "V" + variant.protocolVersion)
                .withDuration(DefaultDriverOption.REQUEST_TIMEOUT, Duration.ofSeconds(10));
        if (smallSendBuffer) {
            config.withInt(DefaultDriverOption.SOCKET_SEND_BUFFER_SIZE, Workload.SMALL_SEND_BUFFER);
        }
        CqlSessionBuilder builder = CqlSession.builder().addContactPoint(node).withLocalDatacenter(DATACENTER)
                .withConfigLoader(config.build());
        if (variant.tls) {
            if (tls == null) {
                throw new IllegalStateException("TLS asked for, no truststore given");
            }
            builder.withSslContext(tls);
        }
        return new Session(builder.build(), variant.tls ? tls.getProtocol() : "none");
    }

    private static final class Session implements Client {
        private final CqlSession session;
        private final String tlsProtocol;

        Session(CqlSession session, String tlsProtocol) {
            this.session = session;
            this.tlsProtocol = tlsProtocol;
        }

        @Override
        public Issuer prepare(Workload workload) {
            PreparedStatement prepared = session.prepare(workload.statement());
            if (workload.isRead()) {
                return (key, done) -> session.executeAsync(prepared.bind(key)).whenComplete((rs, f) -> {
                    if (f != null) {
                        done.complete(f);
                        return;
                    }
                    Row row = rs.one();
                    String text = row == null ? null : row.getString(0);
                    done.complete(text != null && text.length() == Workload.KIB_TEXT.length() && rs.one() == null
                            ? null : new IllegalStateException("expected one row of 1 KiB text, got " + text));
                });
            }
            String text = workload.text();
            return (key, done) -> session.executeAsync(prepared.bind(key, text)).whenComplete((rs, f) ->
                    done.complete(f));
        }

        @Override
        public int protocolVersion() {
            return session.getContext().getProtocolVersion().getCode();
        }

        @Override
        public String tlsProtocol() {
            return tlsProtocol;
        }

        @Override
        public void close() {
            session.close();
        }
    }
}
