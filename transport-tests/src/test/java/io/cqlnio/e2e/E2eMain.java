package io.cqlnio.e2e;

import io.cqlnio.bench.tls.TestCertificates;
import io.cqlnio.cassandra.CassandraNode;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * End to end on Cassandra 5.0 (issue 14): starts a node (C2 compiler on, TLS optional on its native port), creates
 * the workloads' tables, runs {@link E2eRun} with the {@code cqlnio.e2e.*} settings, writes every run as JSON under
 * {@code cqlnio.e2e.results/<yyyyMMdd-HHmm>-e2e/} and prints the markdown table to stdout. In the test sources
 * because it borrows transport-bench's {@link TestCertificates} (a test-scope dependency here) for the node's TLS.
 *
 * <pre>
 * mvn -B -q install -DskipTests          # once: builds the jars and writes the class path files
 * mvn -B -q -pl transport-tests exec:java@e2e
 * mvn -B -q -pl transport-tests exec:java@e2e -Dcqlnio.e2e.reps=1 -Dcqlnio.e2e.cells=W1/v4 -Dcqlnio.e2e.placements=unpinned
 * </pre>
 */
public final class E2eMain {

    /**
     * The node's JVM as the harness starts it, but with the C2 compiler: the harness's C1-only default keeps tests
     * quick and would make the node the bottleneck of every cell.
     */
    static final List<String> NODE_JVM_OPTIONS = List.of("-XX:TieredStopAtLevel=4");

    private E2eMain() {
    }

    public static void main(String[] args) throws Exception {
        E2eRun.Settings settings = E2eRun.Settings.fromSystemProperties();
        E2eRun.ClassPaths classPaths = E2eRun.ClassPaths.fromSystemProperties();
        Instant started = Instant.now();
        String stamp = DateTimeFormatter.ofPattern("yyyyMMdd-HHmm").withZone(ZoneOffset.UTC).format(started);
        Path out = Path.of(System.getProperty("cqlnio.e2e.results", "results")).resolve(stamp + "-e2e");
        Files.createDirectories(out);
        TestCertificates pki = TestCertificates.get();
        Map<String, String> about = new LinkedHashMap<>();
        about.put("started", started.toString());
        about.put("settings", settings.toString());
        about.put("loadAtStart", Double.toString(WindowMeter.loadAverage()));
        about.put("cpus", Integer.toString(Runtime.getRuntime().availableProcessors()));
        about.put("clientJvmFlags", String.join(" ", E2eRun.CLIENT_JVM_FLAGS));
        about.put("nodeJvmOptions", String.join(" ", NODE_JVM_OPTIONS));
        about.put("java", System.getProperty("java.version"));
        System.err.println("e2e: " + settings + "; results in " + out);
        List<Map<String, String>> runs;
        try (CassandraNode node = CassandraNode.fromSystemProperties("cassandra-e2e")
                .optionalClientTls(pki.serverKeystore(), TestCertificates.PASSWORD).jvmOptions(NODE_JVM_OPTIONS)) {
            node.start();
            Schema.create(node.nativeAddress());
            runs = new E2eRun(settings, classPaths, node.nativeAddress(), node.pid(), pki.truststore(),
                    TestCertificates.PASSWORD, out.resolve("logs")).runAll();
        }
        about.put("finished", Instant.now().toString());
        about.put("minutes", String.format(java.util.Locale.ROOT, "%.1f",
                Duration.between(started, Instant.now()).toSeconds() / 60.0));
        Files.writeString(out.resolve("runs.json"), Report.json(about, runs));
        String table = Report.markdown(runs);
        Files.writeString(out.resolve("table.md"), table);
        System.out.println(table);
        System.err.println("e2e: " + runs.size() + " runs in " + about.get("minutes") + " min; " + out);
    }
}
