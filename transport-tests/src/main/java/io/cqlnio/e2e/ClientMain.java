package io.cqlnio.e2e;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One client JVM of the end-to-end comparison, driven over stdin by {@link E2eMain}: it answers each {@link Cell}
 * line with one {@code E2E-RESULT key=value ...} line on stdout and exits on {@code quit} or end of input. Its
 * connection (or driver session) lives while consecutive cells share a variant and send buffer, so the JVM, the
 * connection and the prepared statement stay warm across a workload's concurrencies.
 *
 * <p>Arguments: {@code client node-host node-port node-pid truststore password}; {@code client} is
 * {@code cql-nio}, {@code cql-nio-queued} (nio with write-through off), {@code cql-netty} or {@code java-driver};
 * node-pid 0 measures no node CPU. Logs go to stderr.
 */
public final class ClientMain {

    static final String READY = "E2E-READY";
    static final String RESULT = "E2E-RESULT ";
    static final String ERROR = "E2E-ERROR ";
    static final String QUIT = "quit";

    private ClientMain() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 6) {
            throw new IllegalArgumentException("usage: ClientMain client host port node-pid truststore password");
        }
        String clientName = args[0];
        InetSocketAddress node = new InetSocketAddress(args[1], Integer.parseInt(args[2]));
        WindowMeter meter = new WindowMeter(Long.parseLong(args[3]));
        SSLContext tls = trusting(Path.of(args[4]), args[5]);
        Target target = target(clientName);
        // stdout carries only the protocol lines; everything else a library prints goes to stderr.
        PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true,
                StandardCharsets.UTF_8);
        System.setOut(System.err);
        out.println(READY);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        Client client = null;
        String clientKey = null;
        try {
            for (String line = in.readLine(); line != null && !line.trim().equals(QUIT); line = in.readLine()) {
                if (line.isBlank()) {
                    continue;
                }
                try {
                    Cell cell = Cell.parse(line);
                    String key = cell.variant().label + "/" + cell.workload().smallSendBuffer;
                    if (!key.equals(clientKey)) {
                        if (client != null) {
                            client.close();
                            client = null;
                        }
                        client = target.open(cell.variant(), cell.workload().smallSendBuffer, node, tls);
                        clientKey = key;
                    }
                    Issuer issuer = client.prepare(cell.workload());
                    Map<String, String> result = new LinkedHashMap<>();
                    result.put("client", clientName);
                    result.put("workload", cell.workload().name());
                    result.put("variant", cell.variant().label);
                    result.put("inFlight", Integer.toString(cell.inFlight()));
                    result.put("protocol", Integer.toString(client.protocolVersion()));
                    result.put("tlsProtocol", client.tlsProtocol());
                    result.putAll(new ClosedLoop(issuer, cell.workload(), cell.inFlight())
                            .run(cell.warmupMs(), cell.measureMs(), meter));
                    result.put("load1", String.format(java.util.Locale.ROOT, "%.2f", WindowMeter.loadAverage()));
                    out.println(RESULT + ResultLine.format(result));
                } catch (Exception e) {
                    e.printStackTrace();
                    out.println(ERROR + String.valueOf(e).replace('\n', ' '));
                    if (client != null) {
                        client.close();
                        client = null;
                        clientKey = null;
                    }
                }
            }
        } finally {
            if (client != null) {
                client.close();
            }
        }
        System.exit(0);   // the driver and the transports leave non-daemon threads to no one's benefit here
    }

    private static Target target(String clientName) throws ReflectiveOperationException {
        String className;
        String transport;
        switch (clientName) {
            case "cql-nio":
                className = "io.cqlnio.e2e.CqlTarget";
                transport = "nio";
                break;
            case "cql-nio-queued":
                className = "io.cqlnio.e2e.CqlTarget";
                transport = CqlTarget.NIO_QUEUED;
                break;
            case "cql-netty":
                className = "io.cqlnio.e2e.CqlTarget";
                transport = "netty-nio";
                break;
            case "java-driver":
                className = "io.cqlnio.e2e.DriverTarget";
                transport = "";
                break;
            default:
                throw new IllegalArgumentException("no client " + clientName);
        }
        return (Target) Class.forName(className).getDeclaredConstructor(String.class).newInstance(transport);
    }

    /** A TLS context trusting the PKCS12 truststore, with no key of its own (the node asks for none). */
    static SSLContext trusting(Path truststore, String password) throws Exception {
        if (!Files.isRegularFile(truststore)) {
            return null;
        }
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(truststore)) {
            ks.load(in, password.toCharArray());
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, tmf.getTrustManagers(), null);
        return context;
    }
}
