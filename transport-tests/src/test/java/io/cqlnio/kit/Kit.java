package io.cqlnio.kit;

import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;
import org.junit.jupiter.params.provider.Arguments;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * What every kit test shares: the implementations under test, found through {@link Transports#names()}. The
 * peers, frames, closer and waits are transport-core's shared test kit ({@code io.cqlnio.testkit}), the same
 * ones core's own tests use.
 *
 * <p>System properties: {@code cqlnio.kit.transports} (comma-separated) restricts the run to those names, e.g.
 * {@code -Dcqlnio.kit.transports=nio} for a control run against a patched core; {@code cqlnio.kit.wires}
 * ({@code plain}, {@code tls} or both) restricts the {@link EachTransportAndWire} tests to those wires.
 *
 * <p>Public for the tests of other packages (TLS handshake failures) that run per implementation too.
 */
public final class Kit {

    /** The deliberately broken control: it ignores short writes, so the kit would (rightly) fail on it. */
    static final String NAIVE = "naive";

    private static final Map<String, String> UNAVAILABLE = new ConcurrentHashMap<>();

    private Kit() {
    }

    /**
     * Names of the implementations the kit runs against: every provider on the class path but the naive control,
     * and only those that can be created here ({@code netty-epoll} needs Linux and its native library;
     * {@code netty-io_uring} also a kernel that lets this process use io_uring, which {@code kernel.io_uring_disabled}
     * or a sandbox's seccomp filter can refuse). Those left out are printed once, with the reason.
     */
    public static Stream<String> implementations() {
        String only = System.getProperty("cqlnio.kit.transports", "").trim();
        List<String> names = new ArrayList<>(Transports.names());
        names.remove(NAIVE);
        if (!only.isEmpty()) {
            List<String> wanted = Arrays.asList(only.split("\\s*,\\s*"));
            names.retainAll(wanted);
        }
        Collections.sort(names);
        return names.stream().filter(Kit::available);
    }

    /**
     * Every implementation on every wire: ({@code name}, {@link Wire#PLAIN}) and ({@code name}, {@link Wire#TLS}),
     * so one test body checks an invariant in the clear and again with TLS between the frames and the socket.
     */
    static Stream<Arguments> implementationsAndWires() {
        String only = System.getProperty("cqlnio.kit.wires", "").trim().toUpperCase(java.util.Locale.ROOT);
        List<Wire> wires = new ArrayList<>(List.of(Wire.values()));
        if (!only.isEmpty()) {
            wires.retainAll(Arrays.stream(only.split("\\s*,\\s*")).map(Wire::valueOf).collect(Collectors.toList()));
        }
        return implementations().flatMap(name -> wires.stream().map(wire -> Arguments.of(name, wire)));
    }

    /** {@link #implementations()}, as a list. */
    static List<String> implementationList() {
        return implementations().collect(Collectors.toList());
    }

    private static boolean available(String name) {
        if (UNAVAILABLE.containsKey(name)) {
            return false;
        }
        try (Transport t = Transports.create(name, TransportConfig.defaults())) {
            return t != null;
        } catch (RuntimeException e) {
            UNAVAILABLE.put(name, String.valueOf(e));
            System.err.println("kit: skipping transport '" + name + "', it cannot be created here: " + e);
            return false;
        }
    }

    /** Seconds as a {@link Duration}; reads better in waits. */
    static Duration seconds(long s) {
        return Duration.ofSeconds(s);
    }

    /** Milliseconds since {@code startNanos}. */
    public static long millisSince(long startNanos) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
    }

    /** An integer system property, for the scalable tests. */
    static long longProperty(String name, long defaultValue) {
        String v = System.getProperty(name);
        return v == null || v.isBlank() ? defaultValue : Long.parseLong(v.trim().replace("_", ""));
    }
}
