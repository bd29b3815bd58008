package io.cqlnio.spi;

import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

/**
 * Selects a transport implementation by name, so a driver swaps one for another in one line.
 *
 * <pre>{@code
 * Transport t = Transports.create("nio", TransportConfig.defaults());        // cqlnio
 * Transport n = Transports.create("netty-nio", TransportConfig.defaults());  // the Netty baseline, if on the class path
 * }</pre>
 */
public final class Transports {

    private Transports() {
    }

    /**
     * Creates a transport from the provider named {@code name}.
     *
     * @throws IllegalArgumentException naming the providers found, when none is called {@code name}
     */
    public static Transport create(String name, TransportConfig config) {
        return provider(name).create(config);
    }

    /** Names of every provider visible to this class's and the thread's class loaders. */
    public static List<String> names() {
        List<String> names = new ArrayList<>();
        for (TransportProvider p : providers()) {
            if (!names.contains(p.name())) {
                names.add(p.name());
            }
        }
        return names;
    }

    /**
     * The provider named {@code name}.
     *
     * @throws IllegalArgumentException naming the providers found, when none is called {@code name}
     */
    public static TransportProvider provider(String name) {
        for (TransportProvider p : providers()) {
            if (p.name().equals(name)) {
                return p;
            }
        }
        throw new IllegalArgumentException("no transport named '" + name + "'; found " + names());
    }

    private static List<TransportProvider> providers() {
        List<TransportProvider> found = new ArrayList<>();
        ServiceLoader.load(TransportProvider.class, Transports.class.getClassLoader()).forEach(found::add);
        ClassLoader context = Thread.currentThread().getContextClassLoader();
        if (context != null && context != Transports.class.getClassLoader()) {
            ServiceLoader.load(TransportProvider.class, context).forEach(found::add);
        }
        return found;
    }
}
