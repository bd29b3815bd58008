/**
 * End to end on the real node (issue 14): the same CQL workloads through the project's CQL client over
 * {@code nio} ({@code cql-nio}) and over {@code netty-nio} ({@code cql-netty}), and through the Apache Cassandra Java
 * driver 4.x ({@code java-driver}), each client in its own JVM against one Cassandra 5.0 node.
 *
 * <p>{@code E2eMain} (test sources) runs the whole comparison and prints the markdown table
 * ({@code mvn -B -q -pl transport-tests exec:java@e2e}); {@link io.cqlnio.e2e.ClientMain} is one client JVM, driven
 * one cell at a time over its stdin. The classes a client JVM loads for every client ({@code ClientMain},
 * {@code ClosedLoop}, {@code WindowMeter}, {@code Workload}, {@code Variant}, {@code Cell}, {@code ResultLine})
 * reference neither the SPI nor the driver: the driver's JVM has no cqlnio jar and the others have no driver.
 */
package io.cqlnio.e2e;
