package io.cqlnio.cassandra;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.DataInputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * One real Cassandra node ({@code cassandra-all}, see {@code transport-tests/cassandra/pom.xml}) running in a
 * child JDK 17 JVM on 127.0.0.1, with its data, yaml, logback config and output file under one directory.
 *
 * <p>Why a child JVM: in-process Cassandra installs a SecurityManager, leaves non-daemon threads behind and
 * cannot restart in the same JVM; and Cassandra 5.0 does not start on JDK 25 ("Setting a system-wide Policy
 * object is not supported"), so the java executable is chosen explicitly (see {@link #javaExecutable()}).
 *
 * <p>Settings, all system properties: {@code cqlnio.cassandra.classpath} (file holding the node's class path,
 * written by the build), {@code cqlnio.cassandra.dir} (the node's directory, wiped on {@link #start()}),
 * {@code cqlnio.cassandra.java} (java executable of a JDK 11..17).
 *
 * <p>Durability ({@link #batchCommitlog}): by default the commit log syncs every 10 s ({@code periodic}), so a
 * kill -9 loses what was acknowledged since the last sync; with {@code commitlog_sync: batch} Cassandra
 * acknowledges a write only after its commit log segment was fsynced, so an acknowledged write survives a kill.
 *
 * <p>Faults: {@link #kill9()} and {@link #restart()}; {@link #suspend()} and {@link #resume()} (SIGSTOP and
 * SIGCONT: a node that hangs with its sockets open); {@link #nodetool} (with {@link #localJmx()}), e.g.
 * {@code disablebinary}.
 *
 * <p>Client TLS ({@link #optionalClientTls}): the native port then accepts TLS and plaintext alike. Cassandra's
 * {@code client_encryption_options} with {@code optional: true} looks at a connection's first bytes and adds its
 * TLS handler only when they are a TLS record, so one node serves the TLS tests and every plaintext test on one
 * port, and the readiness probe below stays plaintext.
 *
 * <p>A node never outlives the JVM that started it: {@link #stop()}, a shutdown hook, and for a parent killed
 * with SIGKILL the child's {@link ParentWatchdog}.
 *
 * <p>Threads: not thread-safe; one owner starts, kills and stops it.
 *
 * <pre>{@code
 * try (CassandraNode node = CassandraNode.fromSystemProperties("demo")) {
 *     node.start();                                  // fresh data; returns once OPTIONS is answered
 *     InetSocketAddress cql = node.nativeAddress();   // plaintext, or TLS too if optionalClientTls was set
 *     node.kill9AndRestart();                        // same data, same ports
 * }                                                  // stops the node
 * }</pre>
 */
public final class CassandraNode implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(CassandraNode.class);

    /** How long a start may take before it fails with the node's log tail; 2-5 s is usual here. */
    public static final Duration START_TIMEOUT = Duration.ofSeconds(120);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(30);
    private static final String JDK17 = "/usr/lib/jvm/java-17-openjdk-amd64/bin/java";
    private static final String HOST = "127.0.0.1";
    private static final int LOG_TAIL_LINES = 60;
    /** Where {@link #start()} copies the client TLS keystore, inside the node's directory. */
    private static final String KEYSTORE_FILE = "client-keystore.p12";

    // Cassandra's conf/jvm17-server.options module flags, in the --flag=value form (one argv entry each).
    private static final List<String> MODULE_FLAGS = List.of(
            "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
            "--add-exports=java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED",
            "--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED",
            "--add-exports=java.rmi/sun.rmi.server=ALL-UNNAMED",
            "--add-exports=java.sql/java.sql=ALL-UNNAMED",
            "--add-exports=java.base/java.lang.ref=ALL-UNNAMED",
            "--add-exports=jdk.unsupported/sun.misc=ALL-UNNAMED",
            "--add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
            "--add-exports=jdk.attach/sun.tools.attach=ALL-UNNAMED",
            "--add-opens=java.base/java.lang.module=ALL-UNNAMED",
            "--add-opens=java.base/jdk.internal.loader=ALL-UNNAMED",
            "--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED",
            "--add-opens=java.base/jdk.internal.reflect=ALL-UNNAMED",
            "--add-opens=java.base/jdk.internal.math=ALL-UNNAMED",
            "--add-opens=java.base/jdk.internal.module=ALL-UNNAMED",
            "--add-opens=java.base/jdk.internal.util.jar=ALL-UNNAMED",
            "--add-opens=jdk.management/com.sun.management.internal=ALL-UNNAMED",
            "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
            "--add-opens=java.base/java.io=ALL-UNNAMED",
            "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
            "--add-opens=jdk.compiler/com.sun.tools.javac=ALL-UNNAMED",
            "--add-opens=java.base/java.lang=ALL-UNNAMED",
            "--add-opens=java.base/java.util=ALL-UNNAMED");

    private final Path dir;
    private final String classpath;
    private final String java;
    private Path clientKeystore;
    private String clientKeystorePassword;
    private List<String> extraJvmOptions = List.of();
    private boolean batchCommitlog;
    private boolean localJmx;
    private int nativePort;
    private int storagePort;
    private int jmxPort;
    private boolean suspended;
    private Process process;
    private Thread shutdownHook;

    /** Package-private for tests; use {@link #fromSystemProperties}. */
    CassandraNode(Path dir, String classpath, String java) {
        this.dir = dir.toAbsolutePath();
        this.classpath = classpath;
        this.java = java;
    }

    /**
     * A node configured from the {@code cqlnio.cassandra.*} system properties (see the class comment).
     *
     * @param name sub-directory used when {@code cqlnio.cassandra.dir} is not set ({@code target/<name>})
     * @throws IllegalStateException when the class path file is missing, with the command that writes it
     */
    public static CassandraNode fromSystemProperties(String name) {
        Path cpFile = Paths.get(System.getProperty("cqlnio.cassandra.classpath", "target/cassandra.classpath"));
        if (!Files.isRegularFile(cpFile)) {
            throw new IllegalStateException("Cassandra class path file " + cpFile.toAbsolutePath() + " is missing;"
                    + " it is written by the transport-tests build (mvn -pl transport-tests generate-resources)");
        }
        String cp;
        try {
            cp = Files.readString(cpFile).trim();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + cpFile, e);
        }
        if (!cp.contains("cassandra-all")) {
            throw new IllegalStateException(cpFile + " does not list cassandra-all: " + cp);
        }
        Path dir = Paths.get(System.getProperty("cqlnio.cassandra.dir", "target/" + name));
        return new CassandraNode(dir, cp, javaExecutable());
    }

    /**
     * Like {@link #fromSystemProperties}, but in a directory of its own: {@code <name>} beside
     * {@code cqlnio.cassandra.dir} (or {@code target/<name>}), for a test that needs a node configured differently
     * from, or running beside, the shared one.
     *
     * @param name the node's directory name, e.g. {@code cassandra-faults}
     */
    public static CassandraNode ownNode(String name) {
        CassandraNode shared = fromSystemProperties(name);
        Path sharedDir = Paths.get(System.getProperty("cqlnio.cassandra.dir", "target/" + name));
        Path parent = sharedDir.toAbsolutePath().getParent();
        return new CassandraNode(parent.resolve(name), shared.classpath, shared.java);
    }

    /**
     * The java that runs the node: {@code cqlnio.cassandra.java} if set, else Debian's JDK 17 if present, else
     * this JVM's own java when it is 11..17 (Cassandra 5.0 supports those), else a clear failure.
     */
    static String javaExecutable() {
        String configured = System.getProperty("cqlnio.cassandra.java");
        if (configured != null && !configured.isBlank()) {
            return configured;
        }
        if (Files.isExecutable(Paths.get(JDK17))) {
            return JDK17;
        }
        int feature = Runtime.version().feature();
        if (feature >= 11 && feature <= 17) {
            return Paths.get(System.getProperty("java.home"), "bin", "java").toString();
        }
        throw new IllegalStateException("Cassandra 5.0 needs a JDK 11..17 and this JVM is " + feature
                + "; set -Dcqlnio.cassandra.java=/path/to/jdk17/bin/java");
    }

    /**
     * Makes the native port accept TLS as well as plaintext from the next {@link #start()} on
     * ({@code client_encryption_options: {enabled: true, optional: true, store_type: PKCS12}}). No client
     * certificate is asked for. The keystore is copied into the node's directory at start, so the node does not
     * depend on the caller's file afterwards.
     *
     * @param pkcs12Keystore a PKCS12 keystore holding the server's key and certificate (one key entry)
     * @param password       the keystore's password, also the key's
     * @return this node
     * @throws IllegalStateException    when the node runs
     * @throws IllegalArgumentException when {@code pkcs12Keystore} is not a file
     */
    public CassandraNode optionalClientTls(Path pkcs12Keystore, String password) {
        if (isRunning()) {
            throw new IllegalStateException("set client TLS before start(); node runs as pid " + process.pid());
        }
        if (!Files.isRegularFile(pkcs12Keystore)) {
            throw new IllegalArgumentException("keystore " + pkcs12Keystore.toAbsolutePath() + " is not a file");
        }
        this.clientKeystore = pkcs12Keystore.toAbsolutePath();
        this.clientKeystorePassword = Objects.requireNonNull(password, "password");
        return this;
    }

    /**
     * JVM options appended after the harness's own from the next start on; HotSpot takes the last of repeated
     * {@code -XX} options, so e.g. {@code -XX:TieredStopAtLevel=4} gives a benchmark node the C2 compiler back.
     *
     * @return this node
     * @throws IllegalStateException when the node runs
     */
    public CassandraNode jvmOptions(List<String> options) {
        if (isRunning()) {
            throw new IllegalStateException("set JVM options before start(); node runs as pid " + process.pid());
        }
        this.extraJvmOptions = List.copyOf(options);
        return this;
    }

    /**
     * {@code commitlog_sync: batch} from the next {@link #start()} on: a write is acknowledged only once the commit
     * log holds it on disk (Cassandra 5.0 fsyncs at once in batch mode; {@code commitlog_sync_period} must then
     * be absent, and the old batch window setting is ignored), so a kill -9 loses no acknowledged write.
     *
     * @return this node
     * @throws IllegalStateException when the node runs
     */
    public CassandraNode batchCommitlog() {
        if (isRunning()) {
            throw new IllegalStateException("set the commit log mode before start(); node runs as pid "
                    + process.pid());
        }
        this.batchCommitlog = true;
        return this;
    }

    /**
     * Opens the node's JMX on 127.0.0.1 only, on a free port chosen at the next {@link #start()} and kept across
     * restarts ({@code -Dcassandra.jmx.local.port}, what {@code cassandra-env.sh} sets by default; no
     * authentication, loopback only). Needed by {@link #nodetool}.
     *
     * @return this node
     * @throws IllegalStateException when the node runs
     */
    public CassandraNode localJmx() {
        if (isRunning()) {
            throw new IllegalStateException("enable JMX before start(); node runs as pid " + process.pid());
        }
        this.localJmx = true;
        return this;
    }

    /**
     * Runs {@code nodetool -h 127.0.0.1 -p <jmx port> args...} ({@code org.apache.cassandra.tools.NodeTool} in a
     * child JVM on the node's class path) and waits for it, at most {@code timeout}.
     *
     * @param timeout how long the tool may take (a JVM start with Cassandra's class path: 1-3 s here)
     * @param args    the command and its options, e.g. {@code "disablebinary"}
     * @return the tool's output (stdout and stderr)
     * @throws IllegalStateException when JMX is off ({@link #localJmx()}), the node does not run, or the tool
     *                               fails or overruns; the message holds its output
     */
    public String nodetool(Duration timeout, String... args) {
        if (!localJmx || !isRunning()) {
            throw new IllegalStateException("nodetool needs a running node with localJmx(): jmx " + localJmx
                    + ", running " + isRunning());
        }
        List<String> command = new ArrayList<>(List.of(java, "-Xmx128m", "-XX:TieredStopAtLevel=1",
                "-XX:+UseSerialGC"));
        command.addAll(MODULE_FLAGS);
        command.addAll(List.of("-cp", classpath, "org.apache.cassandra.tools.NodeTool",
                "-h", HOST, "-p", Integer.toString(jmxPort)));
        command.addAll(List.of(args));
        Path out = dir.resolve("nodetool.log");
        long started = System.nanoTime();
        try {
            Process tool = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                    .redirectOutput(out.toFile()).start();
            if (!tool.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                tool.destroyForcibly();
                throw new IllegalStateException("nodetool " + String.join(" ", args) + " did not end within "
                        + timeout + ": " + Files.readString(out));
            }
            String output = Files.readString(out);
            if (tool.exitValue() != 0) {
                throw new IllegalStateException("nodetool " + String.join(" ", args) + " exited with "
                        + tool.exitValue() + ": " + output);
            }
            LOG.info("nodetool {} took {} ms", String.join(" ", args),
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
            return output;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run nodetool", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while nodetool ran", e);
        }
    }

    /**
     * SIGSTOP: the node freezes with every socket open, so clients see silence, not a close (a GC pause or a
     * hung host, as a client sees it). The kernel still accepts connections and buffers what clients send.
     *
     * @throws IllegalStateException when the node does not run or {@code kill} fails
     */
    public void suspend() {
        signal("STOP");
        suspended = true;
        LOG.info("Cassandra pid {} suspended (SIGSTOP)", process.pid());
    }

    /** SIGCONT after {@link #suspend()}: the node reads and answers what was buffered meanwhile. */
    public void resume() {
        signal("CONT");
        suspended = false;
        LOG.info("Cassandra pid {} resumed (SIGCONT)", process.pid());
    }

    /** {@code true} between {@link #suspend()} and {@link #resume()}. */
    public boolean isSuspended() {
        return suspended;
    }

    /** {@code kill -<name> <pid>}: the JDK's ProcessHandle can only send TERM and KILL. */
    private void signal(String name) {
        if (!isRunning()) {
            throw new IllegalStateException("cannot send SIG" + name + ": node not running");
        }
        try {
            Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(process.pid()))
                    .redirectErrorStream(true).start();
            if (!kill.waitFor(10, TimeUnit.SECONDS) || kill.exitValue() != 0) {
                kill.destroyForcibly();
                throw new IllegalStateException("kill -" + name + " " + process.pid() + " failed: "
                        + new String(kill.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run kill -" + name, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while sending SIG" + name, e);
        }
    }

    /**
     * The node's process id (the child JVM itself, so {@code /proc/<pid>/stat} holds the node's CPU time).
     *
     * @throws IllegalStateException before the first start
     */
    public long pid() {
        if (process == null) {
            throw new IllegalStateException("node not started");
        }
        return process.pid();
    }

    /** {@code true} when the native port accepts TLS (see {@link #optionalClientTls}). */
    public boolean clientTls() {
        return clientKeystore != null;
    }

    /**
     * Starts a node on fresh data (the directory is wiped) and free ports; returns once it answers OPTIONS
     * with SUPPORTED on its native port.
     *
     * @throws IllegalStateException when the node exits or is not ready within {@link #START_TIMEOUT};
     *                               the message holds the tail of its output
     */
    public void start() {
        if (process != null && process.isAlive()) {
            throw new IllegalStateException("node already running, pid " + process.pid());
        }
        deleteRecursively(dir);
        try {
            Files.createDirectories(dir.resolve("data"));
            if (clientKeystore != null) {
                Files.copy(clientKeystore, dir.resolve(KEYSTORE_FILE));
            }
            nativePort = freePort();
            storagePort = freePort();
            jmxPort = localJmx ? freePort() : 0;
            Files.writeString(dir.resolve("cassandra.yaml"), yaml());
            Files.writeString(dir.resolve("logback.xml"), LOGBACK);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare " + dir, e);
        }
        launch();
    }

    /**
     * Kills the node with SIGKILL (no shutdown hooks, no flush: what a crash looks like to a client) and waits
     * for the process to end. The data directory is kept for {@link #restart()}.
     */
    public void kill9() {
        if (process == null) {
            return;
        }
        process.destroyForcibly();   // SIGKILL on Linux; ends a suspended process too
        awaitExit(process, STOP_TIMEOUT);
        suspended = false;
        LOG.info("Cassandra pid {} killed", process.pid());
    }

    /** Starts the node again on the data and ports it had; returns once it is ready. */
    public void restart() {
        if (process != null && process.isAlive()) {
            throw new IllegalStateException("node still running, pid " + process.pid());
        }
        launch();
    }

    /** Stops the node gracefully (SIGTERM), force-killing it if it has not exited within 30 s. Idempotent. */
    public void stop() {
        Process p = process;
        if (p != null && p.isAlive()) {
            if (suspended) {
                resume();   // a stopped process would hold SIGTERM until continued
            }
            p.destroy();
            try {
                if (!p.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                    LOG.warn("Cassandra pid {} ignored SIGTERM for {}; killing it", p.pid(), STOP_TIMEOUT);
                    p.destroyForcibly();
                    awaitExit(p, STOP_TIMEOUT);
                }
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
            }
            LOG.info("Cassandra pid {} stopped", p.pid());
        }
        if (shutdownHook != null) {
            try {
                Runtime.getRuntime().removeShutdownHook(shutdownHook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running or about to: it does the same thing
            }
            shutdownHook = null;
        }
    }

    @Override
    public void close() {
        stop();
    }

    /** The CQL native transport address, valid after {@link #start()}. */
    public InetSocketAddress nativeAddress() {
        return new InetSocketAddress(HOST, nativePort);
    }

    /** The node's stdout and stderr (Cassandra logs to the console with our logback.xml). */
    public Path logFile() {
        return dir.resolve("output.log");
    }

    /** {@code true} while the child process runs. */
    public boolean isRunning() {
        return process != null && process.isAlive();
    }

    /** The last {@code lines} lines of the node's output, for failure messages. */
    public String logTail(int lines) {
        try {
            List<String> all = Files.readAllLines(logFile(), StandardCharsets.UTF_8);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "(no output: " + e + ")";
        }
    }

    private void launch() {
        List<String> command = new ArrayList<>();
        command.add(java);
        // Small initial heap: as root, JNA's mlockall pins the whole initial heap. SerialGC and C1 only keep
        // RSS near 400 MB and start-up short on a shared 2-core machine.
        command.addAll(List.of("-Xms64m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-Xss256k", "-XX:+ExitOnOutOfMemoryError"));
        if (localJmx) {
            // CassandraDaemon starts a loopback-only JMX connector server on this port (cassandra-env.sh's default).
            command.add("-Dcassandra.jmx.local.port=" + jmxPort);
        }
        command.addAll(extraJvmOptions);
        command.addAll(MODULE_FLAGS);
        command.addAll(List.of(
                "-Djdk.attach.allowAttachSelf=true",
                "-Djava.net.preferIPv4Stack=true",
                "-Dio.netty.tryReflectionSetAccessible=true",
                "-Dcassandra.config=" + dir.resolve("cassandra.yaml").toUri(),
                "-Dcassandra.storagedir=" + dir.resolve("data"),
                "-Dcassandra-foreground=true",
                "-Dlogback.configurationFile=" + dir.resolve("logback.xml").toUri(),
                // A single node has no one to gossip with: do not wait for gossip to settle.
                "-Dcassandra.skip_wait_for_gossip_to_settle=0",
                "-Dcassandra.ring_delay_ms=0",
                "-cp", watchdogClasspath() + File.pathSeparator + classpath,
                // ParentWatchdog starts CassandraDaemon and halts the node if this JVM dies without stopping it.
                ParentWatchdog.class.getName(), "org.apache.cassandra.service.CassandraDaemon"));
        ProcessBuilder builder = new ProcessBuilder(command)
                .directory(dir.toFile())
                .redirectInput(ProcessBuilder.Redirect.PIPE)   // kept open and silent: see ParentWatchdog
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile().toFile()));
        long started = System.nanoTime();
        try {
            process = builder.start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + java, e);
        }
        if (shutdownHook == null) {
            // Backstop for a test run that dies without stopping the node: never leave a 400 MB orphan.
            Process p = process;
            shutdownHook = new Thread(() -> {
                Process current = this.process;
                if (current != null) {
                    current.destroyForcibly();
                }
                p.destroyForcibly();
            }, "cassandra-node-reaper");
            Runtime.getRuntime().addShutdownHook(shutdownHook);
        }
        LOG.info("Cassandra pid {} starting: native port {}, storage port {}, dir {}", process.pid(), nativePort,
                storagePort, dir);
        awaitReady(START_TIMEOUT);
        LOG.info("Cassandra pid {} ready in {} ms", process.pid(),
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
    }

    /** Polls the native port until OPTIONS is answered with SUPPORTED, failing fast if the process exits. */
    private void awaitReady(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        String lastProblem = "not tried";
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("Cassandra exited with status " + process.exitValue()
                        + " before it was ready; last lines of " + logFile() + ":\n" + logTail(LOG_TAIL_LINES));
            }
            try {
                if (answersOptions()) {
                    return;
                }
                lastProblem = "answered OPTIONS with something other than SUPPORTED";
            } catch (IOException notYet) {
                lastProblem = notYet.toString();
            }
            try {
                // A poll interval, not a guess: the loop ends on readiness, exit or the deadline.
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for Cassandra", e);
            }
        }
        process.destroyForcibly();
        throw new IllegalStateException("Cassandra not ready within " + timeout + " (" + lastProblem
                + "); last lines of " + logFile() + ":\n" + logTail(LOG_TAIL_LINES));
    }

    /**
     * One blocking OPTIONS exchange on a plain socket. Deliberately independent of the transports under test:
     * the harness must not depend on the code it tests.
     */
    private boolean answersOptions() throws IOException {
        try (Socket socket = new Socket()) {
            socket.connect(nativeAddress(), 1000);
            socket.setSoTimeout(2000);
            OutputStream out = socket.getOutputStream();
            // v4 request header: version 0x04, flags 0, stream 0, opcode OPTIONS (0x05), body length 0
            out.write(new byte[] {0x04, 0, 0, 0, 0x05, 0, 0, 0, 0});
            out.flush();
            InputStream in = socket.getInputStream();
            byte[] header = new byte[9];
            new DataInputStream(in).readFully(header);
            return (header[0] & 0xff) == 0x84 && header[4] == 0x06;
        }
    }

    private String yaml() {
        // The minimum Cassandra 5.0 accepts; everything else keeps its default. storagedir places the data.
        return String.join("\n",
                "cluster_name: cqlnio-test",
                "num_tokens: 1",
                "listen_address: " + HOST,
                "rpc_address: " + HOST,
                "storage_port: " + storagePort,
                "native_transport_port: " + nativePort,
                "start_native_transport: true",
                batchCommitlog ? "commitlog_sync: batch" : "commitlog_sync: periodic",
                batchCommitlog ? "" : "commitlog_sync_period: 10000ms",
                "partitioner: org.apache.cassandra.dht.Murmur3Partitioner",
                "endpoint_snitch: SimpleSnitch",
                "seed_provider:",
                "  - class_name: org.apache.cassandra.locator.SimpleSeedProvider",
                "    parameters:",
                "      - seeds: \"" + HOST + ":" + storagePort + "\"",
                clientEncryptionYaml());
    }

    /**
     * Cassandra 5.0's {@code client_encryption_options}: TLS optional on the native port (plaintext keeps working),
     * no client certificate, so no truststore is needed.
     */
    private String clientEncryptionYaml() {
        if (clientKeystore == null) {
            return "";
        }
        return String.join("\n",
                "client_encryption_options:",
                "  enabled: true",
                "  optional: true",
                "  keystore: " + yamlQuoted(dir.resolve(KEYSTORE_FILE).toString()),
                "  keystore_password: " + yamlQuoted(clientKeystorePassword),
                "  store_type: PKCS12",
                "  require_client_auth: false",
                "");
    }

    /** A YAML single-quoted scalar: nothing is special inside it except the quote, which doubles. */
    private static String yamlQuoted(String value) {
        return "'" + value.replace("'", "''") + "'";
    }

    private static final String LOGBACK = String.join("\n",
            "<configuration>",
            "  <appender name=\"STDOUT\" class=\"ch.qos.logback.core.ConsoleAppender\">",
            "    <encoder><pattern>%d{HH:mm:ss.SSS} %-5level [%thread] %logger{20} - %msg%n</pattern></encoder>",
            "  </appender>",
            "  <root level=\"INFO\"><appender-ref ref=\"STDOUT\"/></root>",
            "</configuration>",
            "");

    /** Where {@link ParentWatchdog} is loaded from (target/classes or the transport-tests jar). */
    private static String watchdogClasspath() {
        try {
            return Paths.get(ParentWatchdog.class.getProtectionDomain().getCodeSource().getLocation().toURI())
                    .toString();
        } catch (URISyntaxException | RuntimeException e) {
            throw new IllegalStateException("cannot locate ParentWatchdog's class path entry", e);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName(HOST))) {
            return socket.getLocalPort();
        }
    }

    private static void awaitExit(Process p, Duration timeout) {
        try {
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new IllegalStateException("Cassandra pid " + p.pid() + " still alive " + timeout + " after kill");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for Cassandra to exit", e);
        }
    }

    private static void deleteRecursively(Path path) {
        if (!Files.exists(path)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(path)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.delete(p);
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot delete " + p, e);
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete " + path, e);
        }
    }
}
