package io.cqlnio.bench;

/** One JMH thread's share of the connections, written round-robin. */
final class Producer {

    private final BenchConnection[] connections;
    private int next;

    Producer(BenchConnection[] connections) {
        this.connections = connections;
    }

    void send() {
        BenchConnection c = connections[next];
        next = next + 1 == connections.length ? 0 : next + 1;
        c.send();
    }
}
