package io.cqlnio.e2e;

/** How a client talks to the node: the protocol version and whether the connection is TLS. */
enum Variant {
    /** Protocol v4, bare frames, plaintext. */
    V4("v4", 4, false),
    /** Protocol v5: checksummed segments after READY, plaintext. */
    V5("v5", 5, false),
    /** Protocol v4 inside TLS records (the node's TLS is optional on the same port). */
    TLS("tls", 4, true);

    final String label;
    final int protocolVersion;
    final boolean tls;

    Variant(String label, int protocolVersion, boolean tls) {
        this.label = label;
        this.protocolVersion = protocolVersion;
        this.tls = tls;
    }

    static Variant of(String label) {
        for (Variant v : values()) {
            if (v.label.equals(label)) {
                return v;
            }
        }
        throw new IllegalArgumentException("no variant " + label);
    }
}
