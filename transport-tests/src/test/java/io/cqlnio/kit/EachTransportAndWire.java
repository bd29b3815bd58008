package io.cqlnio.kit;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Runs a kit test once per implementation and {@link Wire}: the test takes {@code (String name, Wire wire)}. For
 * the checks whose invariants must hold just the same when TLS sits between the frames and the socket (ordering,
 * accounting, faults), where a short ciphertext write or a torn TLS record is one more way to break them.
 */
@Target(ElementType.METHOD)
@Retention(RetentionPolicy.RUNTIME)
@ParameterizedTest(name = "[{0} {1}]")
@MethodSource("io.cqlnio.kit.Kit#implementationsAndWires")
@interface EachTransportAndWire {
}
