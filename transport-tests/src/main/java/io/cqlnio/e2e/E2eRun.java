package io.cqlnio.e2e;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The end-to-end comparison against one running node: for each repetition and each placement (pinned, unpinned),
 * it starts one JVM per client, then runs every cell on every client, clients interleaved cell by cell (the order
 * rotating) so that the machine's load falls on all of them alike. A new client JVM first runs W1 v4 at 16 in
 * flight for {@link Settings#jvmWarmupMs} (the JIT's share); before a workload's first cell each client warms that
 * connection up for {@link Settings#groupWarmupMs}; each cell then warms for {@link Settings#warmupMs} and measures
 * {@link Settings#measureMs}. Warm-up results are discarded.
 *
 * <p>Pinned: the client JVM runs under {@code taskset -c 0} and every thread of the node is moved to CPU 1
 * ({@code taskset -a -p}); unpinned: both may run anywhere. Threads: one caller.
 */
final class E2eRun {

    private static final Logger LOG = LoggerFactory.getLogger(E2eRun.class);

    static final List<String> CLIENTS = List.of("cql-nio", "cql-netty", "java-driver");

    /** The same for every client JVM: a fixed heap, and the flags that let Netty (4.1 and 4.2) use its fastest
     *  direct buffers on JDK 17, as transport-bench's forks have them. */
    static final List<String> CLIENT_JVM_FLAGS = List.of("-Xms512m", "-Xmx512m",
            "--add-opens=java.base/java.nio=ALL-UNNAMED", "--add-opens=java.base/jdk.internal.misc=ALL-UNNAMED",
            "-Dio.netty.tryReflectionSetAccessible=true", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
            "-Dorg.slf4j.simpleLogger.logFile=System.err");

    /**
     * What to run.
     *
     * @param cells         workload/variant pairs in order, e.g. {@code W1/v4}
     * @param inFlight      the concurrencies of each pair
     * @param clients       the client names
     * @param reps          repetitions of the whole set
     * @param placements    {@code pinned} and/or {@code unpinned}
     * @param jvmWarmupMs   warm-up of each new client JVM (W1 v4, 16 in flight), 0 for none
     * @param groupWarmupMs warm-up of each client's connection before a pair's first cell
     * @param warmupMs      warm-up of each cell
     * @param measureMs     measured window of each cell
     * @param jfr           directory for one JFR recording per client JVM, or null for none
     */
    record Settings(List<String> cells, List<Integer> inFlight, List<String> clients, int reps,
                    List<String> placements, long jvmWarmupMs, long groupWarmupMs, long warmupMs, long measureMs, Path jfr) {

        /** From {@code cqlnio.e2e.*} system properties; the defaults are the full comparison of issue 14. */
        static Settings fromSystemProperties() {
            String jfr = System.getProperty("cqlnio.e2e.jfr");
            return new Settings(list("cqlnio.e2e.cells", "W1/v4,W1/v5,W1/tls,W2/v4,W3/v4"),
                    list("cqlnio.e2e.inFlight", "1,16,128").stream().map(Integer::valueOf).toList(),
                    list("cqlnio.e2e.clients", String.join(",", CLIENTS)),
                    Integer.getInteger("cqlnio.e2e.reps", 3),
                    list("cqlnio.e2e.placements", "pinned,unpinned"), Long.getLong("cqlnio.e2e.jvmWarmupMs", 4000),
                    Long.getLong("cqlnio.e2e.groupWarmupMs", 1500), Long.getLong("cqlnio.e2e.warmupMs", 1000),
                    Long.getLong("cqlnio.e2e.measureMs", 3000), jfr == null ? null : Path.of(jfr));
        }

        private static List<String> list(String property, String defaults) {
            return Arrays.stream(System.getProperty(property, defaults).split(",")).map(String::trim)
                    .filter(s -> !s.isEmpty()).toList();
        }
    }

    /** Where the client JVMs' classes come from (written by the transport-tests build). */
    record ClassPaths(String classes, String transport, String driver) {
        static ClassPaths fromSystemProperties() {
            return new ClassPaths(required("cqlnio.e2e.classes"), read(required("cqlnio.e2e.transportClasspath")),
                    read(required("cqlnio.e2e.driverClasspath")));
        }

        String of(String client) {
            return classes + File.pathSeparator + (client.equals("java-driver") ? driver : transport);
        }

        private static String required(String property) {
            String v = System.getProperty(property);
            if (v == null || v.isBlank()) {
                throw new IllegalStateException("system property " + property + " is not set: run through "
                        + "transport-tests' pom (exec:java@e2e, or failsafe)");
            }
            return v;
        }

        private static String read(String file) {
            try {
                return Files.readString(Path.of(file)).trim();
            } catch (IOException e) {
                throw new UncheckedIOException(file + " is missing; the transport-tests build writes it"
                        + " (mvn -B -q install -DskipTests)", e);
            }
        }
    }

    private final Settings settings;
    private final ClassPaths classPaths;
    private final InetSocketAddress node;
    private final long nodePid;
    private final Path truststore;
    private final String truststorePassword;
    private final Path logs;

    E2eRun(Settings settings, ClassPaths classPaths, InetSocketAddress node, long nodePid, Path truststore,
           String truststorePassword, Path logs) {
        this.settings = settings;
        this.classPaths = classPaths;
        this.node = node;
        this.nodePid = nodePid;
        this.truststore = truststore;
        this.truststorePassword = truststorePassword;
        this.logs = logs;
    }

    /** Every repetition and placement; one result map per client and cell. */
    List<Map<String, String>> runAll() throws IOException, InterruptedException {
        Files.createDirectories(logs);
        List<Map<String, String>> results = new ArrayList<>();
        for (int rep = 1; rep <= settings.reps(); rep++) {
            for (String placement : settings.placements()) {
                results.addAll(runPhase(rep, placement));
            }
        }
        return results;
    }

    private List<Map<String, String>> runPhase(int rep, String placement) throws IOException, InterruptedException {
        boolean pinned = placement.equals("pinned");
        if (!pinned && !placement.equals("unpinned")) {
            throw new IllegalArgumentException("placement " + placement + " is neither pinned nor unpinned");
        }
        placeNode(pinned);
        List<ClientProcess> processes = new ArrayList<>();
        List<Map<String, String>> results = new ArrayList<>();
        try {
            for (String client : settings.clients()) {
                processes.add(new ClientProcess(client, command(client, pinned, rep),
                        logs.resolve(client + "-rep" + rep + "-" + placement + ".log")));
            }
            if (settings.jvmWarmupMs() > 0) {
                for (ClientProcess p : processes) {
                    p.run(new Cell(Workload.W1, Variant.V4, 16, settings.jvmWarmupMs(), 200));   // discarded
                }
            }
            int index = 0;
            for (String pair : settings.cells()) {
                String[] wv = pair.split("/");
                Workload workload = Workload.valueOf(wv[0]);
                Variant variant = Variant.of(wv[1]);
                List<ClientProcess> able = processes.stream().filter(p -> supports(p.client, variant)).toList();
                if (settings.groupWarmupMs() > 0) {
                    for (ClientProcess p : able) {
                        p.run(new Cell(workload, variant, 16, settings.groupWarmupMs(), 200));   // discarded
                    }
                }
                for (int inFlight : settings.inFlight()) {
                    Cell cell = new Cell(workload, variant, inFlight, settings.warmupMs(), settings.measureMs());
                    for (int i = 0; i < able.size(); i++) {
                        ClientProcess p = able.get((i + index) % able.size());
                        Map<String, String> r = new LinkedHashMap<>();
                        r.put("rep", Integer.toString(rep));
                        r.put("placement", placement);
                        r.put("order", Integer.toString(i));
                        r.put("at", Instant.now().toString());
                        r.putAll(p.run(cell));
                        try {
                            check(r, variant);
                        } catch (IllegalStateException invalid) {
                            // Kept in the JSON, left out of the table; the run goes on with the other cells.
                            LOG.warn("invalid result, left out of the table: {}", invalid.getMessage());
                            r.put("invalid", invalid.getMessage().replaceAll("[\\s=]+", "_"));
                        }
                        LOG.info("{} {} rep {} {}: {} req/s, p50 {} us, {} us CPU/req", placement, cell.label(), rep,
                                p.client, r.get("rps"), r.get("p50Us"), r.get("cpuUsPerReq"));
                        results.add(r);
                    }
                    index++;
                }
            }
        } finally {
            for (ClientProcess p : processes) {
                p.close();
            }
        }
        return results;
    }

    /** The Netty baseline has no v5 segments (it refuses {@code switchFraming}). */
    static boolean supports(String client, Variant variant) {
        return !(client.equals("cql-netty") && variant == Variant.V5);
    }

    private static void check(Map<String, String> r, Variant variant) {
        long issued = Long.parseLong(r.get("issued"));
        long ended = Long.parseLong(r.get("succeeded")) + Long.parseLong(r.get("failed"));
        if (issued != ended || Integer.parseInt(r.get("mostOutstanding")) > Integer.parseInt(r.get("inFlight"))) {
            throw new IllegalStateException(r.get("client") + ": the closed loop broke its bound (issued " + issued
                    + ", ended " + ended + "): " + r);
        }
        if (Integer.parseInt(r.get("protocol")) != variant.protocolVersion) {
            throw new IllegalStateException(r.get("client") + " talked protocol v" + r.get("protocol")
                    + " where the cell asked for v" + variant.protocolVersion + ": " + r);
        }
        if (variant.tls == "none".equals(r.get("tlsProtocol"))) {
            throw new IllegalStateException(r.get("client") + ": TLS is " + r.get("tlsProtocol") + " in " + r);
        }
    }

    private List<String> command(String client, boolean pinned, int rep) {
        List<String> command = new ArrayList<>();
        if (pinned) {
            command.addAll(List.of("taskset", "-c", "0"));
        }
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(CLIENT_JVM_FLAGS);
        if (settings.jfr() != null) {
            command.add("-XX:StartFlightRecording=settings=profile,dumponexit=true,filename="
                    + settings.jfr().resolve(client + "-rep" + rep + (pinned ? "-pinned" : "-unpinned") + ".jfr"));
        }
        command.addAll(List.of("-cp", classPaths.of(client), ClientMain.class.getName(), client,
                node.getHostString(), Integer.toString(node.getPort()), Long.toString(nodePid),
                truststore == null ? "-" : truststore.toString(), truststorePassword == null ? "-" : truststorePassword));
        return command;
    }

    /** Pinned: every thread of the node onto CPU 1; unpinned: onto every CPU. No node pid: nothing to do. */
    private void placeNode(boolean pinned) throws IOException, InterruptedException {
        if (nodePid <= 0) {
            return;
        }
        int cpus = Runtime.getRuntime().availableProcessors();
        if (pinned && cpus < 2) {
            throw new IllegalStateException("pinning needs 2 CPUs, this machine has " + cpus);
        }
        String mask = pinned ? "1" : "0-" + (cpus - 1);
        Process p = new ProcessBuilder("taskset", "-a", "-p", "-c", mask, Long.toString(nodePid))
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException("taskset -a -p -c " + mask + " " + nodePid + " failed");
        }
    }
}
