package io.cqlnio.readme;

import io.cqlnio.cassandra.CassandraNode;

import java.net.InetSocketAddress;
import java.util.concurrent.CountDownLatch;

/**
 * The demo's Cassandra node, kept running for a reader trying the quick start from their own project:
 * {@code mvn -B -q -pl transport-tests exec:java@node} prints the host and port to pass to {@code QuickStart};
 * Ctrl-C stops the node (its shutdown hook; the child's watchdog if this JVM is killed).
 */
public final class ReadmeNode {

    private ReadmeNode() {
    }

    public static void main(String[] args) throws InterruptedException {
        CassandraNode node = CassandraNode.fromSystemProperties("cassandra-readme");
        node.start();
        InetSocketAddress cql = node.nativeAddress();
        System.out.println("Cassandra is up; run the quick start with: " + cql.getHostString() + " " + cql.getPort()
                + "   (Ctrl-C stops the node)");
        new CountDownLatch(1).await();
    }
}
