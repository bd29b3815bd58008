package io.cqlnio.spi;

/**
 * A transport implementation found through {@link java.util.ServiceLoader}: list the class in
 * {@code META-INF/services/io.cqlnio.spi.TransportProvider} for the class path, and
 * {@code provides io.cqlnio.spi.TransportProvider with ...} in {@code module-info.java} for the module path.
 * cqlnio's own is named {@code "nio"}.
 *
 * <pre>{@code
 * public final class MyProvider implements TransportProvider {
 *     public String name() { return "mine"; }
 *     public Transport create(TransportConfig config) { return new MyTransport(config); }
 * }
 * }</pre>
 */
public interface TransportProvider {

    /**
     * Any thread; cheap, called on every lookup.
     *
     * @return the name drivers select it by; unique among the providers on the class or module path
     */
    String name();

    /**
     * Any thread.
     *
     * @param config the settings, already validated
     * @return a new, independent transport; the caller closes it
     */
    Transport create(TransportConfig config);
}
