package io.cqlnio.spi;

/**
 * A transport implementation found through {@link java.util.ServiceLoader}: list the class in
 * {@code META-INF/services/io.cqlnio.spi.TransportProvider}. cqlnio's own is named {@code "nio"}.
 *
 * <pre>{@code
 * public final class MyProvider implements TransportProvider {
 *     public String name() { return "mine"; }
 *     public Transport create(TransportConfig config) { return new MyTransport(config); }
 * }
 * }</pre>
 */
public interface TransportProvider {

    /** The name drivers select it by; unique among the providers on the class path. */
    String name();

    /** A new, independent transport; the caller closes it. */
    Transport create(TransportConfig config);
}
