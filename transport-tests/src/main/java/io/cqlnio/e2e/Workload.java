package io.cqlnio.e2e;

import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * The three workloads of issue 14, each on its own keyspace and table. Every request is one prepared EXECUTE with
 * its values bound per request; keys cycle over {@link #keys}, so W1 and W3 overwrite rows instead of growing the
 * table without bound, and W2 reads rows loaded before any client starts.
 */
enum Workload {
    W1("prepared INSERT, 1 KiB text", "e2e_w1", "t (k int PRIMARY KEY, v text)",
            "INSERT INTO %s.t (k, v) VALUES (?, ?)", 10_000, false),
    W2("prepared SELECT by key, one row of 1 KiB text", "e2e_w2", "t (k int PRIMARY KEY, v text)",
            "SELECT v FROM %s.t WHERE k = ?", 1_000, false),
    W3("origin story: prepared INSERT of 23.9 KB text, 2 KiB send buffer", "e2e_w3",
            "protocol_error (pkey int PRIMARY KEY, content text)",
            "INSERT INTO %s.protocol_error (pkey, content) VALUES (?, ?)", 1_000, true);

    /** The 1 KiB text of W1 and W2 (ASCII, so 1,024 bytes in UTF-8). */
    static final String KIB_TEXT = "0123456789abcdef".repeat(64);
    /**
     * The origin story's text, the numbers 0 to 4999 joined by '_' (23,889 bytes); equal to
     * {@code OriginStory.CONTENT}, built here because the driver's JVM loads no cqlnio transport class.
     */
    static final String ORIGIN_TEXT = IntStream.range(0, 5000).mapToObj(Integer::toString)
            .collect(Collectors.joining("_"));
    /** SO_SNDBUF of W3's connections, both clients (the kernel doubles it and rounds up to its minimum). */
    static final int SMALL_SEND_BUFFER = 2048;

    final String description;
    final String keyspace;
    final String tableDefinition;
    final String statementTemplate;
    final int keys;
    final boolean smallSendBuffer;

    Workload(String description, String keyspace, String tableDefinition, String statementTemplate, int keys,
             boolean smallSendBuffer) {
        this.description = description;
        this.keyspace = keyspace;
        this.tableDefinition = tableDefinition;
        this.statementTemplate = statementTemplate;
        this.keys = keys;
        this.smallSendBuffer = smallSendBuffer;
    }

    /** The statement every request executes, prepared once per connection. */
    String statement() {
        return String.format(statementTemplate, keyspace);
    }

    /** W1, W3: the bound text; W2 binds only the key. */
    String text() {
        return this == W3 ? ORIGIN_TEXT : KIB_TEXT;
    }

    boolean isRead() {
        return this == W2;
    }

    /** The key of the request numbered {@code sequence}. */
    int key(long sequence) {
        return (int) (sequence % keys);
    }
}
