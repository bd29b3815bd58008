package io.cqlnio.cassandra;

import io.cqlnio.bench.tls.TestCertificates;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

import java.util.Locale;

/**
 * Gives integration tests a real Cassandra node: one node per test run, started lazily by the first test class
 * that asks for it, shared by every class, stopped when the run ends (the node's own shutdown hook is the
 * backstop if the JVM dies first). Each test class gets its own keyspace name.
 *
 * <p>The node's native port accepts TLS as well as plaintext ({@link CassandraNode#optionalClientTls}) with
 * {@link TestCertificates#serverKeystore()}: a client trusting {@link TestCertificates#clientContext()} connects
 * over TLS, and every other test keeps connecting in plaintext to the same address.
 *
 * <pre>{@code
 * @ExtendWith(CassandraExtension.class)
 * class MyIT {
 *     @Test void works(CassandraExtension.Target cassandra) {
 *         connect to cassandra.node().nativeAddress(), then CREATE KEYSPACE cassandra.keyspace() ...
 *     }
 * }
 * }</pre>
 */
public final class CassandraExtension implements ParameterResolver {

    /**
     * What a test receives.
     *
     * @param node     the shared node (tests may kill -9 and restart it; it keeps its address)
     * @param keyspace a keyspace name unique to the test class (not created: tests create it with their client)
     */
    public record Target(CassandraNode node, String keyspace) {
        /** The CQL statement that creates this class's keyspace with one replica. */
        public String createKeyspaceCql() {
            return "CREATE KEYSPACE IF NOT EXISTS " + keyspace
                    + " WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}";
        }
    }

    /** Closed by JUnit when the root context closes, i.e. at the end of the test run. */
    private static final class SharedNode implements AutoCloseable {
        final CassandraNode node;

        SharedNode() {
            TestCertificates pki = TestCertificates.get();
            node = CassandraNode.fromSystemProperties("cassandra-it")
                    .optionalClientTls(pki.serverKeystore(), TestCertificates.PASSWORD);
            node.start();
        }

        @Override
        public void close() {
            node.stop();
        }
    }

    private static final ExtensionContext.Namespace NAMESPACE = ExtensionContext.Namespace.create(
            CassandraExtension.class);

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        return parameter.getParameter().getType() == Target.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        return new Target(node(context), keyspaceFor(context.getRequiredTestClass()));
    }

    /** The run's node, started on first use. */
    static CassandraNode node(ExtensionContext context) {
        return context.getRoot().getStore(NAMESPACE)
                .getOrComputeIfAbsent(SharedNode.class, k -> new SharedNode(), SharedNode.class).node;
    }

    /** {@code it_} plus the class's simple name in lower case: unique per class, a valid CQL identifier. */
    static String keyspaceFor(Class<?> testClass) {
        String name = "it_" + testClass.getSimpleName().toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9_]", "_");
        return name.length() > 48 ? name.substring(0, 48) : name;
    }
}
