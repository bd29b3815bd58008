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
     * Any thread. Creates a transport from the provider named {@code name}.
     *
     * @param name   the provider's {@link TransportProvider#name()}, e.g. {@code "nio"}
     * @param config the settings
     * @return a new transport; the caller closes it
     * @throws IllegalArgumentException naming the providers found, when none is called {@code name}
     */
    public static Transport create(String name, TransportConfig config) {
        return provider(name).create(config);
    }

    /**
     * Any thread.
     *
     * @return names of every provider visible to this class's and the calling thread's context class loader, and
     *         on the module path, without repeats
     */
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
     * Any thread.
     *
     * @param name the provider's {@link TransportProvider#name()}
     * @return the first provider found with that name
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
